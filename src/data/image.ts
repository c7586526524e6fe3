import * as jpeg from 'jpeg-js';
import { PNG } from 'pngjs';
import { DataError } from '../util/errors';

/** Decoding and resizing of single images (Flowers-102, image folders), in plain JS. */

export interface RgbImage {
  width: number;
  height: number;
  /** HWC RGB. */
  data: Uint8Array;
}

function rgbaToRgb(rgba: Uint8Array, width: number, height: number): RgbImage {
  const data = new Uint8Array(width * height * 3);
  for (let i = 0, j = 0; i < data.length; i += 3, j += 4) {
    data[i] = rgba[j];
    data[i + 1] = rgba[j + 1];
    data[i + 2] = rgba[j + 2];
  }
  return { width, height, data };
}

/** JPEG (jpeg-js) or PNG (pngjs), told apart by their signatures; alpha is dropped. */
export function decodeImage(buf: Buffer, file: string): RgbImage {
  try {
    if (buf[0] === 0xff && buf[1] === 0xd8) {
      const img = jpeg.decode(buf, { useTArray: true, formatAsRGBA: true, maxMemoryUsageInMB: 1024 });
      return rgbaToRgb(img.data, img.width, img.height);
    }
    if (buf.subarray(1, 4).toString('latin1') === 'PNG') {
      const img = PNG.sync.read(buf);
      return rgbaToRgb(img.data, img.width, img.height);
    }
  } catch (e) {
    throw new DataError(`image ${file} could not be decoded: ${(e as Error).message}`);
  }
  throw new DataError(`image ${file} is neither JPEG nor PNG (first bytes ${buf.subarray(0, 4).toString('hex')})`);
}

/**
 * Centre-crop to a square and resample to size×size: area averaging when shrinking (each output pixel is the
 * coverage-weighted mean of the input pixels under it, so large photos do not alias), bilinear with half-pixel
 * centres when enlarging.
 */
export function resizeToSquare(img: RgbImage, size: number): Uint8Array {
  const side = Math.min(img.width, img.height);
  const x0 = Math.floor((img.width - side) / 2);
  const y0 = Math.floor((img.height - side) / 2);
  const out = new Uint8Array(size * size * 3);
  const at = (y: number, x: number, c: number) => img.data[((y0 + y) * img.width + x0 + x) * 3 + c];
  if (side >= size) {
    const s = side / size;
    const acc = new Float64Array(3);
    for (let oy = 0; oy < size; oy++) {
      const ya = oy * s;
      const yb = ya + s;
      for (let ox = 0; ox < size; ox++) {
        const xa = ox * s;
        const xb = xa + s;
        acc.fill(0);
        let wsum = 0;
        for (let y = Math.floor(ya); y < Math.min(side, Math.ceil(yb)); y++) {
          const wy = Math.min(yb, y + 1) - Math.max(ya, y);
          for (let x = Math.floor(xa); x < Math.min(side, Math.ceil(xb)); x++) {
            const w = wy * (Math.min(xb, x + 1) - Math.max(xa, x));
            for (let c = 0; c < 3; c++) acc[c] += w * at(y, x, c);
            wsum += w;
          }
        }
        const o = (oy * size + ox) * 3;
        for (let c = 0; c < 3; c++) out[o + c] = Math.round(acc[c] / wsum);
      }
    }
    return out;
  }
  for (let oy = 0; oy < size; oy++) {
    const fy = Math.max(0, ((oy + 0.5) * side) / size - 0.5);
    const y1 = Math.min(Math.floor(fy), side - 1);
    const y2 = Math.min(y1 + 1, side - 1);
    const wy = fy - y1;
    for (let ox = 0; ox < size; ox++) {
      const fx = Math.max(0, ((ox + 0.5) * side) / size - 0.5);
      const x1 = Math.min(Math.floor(fx), side - 1);
      const x2 = Math.min(x1 + 1, side - 1);
      const wx = fx - x1;
      const o = (oy * size + ox) * 3;
      for (let c = 0; c < 3; c++) {
        const top = at(y1, x1, c) + (at(y1, x2, c) - at(y1, x1, c)) * wx;
        const bot = at(y2, x1, c) + (at(y2, x2, c) - at(y2, x1, c)) * wx;
        out[o + c] = Math.round(top + (bot - top) * wy);
      }
    }
  }
  return out;
}

/** Per-channel mean and std (0..1 scale) of NHWC uint8 RGB images. */
export function channelStats(images: Uint8Array): { mean: [number, number, number]; std: [number, number, number] } {
  const s = [0, 0, 0];
  const s2 = [0, 0, 0];
  for (let i = 0; i < images.length; i += 3) {
    for (let c = 0; c < 3; c++) {
      const v = images[i + c] / 255;
      s[c] += v;
      s2[c] += v * v;
    }
  }
  const n = Math.max(1, images.length / 3);
  const r4 = (x: number) => Math.round(x * 1e4) / 1e4;
  const mean = s.map((v) => r4(v / n)) as [number, number, number];
  const std = s2.map((v, c) => r4(Math.sqrt(Math.max(v / n - (s[c] / n) ** 2, 1e-8)))) as [number, number, number];
  return { mean, std };
}
