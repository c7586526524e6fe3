import { ConfigError } from '../util/errors';
import type { Rng } from '../util/rng';

/**
 * The photometric and geometric augmentations of the DeiT/Swin recipes (timm), written for uint8 HWC images in JS:
 * RandAugment `rand-m9-mstd0.5-inc1` (Cubuk et al. 2020, timm's "increasing" op set), colour jitter, and random
 * erasing (Zhong et al. 2020, pixel mode). Every draw comes from the given Rng, so a batch is a function of its seed.
 *
 * PIL's arithmetic is reproduced value for value where timm calls PIL (test/fixtures/pil-ops.json, Pillow 9.4):
 * ImageEnhance blends `degenerate + f·(img − degenerate)` in float32, clipped and truncated; grey is PIL's rounded
 * 0.299 R + 0.587 G + 0.114 B; autocontrast's table truncates; affine ops sample bilinearly at pixel centres and
 * truncate (timm picks bilinear or bicubic at random: the kit uses bilinear) and fill with the dataset mean colour.
 */

/** A uint8 HWC image that augmentations modify in place. */
export interface U8Image {
  data: Uint8Array;
  h: number;
  w: number;
  /** Channels: 3 (RGB); grey-scale images (1) use the same ops on their one channel. */
  c: number;
}

export interface RandAugmentConfig {
  /** Ops per image (timm default 2). */
  n: number;
  /** Magnitude 0..10 (rand-m9: 9). */
  m: number;
  /** Std of the per-op Gaussian noise on the magnitude (mstd0.5), clipped to 0..10. */
  mstd: number;
  /** Probability that a chosen op is applied (timm: 0.5). */
  prob: number;
}

export const RAND_M9_MSTD05_INC1: RandAugmentConfig = { n: 2, m: 9, mstd: 0.5, prob: 0.5 };

const clamp8 = (v: number) => (v < 0 ? 0 : v > 255 ? 255 : Math.round(v));
/** PIL's float → uint8 store: clip to 0..255, then truncate (C cast). */
const trunc8 = (v: number) => (v <= 0 ? 0 : v >= 255 ? 255 : Math.floor(v));

/** Rec. 601 luma as PIL's convert('L'): (19595 R + 38470 G + 7471 B + 2¹⁵) >> 16 (0.299 R + 0.587 G + 0.114 B). */
function grey(img: U8Image): Uint8Array {
  const { data, h, w, c } = img;
  const out = new Uint8Array(h * w);
  for (let i = 0; i < h * w; i++) {
    const o = i * c;
    out[i] = c >= 3 ? (data[o] * 19595 + data[o + 1] * 38470 + data[o + 2] * 7471 + 0x8000) >>> 16 : data[o];
  }
  return out;
}

/** PIL ImageEnhance (Image.blend): img ← degenerate + factor·(img − degenerate) in float32, clipped, truncated. */
function blend(img: U8Image, degenerate: (i: number, ch: number) => number, factor: number): void {
  const { data, h, w, c } = img;
  const f = Math.fround(factor);
  for (let i = 0; i < h * w; i++) {
    for (let ch = 0; ch < c; ch++) {
      const d = degenerate(i, ch);
      data[i * c + ch] = trunc8(Math.fround(d + Math.fround(f * (data[i * c + ch] - d))));
    }
  }
}

