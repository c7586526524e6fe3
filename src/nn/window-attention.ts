import * as tf from '@tensorflow/tfjs';
import { type Ctx, Module, type Param, type InitFn, init } from './module';
import { Linear, dropout } from './layers';
import { splitHeads, mergeHeads } from './attention';
import { ConfigError } from '../util/errors';

/**
 * Swin-style (shifted-)window multi-head self-attention (Liu et al. 2021), the "local attention" of
 * "Demystifying Local Vision Transformer" (arXiv 2106.04263). NHWC feature maps; every helper uses rank ≤ 4
 * transposes (rank ≥ 5 transposes are slow on wasm).
 */

/** [B, H, W, C] → [B·nW, w·w, C], windows row-major over the grid, tokens row-major within a window. */
export function windowPartition(x: tf.Tensor4D, w: number): tf.Tensor3D {
  const [b, h, wd, c] = x.shape;
  return tf.tidy(
    () =>
      x
        .reshape([b * (h / w), w, wd / w, w * c])
        .transpose([0, 2, 1, 3])
        .reshape([b * (h / w) * (wd / w), w * w, c]) as tf.Tensor3D,
  );
}

/** Inverse of `windowPartition`: [B·nW, w·w, C] → [B, H, W, C]. */
export function windowReverse(t: tf.Tensor3D, w: number, h: number, wd: number): tf.Tensor4D {
  const c = t.shape[2];
  const b = t.shape[0] / ((h / w) * (wd / w));
  return tf.tidy(
    () =>
      t
        .reshape([b * (h / w), wd / w, w, w * c])
        .transpose([0, 2, 1, 3])
        .reshape([b, h, wd, c]) as tf.Tensor4D,
  );
}

/** torch.roll(x, (shift, shift), dims=(1, 2)) on NHWC: out[i] = x[(i − shift) mod n]. */
export function cyclicShift(x: tf.Tensor4D, shift: number): tf.Tensor4D {
  if (shift === 0) return x;
  return tf.tidy(() => {
    const roll = (t: tf.Tensor4D, axis: 1 | 2): tf.Tensor4D => {
      const n = t.shape[axis];
      const s = ((shift % n) + n) % n;
      if (s === 0) return t;
      const [head, tail] = tf.split(t, [n - s, s], axis);
      return tf.concat([tail, head], axis) as tf.Tensor4D;
    };
    return roll(roll(x, 1), 2);
  });
}

/**
 * Swin's relative position index: idx[i·N + j] into the (2·full−1)² bias table for tokens i, j of a w×w window
 * (N = w²). `full` is the configured window; a window clipped to a smaller map (w < full) uses the entries of the
 * offsets it can see.
 */
export function relativePositionIndex(w: number, full = w): Int32Array {
  const n = w * w;
  const idx = new Int32Array(n * n);
  for (let i = 0; i < n; i++) {
    for (let j = 0; j < n; j++) {
      const dh = Math.floor(i / w) - Math.floor(j / w) + full - 1;
      const dw = (i % w) - (j % w) + full - 1;
      idx[i * n + j] = dh * (2 * full - 1) + dw;
    }
  }
  return idx;
}

/**
 * Swin's attention mask for shifted windows [nW, N, N]: 0 where query and key came from the same region of the
 * un-shifted image, −100 where the cyclic shift made them neighbours only by wrapping around.
 */
export function shiftedWindowMask(h: number, wd: number, w: number, shift: number): Float32Array {
  const region = (i: number, n: number) => (i < n - w ? 0 : i < n - shift ? 1 : 2);
  const label = new Int32Array(h * wd);
  for (let i = 0; i < h; i++) for (let j = 0; j < wd; j++) label[i * wd + j] = region(i, h) * 3 + region(j, wd);
  const nWh = h / w;
  const nWw = wd / w;
  const n = w * w;
  const mask = new Float32Array(nWh * nWw * n * n);
  for (let a = 0; a < nWh; a++) {
    for (let bw = 0; bw < nWw; bw++) {
      const win = a * nWw + bw;
      const lab = new Int32Array(n);
      for (let t = 0; t < n; t++) lab[t] = label[(a * w + Math.floor(t / w)) * wd + bw * w + (t % w)];
      for (let i = 0; i < n; i++)
        for (let j = 0; j < n; j++) mask[(win * n + i) * n + j] = lab[i] === lab[j] ? 0 : -100;
    }
  }
  return mask;
}

