import * as tf from '@tensorflow/tfjs';
import { makeCtx } from '../nn/module';
import type { ClassifierModel } from '../models/registry';
import { isTokenModel, tokenKeys, type TokenGeometry, type TokenModel } from '../models/token-model';
import type { ImageDataset } from '../data/types';
import { evalBatches } from '../data/eval-batches';

/**
 * What a trained token model looks at and what its token maps carry, per layer:
 * - mean attention distance per head (Dosovitskiy et al. 2021, Fig. 7 / App. D.7): for each query patch, the
 *   attention-weighted distance in input pixels between its centre and every key patch's centre, averaged over
 *   queries and images. A head with a small distance attends locally (like a conv), a large one globally.
 * - high-frequency share of the token maps (the later EIT revision's "comprehensive-frequency data" argument; the
 *   exact measure is not published, docs/eit.md §5): each channel of the token grid is a g×g image; its 2-D DFT energy
 *   outside a low-frequency radius, over its total energy, pooled over channels and images.
 */

/** Euclidean distance between the centres of patch i and patch j of a g×g row-major grid, in grid units. */
export function gridDistances(g: number): Float64Array {
  const d = new Float64Array(g * g * g * g);
  for (let i = 0; i < g * g; i++)
    for (let j = 0; j < g * g; j++)
      d[i * g * g + j] = Math.hypot(Math.floor(i / g) - Math.floor(j / g), (i % g) - (j % g));
  return d;
}

export interface AttentionDistanceOptions {
  /** Side of the square patch grid. */
  grid: number;
  /** Token 0 is a class token: excluded as a query and as a key. */
  hasCls: boolean;
  /** Input pixels between neighbouring patch centres (4 for 4×4 patches or EIT_P 3/1/4). */
  pixelsPerToken?: number;
  /** Renormalise each query's weights over the patch keys once the class-token key is dropped (default true). */
  renormalise?: boolean;
}

/**
 * Mean attention distance per head. probs: attention probabilities [B, H, T, T] (rows sum to 1) as a flat array.
 * Returns one distance per head, in pixels (grid units × pixelsPerToken).
 */
export function meanAttentionDistance(
  probs: ArrayLike<number>,
  shape: readonly number[],
  o: AttentionDistanceOptions,
): number[] {
  const [b, h, t, t2] = shape;
  const off = o.hasCls ? 1 : 0;
  const n = o.grid * o.grid;
  if (t !== t2 || t !== n + off)
    throw new Error(
      `attention shape [${shape.join(', ')}] does not match a ${o.grid}×${o.grid} ` +
        `grid${o.hasCls ? ' + class token' : ''}; expected [B, H, ${n + off}, ${n + off}]`,
    );
  const dist = gridDistances(o.grid);
  const ppt = o.pixelsPerToken ?? 1;
  const renorm = o.renormalise ?? true;
  const out = new Array<number>(h).fill(0);
  for (let bi = 0; bi < b; bi++)
    for (let hi = 0; hi < h; hi++) {
      const base = (bi * h + hi) * t * t;
      let acc = 0;
      for (let q = 0; q < n; q++) {
        const row = base + (q + off) * t + off;
        let s = 0;
        let w = 0;
        for (let k = 0; k < n; k++) {
          const a = probs[row + k];
          s += a * dist[q * n + k];
          w += a;
        }
        acc += renorm && w > 0 ? s / w : s;
      }
      out[hi] += acc / n;
    }
  return out.map((v) => (v / b) * ppt);
}