export const ops = {
  brightness(img: U8Image, f: number): void {
    blend(img, () => 0, f);
  },
  /** Towards the grey image (f = 0: grey, 1: unchanged). */
  color(img: U8Image, f: number): void {
    const g = grey(img);
    blend(img, (i) => g[i], f);
  },
  /** Towards the mean grey level (PIL: int(mean + 0.5)). */
  contrast(img: U8Image, f: number): void {
    const g = grey(img);
    let s = 0;
    for (const v of g) s += v;
    const mean = Math.floor(s / g.length + 0.5);
    blend(img, () => mean, f);
  },
  /** Towards the 3×3 smoothed image (kernel [1 1 1; 1 5 1; 1 1 1]/13, border pixels kept), as PIL SMOOTH. */
  sharpness(img: U8Image, f: number): void {
    const { data, h, w, c } = img;
    const smooth = Uint8Array.from(data);
    for (let y = 1; y < h - 1; y++) {
      for (let x = 1; x < w - 1; x++) {
        for (let ch = 0; ch < c; ch++) {
          let s = 4 * data[(y * w + x) * c + ch];
          for (let dy = -1; dy <= 1; dy++) for (let dx = -1; dx <= 1; dx++) s += data[((y + dy) * w + x + dx) * c + ch];
          smooth[(y * w + x) * c + ch] = clamp8(s / 13);
        }
      }
    }
    blend(img, (i, ch) => smooth[i * c + ch], f);
  },
  invert(img: U8Image): void {
    for (let i = 0; i < img.data.length; i++) img.data[i] = 255 - img.data[i];
  },
  /** Keep the top `bits` bits of every value. */
  posterize(img: U8Image, bits: number): void {
    if (bits >= 8) return;
    const mask = (0xff << (8 - Math.max(0, bits))) & 0xff;
    for (let i = 0; i < img.data.length; i++) img.data[i] &= mask;
  },
  /** Invert every value ≥ threshold. */
  solarize(img: U8Image, threshold: number): void {
    for (let i = 0; i < img.data.length; i++) if (img.data[i] >= threshold) img.data[i] = 255 - img.data[i];
  },
  /** Add `add` to every value below `threshold` (128), clipped. */
  solarizeAdd(img: U8Image, add: number, threshold = 128): void {
    for (let i = 0; i < img.data.length; i++) if (img.data[i] < threshold) img.data[i] = clamp8(img.data[i] + add);
  },
  /** Per channel, stretch [min, max] to [0, 255] (PIL autocontrast, cutoff 0). */
  autoContrast(img: U8Image): void {
    const { data, c } = img;
    for (let ch = 0; ch < c; ch++) {
      let lo = 255;
      let hi = 0;
      for (let i = ch; i < data.length; i += c) {
        lo = Math.min(lo, data[i]);
        hi = Math.max(hi, data[i]);
      }
      if (hi <= lo) continue;
      // PIL: lut[v] = int(v·scale − lo·scale), clipped
      const scale = 255 / (hi - lo);
      const offset = -lo * scale;
      for (let i = ch; i < data.length; i += c) data[i] = trunc8(data[i] * scale + offset);
    }
  },
  /** Per-channel histogram equalisation (PIL ImageOps.equalize). */
  equalize(img: U8Image): void {
    const { data, c } = img;
    for (let ch = 0; ch < c; ch++) {
      const hist = new Array<number>(256).fill(0);
      for (let i = ch; i < data.length; i += c) hist[data[i]]++;
      const nonzero = hist.filter((v) => v > 0);
      if (nonzero.length <= 1) continue;
      const step = Math.floor((nonzero.reduce((a, b) => a + b, 0) - nonzero[nonzero.length - 1]) / 255);
      if (step === 0) continue;
      const lut = new Uint8Array(256);
      let n = Math.floor(step / 2);
      for (let v = 0; v < 256; v++) {
        lut[v] = Math.min(255, Math.floor(n / step));
        n += hist[v];
      }
      for (let i = ch; i < data.length; i += c) data[i] = lut[data[i]];
    }
  },
  /**
   * Inverse-mapped affine transform: output pixel (x, y) samples the input at (a·x + b·y + t0, d·x + e·y + t1)
   * (PIL Image.transform AFFINE, pixel centres), bilinear, `fill` outside.
   */
  affine(img: U8Image, m: [number, number, number, number, number, number], fill: readonly number[]): void {
    const { data, h, w, c } = img;
    const src = Uint8Array.from(data);
    const [a, b, t0, d, e, t1] = m;
    for (let y = 0; y < h; y++) {
      for (let x = 0; x < w; x++) {
        const sx = a * (x + 0.5) + b * (y + 0.5) + t0 - 0.5;
        const sy = d * (x + 0.5) + e * (y + 0.5) + t1 - 0.5;
        const o = (y * w + x) * c;
        if (sx < -0.5 || sy < -0.5 || sx >= w - 0.5 || sy >= h - 0.5) {
          for (let ch = 0; ch < c; ch++) data[o + ch] = fill[ch % fill.length];
          continue;
        }
        const x0 = Math.max(0, Math.min(w - 1, Math.floor(sx)));
        const y0 = Math.max(0, Math.min(h - 1, Math.floor(sy)));
        const x1 = Math.min(w - 1, x0 + 1);
        const y1 = Math.min(h - 1, y0 + 1);
        const fx = Math.max(0, Math.min(1, sx - x0));
        const fy = Math.max(0, Math.min(1, sy - y0));
        for (let ch = 0; ch < c; ch++) {
          const a0 = src[(y0 * w + x0) * c + ch];
          const b0 = src[(y1 * w + x0) * c + ch];
          const top = a0 + (src[(y0 * w + x1) * c + ch] - a0) * fx;
          const bot = b0 + (src[(y1 * w + x1) * c + ch] - b0) * fx;
          data[o + ch] = trunc8(top + (bot - top) * fy);
        }
      }
    }
  },
  /** Rotate by `deg` degrees counter-clockwise about the centre (PIL rotate). */
  rotate(img: U8Image, deg: number, fill: readonly number[]): void {
    const r = (-deg * Math.PI) / 180;
    const cx = img.w / 2;
    const cy = img.h / 2;
    const [a, b, d, e] = [Math.cos(r), Math.sin(r), -Math.sin(r), Math.cos(r)];
    ops.affine(img, [a, b, cx - a * cx - b * cy, d, e, cy - d * cx - e * cy], fill);
  },
  shearX(img: U8Image, s: number, fill: readonly number[]): void {
    ops.affine(img, [1, s, 0, 0, 1, 0], fill);
  },
  shearY(img: U8Image, s: number, fill: readonly number[]): void {
    ops.affine(img, [1, 0, 0, s, 1, 0], fill);
  },
  /** Shift the content by `px` pixels (PIL: the sampling offset, so positive moves content left/up). */
  translateX(img: U8Image, px: number, fill: readonly number[]): void {
    ops.affine(img, [1, 0, px, 0, 1, 0], fill);
  },
  translateY(img: U8Image, px: number, fill: readonly number[]): void {
    ops.affine(img, [1, 0, 0, 0, 1, px], fill);
  },
};

