import { ConfigError, DataError } from '../util/errors';
import type { Rng } from '../util/rng';
import { imagesAt, type ImageDataset } from './types';
import { randAugment, colorJitter, randomErasing } from './randaugment';
import type { RandAugmentConfig, RandomErasingConfig, U8Image } from './randaugment';

/** Input pipeline applied per batch (in JS, on uint8 images) before the model. */
export interface AugmentConfig {
  /** Random crop with this much zero padding on each side (0 = off); ignored when `randomResizedCrop` is set. */
  cropPadding: number;
  /** Random horizontal flip. */
  flip: boolean;
  /**
   * Inception-style random-resized crop to the model's input (torchvision RandomResizedCrop: area fraction
   * U(scale), log-uniform aspect ratio in `ratio`, 10 attempts, then a centre crop), the ImageNet recipes' first step.
   */
  randomResizedCrop?: { scale: [number, number]; ratio: [number, number] };
  /** RandAugment (timm's `rand-m9-mstd0.5-inc1` is RAND_M9_MSTD05_INC1). */
  randAugment?: RandAugmentConfig;
  /**
   * Colour jitter strength j (brightness, contrast, saturation factors in U(1 − j, 1 + j)). As in timm's
   * transforms, it is applied only when `randAugment` is off: the DWNet (0.4) and EIT (0.3) recipes set it next to
   * RandAugment, where timm then skips it.
   */
  colorJitter?: number;
  /** Random erasing on the normalised image (pixel mode, one rectangle). */
  randomErasing?: RandomErasingConfig;
  /** Evaluation: centre crop of this fraction of the side before resizing (ImageNet: 224/256 = 0.875; 1 = none). */
  evalCropFraction?: number;
  /** Resize to the model's imageSize when it differs from the data's (bilinear, e.g. 32 → 36). Always on. */
}

/**
 * The input pipeline, in JS on uint8 images: pick images, random-crop with padding and flip (when augmenting),
 * normalise with the dataset's mean/std, and resize bilinearly to the model's input size. Deterministic given the rng.
 */

export interface Batch {
  /** NHWC float32, normalised. */
  x: Float32Array;
  shape: [number, number, number, number];
  labels: Int32Array;
  /** Super-class labels, when the dataset has them. */
  coarse?: Int32Array;
}

export interface PrepareBatchOptions {
  augment: AugmentConfig | null;
  targetSize: number;
  rng: Rng;
}

/** A deterministic shuffle of 0..n-1 for one epoch. */
export function epochOrder(n: number, rng: Rng): Int32Array {
  return rng.permutation(n);
}

/**
 * Bilinear resize of one HWC float image, half-pixel centres and no corner alignment (PyTorch
 * `align_corners=False`, tf.image.resizeBilinear with `halfPixelCenters`): output pixel d samples the input at
 * (d + 0.5)·in/out − 0.5, clamped to the image.
 */
export function resizeBilinear(
  src: Float32Array,
  inH: number,
  inW: number,
  channels: number,
  outH: number,
  outW: number,
  out: Float32Array = new Float32Array(outH * outW * channels),
  outOffset = 0,
): Float32Array {
  const ys0 = new Int32Array(outH);
  const ys1 = new Int32Array(outH);
  const wy = new Float32Array(outH);
  for (let d = 0; d < outH; d++) {
    const f = Math.max(0, ((d + 0.5) * inH) / outH - 0.5);
    const i0 = Math.min(Math.floor(f), inH - 1);
    ys0[d] = i0;
    ys1[d] = Math.min(i0 + 1, inH - 1);
    wy[d] = f - i0;
  }
  const xs0 = new Int32Array(outW);
  const xs1 = new Int32Array(outW);
  const wx = new Float32Array(outW);
  for (let d = 0; d < outW; d++) {
    const f = Math.max(0, ((d + 0.5) * inW) / outW - 0.5);
    const i0 = Math.min(Math.floor(f), inW - 1);
    xs0[d] = i0;
    xs1[d] = Math.min(i0 + 1, inW - 1);
    wx[d] = f - i0;
  }
  for (let y = 0; y < outH; y++) {
    const r0 = ys0[y] * inW;
    const r1 = ys1[y] * inW;
    const ay = wy[y];
    for (let x = 0; x < outW; x++) {
      const ax = wx[x];
      const a = (r0 + xs0[x]) * channels;
      const b = (r0 + xs1[x]) * channels;
      const c = (r1 + xs0[x]) * channels;
      const e = (r1 + xs1[x]) * channels;
      const o = outOffset + (y * outW + x) * channels;
      for (let k = 0; k < channels; k++) {
        const top = src[a + k] + (src[b + k] - src[a + k]) * ax;
        const bot = src[c + k] + (src[e + k] - src[c + k]) * ax;
        out[o + k] = top + (bot - top) * ay;
      }
    }
  }
  return out;
}