/** Energy |F(u,v)|² of the 2-D DFT of a real n×n map (row-major), by separable O(n³) sums. */
export function dft2dEnergy(map: ArrayLike<number>, n: number): Float64Array {
  const cos = new Float64Array(n * n);
  const sin = new Float64Array(n * n);
  for (let u = 0; u < n; u++)
    for (let x = 0; x < n; x++) {
      const a = (-2 * Math.PI * ((u * x) % n)) / n;
      cos[u * n + x] = Math.cos(a);
      sin[u * n + x] = Math.sin(a);
    }
  // rows: R[y][v] = Σ_x m[y][x]·e^{−2πi·v·x/n}
  const rr = new Float64Array(n * n);
  const ri = new Float64Array(n * n);
  for (let y = 0; y < n; y++)
    for (let v = 0; v < n; v++) {
      let re = 0;
      let im = 0;
      for (let x = 0; x < n; x++) {
        const m = map[y * n + x];
        re += m * cos[v * n + x];
        im += m * sin[v * n + x];
      }
      rr[y * n + v] = re;
      ri[y * n + v] = im;
    }
  // columns: F[u][v] = Σ_y R[y][v]·e^{−2πi·u·y/n}
  const e = new Float64Array(n * n);
  for (let u = 0; u < n; u++)
    for (let v = 0; v < n; v++) {
      let re = 0;
      let im = 0;
      for (let y = 0; y < n; y++) {
        const c = cos[u * n + y];
        const s = sin[u * n + y];
        re += rr[y * n + v] * c - ri[y * n + v] * s;
        im += rr[y * n + v] * s + ri[y * n + v] * c;
      }
      e[u * n + v] = re * re + im * im;
    }
  return e;
}

/**
 * Which DFT bins of an n×n map are "high frequency": radius √(fu² + fv²)/(n/2) > `radius`, with fu, fv the signed
 * frequencies (−n/2 … n/2). radius 0.5 = outside half the Nyquist band; the DC bin is always low.
 */
export function highFrequencyMask(n: number, radius: number): Uint8Array {
  const m = new Uint8Array(n * n);
  const signed = (u: number) => (u <= n / 2 ? u : u - n);
  for (let u = 0; u < n; u++)
    for (let v = 0; v < n; v++) m[u * n + v] = Math.hypot(signed(u), signed(v)) / (n / 2) > radius ? 1 : 0;
  return m;
}

export interface FrequencyOptions {
  grid: number;
  hasCls: boolean;
  /** Normalised radius separating low from high frequencies (default 0.5). */
  radius?: number;
  /** Subtract each map's mean first (share of the non-constant energy); default false: a constant map has share 0. */
  removeMean?: boolean;
}

/**
 * Share of high-frequency energy in token maps. tokens: [B, T, C] flat; each (image, channel) gives a g×g map of
 * the patch tokens. Energies are summed over maps before the ratio (energy-weighted pooling). A constant map has
 * share 0; a ±1 checkerboard has share 1.
 */
export function highFrequencyShare(tokens: ArrayLike<number>, shape: readonly number[], o: FrequencyOptions): number {
  const [b, t, c] = shape;
  const g = o.grid;
  const off = o.hasCls ? 1 : 0;
  if (t !== g * g + off)
    throw new Error(
      `token shape [${shape.join(', ')}] does not match a ${g}×${g} grid${o.hasCls ? ' + class token' : ''}; ` +
        `expected T = ${g * g + off}`,
    );
  const mask = highFrequencyMask(g, o.radius ?? 0.5);
  const map = new Float64Array(g * g);
  let high = 0;
  let total = 0;
  for (let bi = 0; bi < b; bi++)
    for (let ch = 0; ch < c; ch++) {
      let mean = 0;
      for (let p = 0; p < g * g; p++) {
        map[p] = tokens[(bi * t + p + off) * c + ch];
        mean += map[p];
      }
      if (o.removeMean) for (let p = 0; p < g * g; p++) map[p] -= mean / (g * g);
      const e = dft2dEnergy(map, g);
      for (let k = 0; k < g * g; k++) {
        total += e[k];
        if (mask[k]) high += e[k];
      }
    }
  return total > 0 ? high / total : 0;
}

/** Per-layer attention probabilities and token maps of one batch (token models: EIT and the kit's ViT). */
export interface LayerCapture {
  /** Attention probabilities per block ([B, h, T, T]); null for a block without attention. */
  attn: Array<{ data: Float32Array; shape: number[] } | null>;
  /** Token maps: the embedding first, then each block's output ([B, T, C]). */
  tokens: Array<{ data: Float32Array; shape: number[] }>;
  grid: number;
  hasCls: boolean;
  pixelsPerToken: number;
}