/** timm's "increasing" RandAugment op names (rand-*-inc1), in timm's order. */
export const RAND_OPS = [
  'AutoContrast',
  'Equalize',
  'Invert',
  'Rotate',
  'PosterizeIncreasing',
  'SolarizeIncreasing',
  'SolarizeAdd',
  'ColorIncreasing',
  'ContrastIncreasing',
  'BrightnessIncreasing',
  'SharpnessIncreasing',
  'ShearX',
  'ShearY',
  'TranslateXRel',
  'TranslateYRel',
] as const;
export type RandOp = (typeof RAND_OPS)[number];

/**
 * Apply one named op at magnitude `mag` (0..10). Signed ops flip their sign with probability ½ (timm's
 * `_randomly_negate`). Levels as timm: rotate 30°·m/10, shear 0.3·m/10, translate 0.45·m/10 of the side,
 * posterize 4 − ⌊4·m/10⌋ bits, solarize threshold 256 − ⌊256·m/10⌋, solarize-add ⌊110·m/10⌋, enhance
 * factors 1 ± 0.9·m/10.
 */
export function applyRandOp(img: U8Image, op: RandOp, mag: number, rng: Rng, fill: readonly number[]): void {
  const sign = () => (rng.next() < 0.5 ? -1 : 1);
  const t = mag / 10;
  switch (op) {
    case 'AutoContrast':
      ops.autoContrast(img);
      return;
    case 'Equalize':
      ops.equalize(img);
      return;
    case 'Invert':
      ops.invert(img);
      return;
    case 'Rotate':
      ops.rotate(img, sign() * 30 * t, fill);
      return;
    case 'PosterizeIncreasing':
      ops.posterize(img, 4 - Math.floor(4 * t));
      return;
    case 'SolarizeIncreasing':
      ops.solarize(img, 256 - Math.floor(256 * t));
      return;
    case 'SolarizeAdd':
      ops.solarizeAdd(img, Math.floor(110 * t));
      return;
    case 'ColorIncreasing':
      ops.color(img, 1 + sign() * 0.9 * t);
      return;
    case 'ContrastIncreasing':
      ops.contrast(img, 1 + sign() * 0.9 * t);
      return;
    case 'BrightnessIncreasing':
      ops.brightness(img, 1 + sign() * 0.9 * t);
      return;
    case 'SharpnessIncreasing':
      ops.sharpness(img, 1 + sign() * 0.9 * t);
      return;
    case 'ShearX':
      ops.shearX(img, sign() * 0.3 * t, fill);
      return;
    case 'ShearY':
      ops.shearY(img, sign() * 0.3 * t, fill);
      return;
    case 'TranslateXRel':
      ops.translateX(img, sign() * 0.45 * t * img.w, fill);
      return;
    case 'TranslateYRel':
      ops.translateY(img, sign() * 0.45 * t * img.h, fill);
      return;
  }
}

