import { ConfigError } from '../util/errors';
import type { Rng } from '../util/rng';

/**
 * Mixup (Zhang et al. 2018) and CutMix (Yun et al. 2019) in timm's batch mode, as the DeiT and Swin recipes run
 * them: one λ per batch, each image mixed with the image at the mirrored batch position (x.flip(0)), and soft
 * targets λ·smooth(y) + (1 − λ)·smooth(y.flip(0)) with label smoothing ε inside (on = 1 − ε + ε/K, off = ε/K).
 */
export interface MixupConfig {
  /** Beta(α, α) for mixup λ (0 = no mixup). DeiT/Swin: 0.8. */
  mixupAlpha: number;
  /** Beta(α, α) for cutmix λ (0 = no cutmix). DeiT/Swin: 1.0. */
  cutmixAlpha: number;
  /** With both on: probability of cutmix instead of mixup for a batch (0.5). */
  switchProb: number;
  /** Probability a batch is mixed at all (1.0). */
  prob: number;
}

export const DEIT_MIXUP: MixupConfig = { mixupAlpha: 0.8, cutmixAlpha: 1.0, switchProb: 0.5, prob: 1.0 };

/** Gamma(k, 1) by Marsaglia and Tsang (2000); k < 1 through Gamma(k + 1)·U^(1/k). */
export function sampleGamma(k: number, rng: Rng): number {
  if (!(k > 0)) throw new ConfigError(`gamma shape ${k}: expected > 0`);
  if (k < 1) return sampleGamma(k + 1, rng) * Math.max(rng.next(), 1e-300) ** (1 / k);
  const d = k - 1 / 3;
  const c = 1 / Math.sqrt(9 * d);
  for (;;) {
    let x: number;
    let v: number;
    do {
      x = rng.normal();
      v = 1 + c * x;
    } while (v <= 0);
    v = v * v * v;
    const u = rng.next();
    if (u < 1 - 0.0331 * x ** 4 || Math.log(u) < 0.5 * x * x + d * (1 - v + Math.log(v))) return d * v;
  }
}

/** Beta(a, b) from two gammas. */
export function sampleBeta(a: number, b: number, rng: Rng): number {
  const x = sampleGamma(a, rng);
  const y = sampleGamma(b, rng);
  return x / (x + y);
}

export interface MixResult {
  /** λ after the cutmix area correction (1 = batch left unmixed). */
  lam: number;
  kind: 'none' | 'mixup' | 'cutmix';
  /** The cutmix box [y0, y1) × [x0, x1), when cutmix ran. */
  box?: [number, number, number, number];
  /** Soft targets [B, K], row-major. */
  targets: Float32Array;
}

/** Smoothed one-hot targets mixed with the mirrored batch's: λ·smooth(y_i) + (1 − λ)·smooth(y_{B−1−i}). */
export function mixTargets(labels: Int32Array, numClasses: number, lam: number, smoothing: number): Float32Array {
  const n = labels.length;
  const off = smoothing / numClasses;
  const on = 1 - smoothing + off;
  const t = new Float32Array(n * numClasses).fill(off);
  for (let i = 0; i < n; i++) {
    t[i * numClasses + labels[i]] += lam * (on - off);
    t[i * numClasses + labels[n - 1 - i]] += (1 - lam) * (on - off);
  }
  return t;
}

/**
 * Mix a normalised NHWC batch in place and return its soft targets. Cutmix box as timm's `rand_bbox`: cut side
 * ⌊S·√(1 − λ)⌋, centre uniform over the image, clipped; λ is then corrected to 1 − box area / image area.
 */
export function mixBatch(
  x: Float32Array,
  shape: readonly [number, number, number, number],
  labels: Int32Array,
  numClasses: number,
  smoothing: number,
  cfg: MixupConfig,
  rng: Rng,
): MixResult {
  const [n, h, w, c] = shape;
  let kind: MixResult['kind'] = 'none';
  let lam = 1;
  if (rng.next() < cfg.prob && (cfg.mixupAlpha > 0 || cfg.cutmixAlpha > 0)) {
    const cut = cfg.mixupAlpha > 0 && cfg.cutmixAlpha > 0 ? rng.next() < cfg.switchProb : cfg.cutmixAlpha > 0;
    kind = cut ? 'cutmix' : 'mixup';
    const alpha = cut ? cfg.cutmixAlpha : cfg.mixupAlpha;
    lam = sampleBeta(alpha, alpha, rng);
  }
  const img = h * w * c;
  let box: MixResult['box'];
  if (kind === 'mixup') {
    // images i and n−1−i mix with each other: update both at once (the middle image of an odd batch is unchanged)
    for (let i = 0; i < n - 1 - i; i++) {
      const a = i * img;
      const b = (n - 1 - i) * img;
      for (let k = 0; k < img; k++) {
        const u = x[a + k];
        const v = x[b + k];
        x[a + k] = lam * u + (1 - lam) * v;
        x[b + k] = lam * v + (1 - lam) * u;
      }
    }
  } else if (kind === 'cutmix') {
    const ratio = Math.sqrt(1 - lam);
    const ch = Math.floor(h * ratio);
    const cw = Math.floor(w * ratio);
    const cy = rng.below(h);
    const cx = rng.below(w);
    const y0 = Math.max(0, Math.min(h, cy - Math.floor(ch / 2)));
    const y1 = Math.max(0, Math.min(h, cy + Math.floor(ch / 2)));
    const x0 = Math.max(0, Math.min(w, cx - Math.floor(cw / 2)));
    const x1 = Math.max(0, Math.min(w, cx + Math.floor(cw / 2)));
    box = [y0, y1, x0, x1];
    lam = 1 - ((y1 - y0) * (x1 - x0)) / (h * w);
    // the box of image i comes from image n−1−i and vice versa: swap the boxes pairwise
    for (let i = 0; i < n - 1 - i; i++) {
      const a = i * img;
      const b = (n - 1 - i) * img;
      for (let y = y0; y < y1; y++) {
        for (let o = (y * w + x0) * c; o < (y * w + x1) * c; o++) {
          const t = x[a + o];
          x[a + o] = x[b + o];
          x[b + o] = t;
        }
      }
    }
  }
  return { lam, kind, ...(box ? { box } : {}), targets: mixTargets(labels, numClasses, lam, smoothing) };
}