/** The token model behind a classifier, or an error naming it (attention statistics need a token grid). */
export function asTokenModel(model: ClassifierModel): ClassifierModel & TokenModel {
  if (isTokenModel(model)) return model;
  const name = model.modelName || model.constructor.name;
  throw new Error(
    `attention statistics need a token model (one with tokenGeometry and features, e.g. eit or vit); got '${name}'`,
  );
}

/** Grid geometry of a token model: side, class token, pixel spacing of patch centres, depth. */
export function tokenGeometry(model: ClassifierModel): TokenGeometry {
  return asTokenModel(model).tokenGeometry;
}

/** Run one inference batch and capture every layer's attention and token maps. */
export function captureLayers(model: ClassifierModel, x: tf.Tensor4D): LayerCapture {
  const tm = asTokenModel(model);
  const geo = tm.tokenGeometry;
  const got = new Map<string, { data: Float32Array; shape: number[] }>();
  const ctx = makeCtx({
    training: false,
    record: (k, v) => got.set(k, { data: v.dataSync() as Float32Array, shape: v.shape }),
  });
  tf.tidy(() => {
    tm.features(x, ctx);
  });
  const layers = Array.from({ length: geo.depth }, (_, i) => i);
  const tokens = [tokenKeys.embed, ...layers.map(tokenKeys.block)].map((k) => {
    const t = got.get(k);
    if (!t)
      throw new Error(
        `${model.modelName || model.constructor.name}.features recorded no '${k}'; expected tokens per layer`,
      );
    return t;
  });
  return {
    attn: layers.map((i) => got.get(tokenKeys.attention(i)) ?? null),
    tokens,
    grid: geo.grid,
    hasCls: geo.hasCls,
    pixelsPerToken: geo.pixelsPerToken,
  };
}

/** What `analyseTokenModel` stores in a record's `extra`. */
export interface TokenModelStats {
  /** [layer][head] mean attention distance in input pixels (empty row for a block without attention). */
  attentionDistance: number[][];
  /** High-frequency share of the token maps: index 0 = embedding, i + 1 = after block i. */
  highFreqShare: number[];
  /** The same with each map's mean removed (share of the spatially varying energy). */
  highFreqShareNoMean: number[];
  grid: number;
  pixelsPerToken: number;
  images: number;
  radius: number;
}

/**
 * Attention distance and frequency statistics of a trained token model on the first `maxImages` test images
 * (no augmentation), in batches. For RunSpec.analyse.
 */
export function analyseTokenModel(
  model: ClassifierModel,
  test: ImageDataset,
  opts: { maxImages?: number; batch?: number; radius?: number } = {},
): TokenModelStats {
  const n = Math.min(opts.maxImages ?? 64, test.labels.length);
  const bs = opts.batch ?? 16;
  const radius = opts.radius ?? 0.5;
  const geo = tokenGeometry(model);
  const dist: number[][] = Array.from({ length: geo.depth }, () => []);
  const hf = new Array<number>(geo.depth + 1).fill(0);
  const hf0 = new Array<number>(geo.depth + 1).fill(0);
  for (const batch of evalBatches(model, test, { maxImages: n, batchSize: bs })) {
    const idx = batch.indices;
    const x = tf.tensor4d(batch.x, batch.shape);
    const cap = captureLayers(model, x);
    x.dispose();
    const w = idx.length / n;
    cap.attn.forEach((a, l) => {
      if (!a) return;
      const d = meanAttentionDistance(a.data, a.shape, {
        grid: cap.grid,
        hasCls: cap.hasCls,
        pixelsPerToken: cap.pixelsPerToken,
      });
      dist[l] = d.map((v, h) => (dist[l][h] ?? 0) + w * v);
    });
    cap.tokens.forEach((t, l) => {
      hf[l] += w * highFrequencyShare(t.data, t.shape, { grid: cap.grid, hasCls: cap.hasCls, radius });
      hf0[l] +=
        w * highFrequencyShare(t.data, t.shape, { grid: cap.grid, hasCls: cap.hasCls, radius, removeMean: true });
    });
  }
  return {
    attentionDistance: dist,
    highFreqShare: hf,
    highFreqShareNoMean: hf0,
    grid: geo.grid,
    pixelsPerToken: geo.pixelsPerToken,
    images: n,
    radius,
  };
}