/**
 * One training or evaluation batch. With `augment`: a random crop of the image padded by `cropPadding` pixels on
 * each side (the padding is zero after normalisation, i.e. the dataset mean) and a horizontal flip with
 * probability ½, drawn per image in index order. Then normalisation, then a bilinear resize to `targetSize` when it
 * differs from the dataset's image size.
 */
export function prepareBatch(ds: ImageDataset, indices: ArrayLike<number>, opts: PrepareBatchOptions): Batch {
  if (ds.readImages) {
    // a streaming dataset: decode this batch's images, then run the same pipeline on them as an in-memory batch
    const local = materialise(ds, indices);
    return prepareBatch(
      local,
      Int32Array.from({ length: indices.length }, (_, i) => i),
      opts,
    );
  }
  const a = opts.augment;
  const evalCrop = a?.evalCropFraction ?? 1;
  if (a?.randomResizedCrop || a?.randAugment || (a?.colorJitter ?? 0) > 0 || a?.randomErasing || evalCrop !== 1) {
    return prepareRecipeBatch(ds, indices, opts);
  }
  return prepareSimpleBatch(ds, indices, opts);
}

/** The images and labels at `indices` of a (streaming) dataset as a small in-memory dataset, in that order. */
function materialise(ds: ImageDataset, indices: ArrayLike<number>): ImageDataset {
  const images = imagesAt(ds, indices);
  const pick = (a: Int32Array) => Int32Array.from({ length: indices.length }, (_, k) => a[indices[k]]);
  const { readImages: _read, prefetch: _prefetch, ...rest } = ds;
  return {
    ...rest,
    images,
    labels: pick(ds.labels),
    ...(ds.coarseLabels ? { coarseLabels: pick(ds.coarseLabels) } : {}),
  };
}

function prepareSimpleBatch(ds: ImageDataset, indices: ArrayLike<number>, opts: PrepareBatchOptions): Batch {
  const S = ds.imageSize;
  const C = ds.channels;
  const T = opts.targetSize;
  if (!Number.isInteger(T) || T <= 0) throw new ConfigError(`targetSize ${T} is not a positive integer`);
  const pad = opts.augment?.cropPadding ?? 0;
  if (!Number.isInteger(pad) || pad < 0 || pad >= S) {
    throw new ConfigError(`augment.cropPadding ${pad} is not an integer in 0..${S - 1}`);
  }
  const flip = opts.augment?.flip ?? false;
  const n = indices.length;
  const count = ds.labels.length;
  const imgLen = S * S * C;
  const scale = new Float32Array(C);
  const shift = new Float32Array(C);
  for (let c = 0; c < C; c++) {
    const std = ds.std[c % 3];
    scale[c] = 1 / (255 * std);
    shift[c] = ds.mean[c % 3] / std;
  }
  const x = new Float32Array(n * T * T * C);
  const labels = new Int32Array(n);
  const coarse = ds.coarseLabels ? new Int32Array(n) : undefined;
  const tmp = T === S ? null : new Float32Array(imgLen);
  for (let b = 0; b < n; b++) {
    const idx = indices[b];
    if (!Number.isInteger(idx) || idx < 0 || idx >= count) {
      throw new DataError(`batch index ${idx} is outside ${ds.name} ${ds.split} (0..${count - 1})`);
    }
    labels[b] = ds.labels[idx];
    if (coarse) coarse[b] = ds.coarseLabels![idx];
    let dx = 0;
    let dy = 0;
    let mirror = false;
    if (opts.augment) {
      if (pad > 0) {
        dx = opts.rng.below(2 * pad + 1) - pad;
        dy = opts.rng.below(2 * pad + 1) - pad;
      }
      if (flip) mirror = opts.rng.next() < 0.5;
    }
    const dst = tmp ?? x;
    const dstOff = tmp ? 0 : b * imgLen;
    const srcOff = idx * imgLen;
    for (let y = 0; y < S; y++) {
      const sy = y + dy;
      for (let xx = 0; xx < S; xx++) {
        const o = dstOff + (y * S + xx) * C;
        const sx = (mirror ? S - 1 - xx : xx) + dx;
        if (sy < 0 || sy >= S || sx < 0 || sx >= S) {
          for (let c = 0; c < C; c++) dst[o + c] = 0;
          continue;
        }
        const s = srcOff + (sy * S + sx) * C;
        for (let c = 0; c < C; c++) dst[o + c] = ds.images[s + c] * scale[c] - shift[c];
      }
    }
    if (tmp) resizeBilinear(tmp, S, S, C, T, T, x, b * T * T * C);
  }
  return { x, shape: [n, T, T, C], labels, ...(coarse ? { coarse } : {}) };
}