/**
 * RandAugment: `n` ops drawn uniformly with replacement; each applied with probability `prob` at magnitude
 * N(m, mstd²) clipped to 0..10. Returns the ops applied (for tests and logs).
 */
export function randAugment(img: U8Image, cfg: RandAugmentConfig, rng: Rng, fill: readonly number[]): RandOp[] {
  if (!(cfg.m >= 0 && cfg.m <= 10) || !Number.isInteger(cfg.n) || cfg.n < 0) {
    throw new ConfigError(`randAugment n=${cfg.n}, m=${cfg.m}: expected an integer n ≥ 0 and 0 ≤ m ≤ 10`);
  }
  const applied: RandOp[] = [];
  for (let k = 0; k < cfg.n; k++) {
    const op = RAND_OPS[rng.below(RAND_OPS.length)];
    if (rng.next() >= cfg.prob) continue;
    const mag = cfg.mstd > 0 ? Math.max(0, Math.min(10, cfg.m + cfg.mstd * rng.normal())) : cfg.m;
    applyRandOp(img, op, mag, rng, fill);
    applied.push(op);
  }
  return applied;
}

/**
 * torchvision ColorJitter(brightness=j, contrast=j, saturation=j) (no hue): the three factors drawn from
 * U(1 − j, 1 + j) and applied in a random order.
 */
export function colorJitter(img: U8Image, j: number, rng: Rng): void {
  if (!(j > 0)) return;
  const order = rng.permutation(3);
  const f = [0, 0, 0].map(() => rng.uniform(Math.max(0, 1 - j), 1 + j));
  for (const k of order) {
    if (k === 0) ops.brightness(img, f[0]);
    else if (k === 1) ops.contrast(img, f[1]);
    else ops.color(img, f[2]);
  }
}

export interface RandomErasingConfig {
  /** Probability an image gets an erased rectangle (DeiT/Swin: 0.25). */
  prob: number;
  /** Area fraction range (timm: 0.02 .. 1/3). */
  minArea?: number;
  maxArea?: number;
  /** Aspect ratio range, sampled log-uniformly (timm: 0.3 .. 1/0.3). */
  minAspect?: number;
}

/**
 * Random erasing, timm's `pixel` mode with one rectangle: on the normalised float image (HWC at `size`), with
 * probability `prob`, a rectangle of area U(minArea, maxArea)·S² and log-uniform aspect ratio is filled with
 * N(0, 1) values per pixel and channel. Up to 10 attempts to fit the rectangle, as timm. Returns whether it erased.
 */
export function randomErasing(
  x: Float32Array,
  offset: number,
  size: number,
  channels: number,
  cfg: RandomErasingConfig,
  rng: Rng,
): boolean {
  if (!(cfg.prob > 0) || rng.next() >= cfg.prob) return false;
  const area = size * size;
  const lo = cfg.minArea ?? 0.02;
  const hi = cfg.maxArea ?? 1 / 3;
  const logR = Math.log(cfg.minAspect ?? 0.3);
  for (let attempt = 0; attempt < 10; attempt++) {
    const target = rng.uniform(lo, hi) * area;
    const aspect = Math.exp(rng.uniform(logR, -logR));
    const h = Math.round(Math.sqrt(target * aspect));
    const w = Math.round(Math.sqrt(target / aspect));
    if (w < size && h < size && w > 0 && h > 0) {
      const top = rng.below(size - h + 1);
      const left = rng.below(size - w + 1);
      for (let y = top; y < top + h; y++) {
        for (let xx = left; xx < left + w; xx++) {
          const o = offset + (y * size + xx) * channels;
          for (let c = 0; c < channels; c++) x[o + c] = rng.normal();
        }
      }
      return true;
    }
  }
  return false;
}
