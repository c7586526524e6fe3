import { ConfigError, DataError } from '../util/errors';
import type { Rng } from '../util/rng';
import type { AugmentConfig } from '../train/types';
import type { ImageDataset } from './types';

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