/** One image's uint8 pixels, a rectangle of it (rows y0.., cols x0..; mirrored when `mirror`) resized to out×out. */
function cropResize(
  ds: ImageDataset,
  idx: number,
  y0: number,
  x0: number,
  h: number,
  w: number,
  mirror: boolean,
  out: number,
): Uint8Array {
  const S = ds.imageSize;
  const C = ds.channels;
  const base = idx * S * S * C;
  if (h === out && w === out) {
    const u = new Uint8Array(out * out * C);
    for (let y = 0; y < h; y++) {
      if (!mirror) {
        const s = base + ((y0 + y) * S + x0) * C;
        u.set(ds.images.subarray(s, s + w * C), y * w * C);
        continue;
      }
      for (let x = 0; x < w; x++) {
        const s = base + ((y0 + y) * S + x0 + w - 1 - x) * C;
        for (let c = 0; c < C; c++) u[(y * w + x) * C + c] = ds.images[s + c];
      }
    }
    return u;
  }
  const crop = new Float32Array(h * w * C);
  for (let y = 0; y < h; y++) {
    for (let x = 0; x < w; x++) {
      const sx = x0 + (mirror ? w - 1 - x : x);
      const s = base + ((y0 + y) * S + sx) * C;
      for (let c = 0; c < C; c++) crop[(y * w + x) * C + c] = ds.images[s + c];
    }
  }
  const r = resizeBilinear(crop, h, w, C, out, out);
  const u = new Uint8Array(out * out * C);
  // values are convex combinations of bytes: in 0..255, so rounding needs no clamp (Uint8Array stores integers)
  for (let i = 0; i < u.length; i++) u[i] = r[i] + 0.5;
  return u;
}

/**
 * torchvision RandomResizedCrop.get_params on an S×S image: area fraction U(scale), aspect ratio log-uniform in
 * `ratio`, up to 10 attempts; otherwise the whole image (the fallback centre crop of a square image).
 */
export function sampleResizedCrop(
  S: number,
  scale: [number, number],
  ratio: [number, number],
  rng: Rng,
): [number, number, number, number] {
  const area = S * S;
  const [lr0, lr1] = [Math.log(ratio[0]), Math.log(ratio[1])];
  for (let attempt = 0; attempt < 10; attempt++) {
    const target = area * rng.uniform(scale[0], scale[1]);
    const aspect = Math.exp(rng.uniform(lr0, lr1));
    const w = Math.round(Math.sqrt(target * aspect));
    const h = Math.round(Math.sqrt(target / aspect));
    if (w > 0 && h > 0 && w <= S && h <= S) return [rng.below(S - h + 1), rng.below(S - w + 1), h, w];
  }
  return [0, 0, S, S];
}

/**
 * The recipe pipeline (timm's order): geometry (random-resized crop to the model size, or padded random crop) and
 * flip on uint8; RandAugment, or colour jitter when RandAugment is off; normalisation; resize to `targetSize`;
 * random erasing. Evaluation (augment null or no random parts): centre crop of `evalCropFraction`, then resize.
 * The padded crop fills with the dataset mean colour (the simple path's zero after normalisation).
 */