export interface WindowAttentionOptions {
  qkvBias?: boolean;
  attnDropout?: number;
  projDropout?: number;
  weightInit?: (fanIn: number) => InitFn;
  /** Add Swin's learned relative position bias (default true). */
  relativePositionBias?: boolean;
}

/**
 * Window multi-head self-attention with relative position bias on NHWC maps. Split as in the paper's analysis
 * (Sec. 3): `weights` gives the dynamic aggregation weights a_ij (one per head, shared by the head's channels),
 * `aggregate` computes y_i = Σ_{j∈window(i)} a_ij v_j per head. A head of one channel (heads = dim) makes the
 * weights per channel (the paper's weight-sharing study).
 */
export class WindowAttention extends Module {
  readonly qkv: Linear;
  readonly proj: Linear;
  readonly relBiasTable: Param | null;
  constructor(
    readonly dim: number,
    readonly heads: number,
    readonly window: number,
    readonly opts: WindowAttentionOptions = {},
  ) {
    super();
    if (dim % heads !== 0) throw new ConfigError(`WindowAttention: dim=${dim} is not divisible by heads=${heads}`);
    if (!Number.isInteger(window) || window < 1)
      throw new ConfigError(`WindowAttention: window=${window} must be a positive integer`);
    const wi = opts.weightInit;
    this.qkv = this.child(
      'qkv',
      new Linear(dim, 3 * dim, {
        bias: opts.qkvBias ?? true,
        weightInit: wi?.(dim),
        biasInit: wi ? init.zeros() : undefined,
      }),
    );
    this.proj = this.child(
      'proj',
      new Linear(dim, dim, { weightInit: wi?.(dim), biasInit: wi ? init.zeros() : undefined }),
    );
    this.relBiasTable =
      opts.relativePositionBias === false
        ? null
        : this.param('relative_position_bias_table', [(2 * window - 1) ** 2, heads], init.truncNormal(0.02), {
            decay: false,
          });
  }

  /** Additive bias [1 or nW, heads, N, N] for windows of side `w` (≤ this.window): relative position + shift mask. */
  private bias(w: number, mask: Float32Array | null, nW: number): tf.Tensor | undefined {
    const n = w * w;
    let bias: tf.Tensor | undefined;
    if (this.relBiasTable) {
      const m = (2 * this.window - 1) ** 2;
      // one-hot matmul instead of gather: differentiable on every backend
      const onehot = tf.tensor2d(relativeOneHot(w, this.window), [n * n, m]);
      bias = tf
        .matMul(onehot, this.relBiasTable.value as tf.Tensor2D)
        .transpose([1, 0])
        .reshape([1, this.heads, n, n]);
    }
    if (mask) {
      const mt = tf.tensor4d(mask, [nW, 1, n, n]);
      bias = bias ? bias.add(mt) : mt;
    }
    return bias;
  }

  /** Attention weights a_ij [B·nW, heads, N, N] of windows [B·nW, N, C] (shift mask given per window). */
  weights(xw: tf.Tensor3D, ctx: Ctx, w: number, mask: Float32Array | null = null, recordKey?: string): tf.Tensor4D {
    return tf.tidy(() => {
      const [q, k] = this.splitQkv(this.qkv.forward(xw, ctx) as tf.Tensor3D);
      return this.attend(q, k, ctx, w, mask, recordKey);
    });
  }

  private splitQkv(qkv: tf.Tensor3D): [tf.Tensor3D, tf.Tensor3D, tf.Tensor3D] {
    return tf.split(qkv, 3, 2) as [tf.Tensor3D, tf.Tensor3D, tf.Tensor3D];
  }