function prepareRecipeBatch(ds: ImageDataset, indices: ArrayLike<number>, opts: PrepareBatchOptions): Batch {
  const S = ds.imageSize;
  const C = ds.channels;
  const T = opts.targetSize;
  const a = opts.augment!;
  if (!Number.isInteger(T) || T <= 0) throw new ConfigError(`targetSize ${T} is not a positive integer`);
  const pad = a.cropPadding ?? 0;
  if (!Number.isInteger(pad) || pad < 0 || pad >= S) {
    throw new ConfigError(`augment.cropPadding ${pad} is not an integer in 0..${S - 1}`);
  }
  const frac = a.evalCropFraction ?? 1;
  if (!(frac > 0 && frac <= 1)) throw new ConfigError(`augment.evalCropFraction ${frac}: expected 0 < f ≤ 1`);
  const jitter = (a.colorJitter ?? 0) > 0;
  const random = !!(a.randomResizedCrop || a.randAugment || jitter || a.randomErasing || pad > 0 || a.flip);
  const fill = [0, 1, 2].map((c) => Math.round(ds.mean[c] * 255));
  const scale = Float32Array.from({ length: C }, (_, c) => 1 / (255 * ds.std[c % 3]));
  const shift = Float32Array.from({ length: C }, (_, c) => ds.mean[c % 3] / ds.std[c % 3]);
  const n = indices.length;
  const x = new Float32Array(n * T * T * C);
  const labels = new Int32Array(n);
  const coarse = ds.coarseLabels ? new Int32Array(n) : undefined;
  const count = ds.labels.length;
  for (let b = 0; b < n; b++) {
    const idx = indices[b];
    if (!Number.isInteger(idx) || idx < 0 || idx >= count) {
      throw new DataError(`batch index ${idx} is outside ${ds.name} ${ds.split} (0..${count - 1})`);
    }
    labels[b] = ds.labels[idx];
    if (coarse) coarse[b] = ds.coarseLabels![idx];
    let img: U8Image;
    if (random && a.randomResizedCrop) {
      const [y0, x0, h, w] = sampleResizedCrop(S, a.randomResizedCrop.scale, a.randomResizedCrop.ratio, opts.rng);
      const mirror = a.flip && opts.rng.next() < 0.5;
      img = { data: cropResize(ds, idx, y0, x0, h, w, mirror, T), h: T, w: T, c: C };
    } else if (random) {
      const dx = pad > 0 ? opts.rng.below(2 * pad + 1) - pad : 0;
      const dy = pad > 0 ? opts.rng.below(2 * pad + 1) - pad : 0;
      const mirror = a.flip && opts.rng.next() < 0.5;
      const data = new Uint8Array(S * S * C);
      for (let y = 0; y < S; y++) {
        for (let xx = 0; xx < S; xx++) {
          const sy = y + dy;
          const sx = (mirror ? S - 1 - xx : xx) + dx;
          const o = (y * S + xx) * C;
          const inside = sy >= 0 && sy < S && sx >= 0 && sx < S;
          for (let c = 0; c < C; c++) data[o + c] = inside ? ds.images[((idx * S + sy) * S + sx) * C + c] : fill[c % 3];
        }
      }
      img = { data, h: S, w: S, c: C };
    } else {
      const side = Math.max(1, Math.round(S * frac));
      const off = Math.floor((S - side) / 2);
      img = { data: cropResize(ds, idx, off, off, side, side, false, side), h: side, w: side, c: C };
    }
    if (random && a.randAugment) randAugment(img, a.randAugment, opts.rng, fill);
    else if (random && (a.colorJitter ?? 0) > 0) colorJitter(img, a.colorJitter!, opts.rng);
    const G = img.h;
    const dst = G === T ? x : new Float32Array(G * G * C);
    const off = G === T ? b * T * T * C : 0;
    const src = img.data;
    for (let i = 0; i < G * G * C; i += C) {
      for (let c = 0; c < C; c++) dst[off + i + c] = src[i + c] * scale[c] - shift[c];
    }
    if (G !== T) resizeBilinear(dst, G, G, C, T, T, x, b * T * T * C);
    if (random && a.randomErasing) randomErasing(x, b * T * T * C, T, C, a.randomErasing, opts.rng);
  }
  return { x, shape: [n, T, T, C], labels, ...(coarse ? { coarse } : {}) };
}