  /** softmax(q kᵀ/√d + B_rel + mask) per head (Swin Eq. 4). q, k: [B·nW, N, C]. */
  private attend(
    q3: tf.Tensor3D,
    k3: tf.Tensor3D,
    ctx: Ctx,
    w: number,
    mask: Float32Array | null,
    recordKey?: string,
  ): tf.Tensor4D {
    const [bw, n] = q3.shape;
    const d = this.dim / this.heads;
    return tf.tidy(() => {
      ctx.macs?.add('attention', bw * this.heads * n * n * d);
      let logits = tf
        .matMul(splitHeads(q3, this.heads), splitHeads(k3, this.heads), false, true)
        .mul(1 / Math.sqrt(d)) as tf.Tensor4D;
      const nW = mask ? mask.length / (n * n) : 1;
      const bias = this.bias(w, mask, nW);
      if (bias) {
        // bias [nW or 1, heads or 1, N, N] broadcast over the images of the batch
        const [bn, bh] = bias.shape;
        logits = logits
          .reshape([bw / bn, bn, this.heads, n * n])
          .add(bias.reshape([1, bn, bh, n * n]))
          .reshape([bw, this.heads, n, n]) as tf.Tensor4D;
      }
      const probs = tf.softmax(logits);
      if (ctx.record && recordKey) ctx.record(recordKey, probs);
      return dropout(probs, this.opts.attnDropout ?? 0, ctx) as tf.Tensor4D;
    });
  }

  /** y_i = Σ_j a_ij v_j within each window, per head: v [B·nW, N, C], a [B·nW, heads, N, N] → [B·nW, N, C]. */
  aggregate(v: tf.Tensor3D, a: tf.Tensor4D, ctx?: Ctx): tf.Tensor3D {
    const [bw, n, c] = v.shape;
    ctx?.macs?.add('attention', bw * n * n * c);
    return tf.tidy(() => mergeHeads(tf.matMul(a, splitHeads(v, this.heads))));
  }

  /**
   * (Shifted-)window attention on a NHWC map: cyclic shift by −shift, partition into w×w windows, attention with
   * relative position bias (and the shift mask), reverse, shift back. Swin's rule: a map no larger than the window
   * is one window without shift.
   */
  forward(x: tf.Tensor4D, ctx: Ctx, shift = 0, recordKey?: string): tf.Tensor4D {
    const [, h, wd] = x.shape;
    const { w, s } = effectiveWindow(h, wd, this.window, shift);
    return tf.tidy(() => {
      const xs = cyclicShift(x, -s);
      const xw = windowPartition(xs, w);
      const mask = s > 0 ? cachedMask(h, wd, w, s) : null;
      const [q, k, v] = this.splitQkv(this.qkv.forward(xw, ctx) as tf.Tensor3D);
      const a = this.attend(q, k, ctx, w, mask, recordKey);
      const y = dropout(
        this.proj.forward(this.aggregate(v, a, ctx), ctx),
        this.opts.projDropout ?? 0,
        ctx,
      ) as tf.Tensor3D;
      return cyclicShift(windowReverse(y, w, h, wd), s);
    });
  }
}

/** Swin's rule for small maps: if min(H, W) ≤ window, one window covering the map and no shift. */
export function effectiveWindow(h: number, wd: number, window: number, shift: number): { w: number; s: number } {
  if (Math.min(h, wd) <= window) {
    if (h !== wd)
      throw new ConfigError(`window attention: a ${h}×${wd} map smaller than window ${window} must be square`);
    return { w: h, s: 0 };
  }
  if (h % window !== 0 || wd % window !== 0) {
    throw new ConfigError(
      `window attention: feature map ${h}×${wd} is not divisible by window ${window}; expected multiples of ${window}`,
    );
  }
  return { w: window, s: shift };
}

const ONE_HOT_CACHE = new Map<string, Float32Array>();

/** [N·N, (2·full−1)²] one-hot rows of `relativePositionIndex(w, full)`: each token pair's entry of the bias table. */
function relativeOneHot(w: number, full: number): Float32Array {
  const key = `${w}/${full}`;
  let oh = ONE_HOT_CACHE.get(key);
  if (!oh) {
    const m = (2 * full - 1) ** 2;
    const idx = relativePositionIndex(w, full);
    oh = new Float32Array(idx.length * m);
    idx.forEach((k, pair) => (oh![pair * m + k] = 1));
    ONE_HOT_CACHE.set(key, oh);
  }
  return oh;
}

const MASK_CACHE = new Map<string, Float32Array>();
function cachedMask(h: number, wd: number, w: number, s: number): Float32Array {
  const key = `${h}/${wd}/${w}/${s}`;
  let m = MASK_CACHE.get(key);
  if (!m) {
    m = shiftedWindowMask(h, wd, w, s);
    MASK_CACHE.set(key, m);
  }
  return m;
}
