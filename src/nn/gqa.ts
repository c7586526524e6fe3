import * as tf from '@tensorflow/tfjs';
import { type Ctx, Module, type InitFn } from './module';
import { Linear, dropout } from './layers';
import { ConfigError } from '../util/errors';

/**
 * Grouped-query attention (Ainslie et al. 2023), as wired in the mLiT author's code (docs/mlit.md §2.5):
 * `heads` query projections share `groups` key/value projections, `heads/groups` queries per group, heads ordered
 * group-major (query head j of group g is head g·(heads/groups) + j). Every projection is bias-free by default;
 * head_dim = dim/heads; scale 1/√head_dim; no attention dropout; output Linear(dim → dim) then dropout.
 * groups = heads is multi-head attention, groups = 1 multi-query attention.
 *
 * Parameters: Q dim², K = V = groups·head_dim·dim each, O dim² (+ biases when enabled).
 */
export interface GqaOptions {
  /** Biases in the q/k/v/o projections (mLiT: none). */
  bias?: boolean;
  /** Dropout on the output projection (mLiT: 0.1). */
  projDropout?: number;
  weightInit?: (fanIn: number) => InitFn;
}

export class GroupedQueryAttention extends Module {
  readonly q: Linear;
  readonly k: Linear;
  readonly v: Linear;
  readonly proj: Linear;
  readonly headDim: number;

  constructor(
    readonly dim: number,
    readonly heads: number,
    readonly groups: number,
    readonly opts: GqaOptions = {},
  ) {
    super();
    if (dim % heads !== 0)
      throw new ConfigError(
        `GQA: dim=${dim} is not divisible by heads=${heads}; expected dim to be a multiple of heads`,
      );
    if (heads % groups !== 0)
      throw new ConfigError(
        `GQA: heads=${heads} is not divisible by groups=${groups}; expected 1 ≤ groups ≤ heads with heads a ` +
          `multiple of groups`,
      );
    this.headDim = dim / heads;
    const bias = opts.bias ?? false;
    const wi = opts.weightInit;
    this.q = this.child('q', new Linear(dim, dim, { bias, weightInit: wi?.(dim) }));
    this.k = this.child('k', new Linear(dim, groups * this.headDim, { bias, weightInit: wi?.(dim) }));
    this.v = this.child('v', new Linear(dim, groups * this.headDim, { bias, weightInit: wi?.(dim) }));
    this.proj = this.child('proj', new Linear(dim, dim, { bias, weightInit: wi?.(dim) }));
  }

  /** x: [B, T, dim] → [B, T, dim]. Records attention probabilities [B, heads, T, T] under `recordKey`. */
  forward(x: tf.Tensor3D, ctx: Ctx, recordKey?: string): tf.Tensor3D {
    return tf.tidy(() => {
      const [b, t] = x.shape;
      const g = this.groups;
      const r = this.heads / g;
      const d = this.headDim;
      // Queries of one group stacked along the token axis, [B, G, r·T, d], so every group's r query heads meet the
      // group's single K/V with one batched matmul instead of tiling K and V r times.
      const q = this.q
        .forward(x, ctx)
        .reshape([b, t, this.heads, d])
        .transpose([0, 2, 1, 3])
        .reshape([b, g, r * t, d]);
      const k = this.k.forward(x, ctx).reshape([b, t, g, d]).transpose([0, 2, 1, 3]) as tf.Tensor4D;
      const v = this.v.forward(x, ctx).reshape([b, t, g, d]).transpose([0, 2, 1, 3]) as tf.Tensor4D;
      ctx.macs?.add('attention', 2 * b * this.heads * t * t * d);
      const probs = tf.softmax(tf.matMul(q as tf.Tensor4D, k, false, true).mul(1 / Math.sqrt(d)));
      if (ctx.record && recordKey) ctx.record(recordKey, probs.reshape([b, this.heads, t, t]));
      const o = tf
        .matMul(probs as tf.Tensor4D, v)
        .reshape([b, this.heads, t, d])
        .transpose([0, 2, 1, 3])
        .reshape([b, t, this.dim]);
      return dropout(this.proj.forward(o, ctx), this.opts.projDropout ?? 0, ctx) as tf.Tensor3D;
    });
  }

  /** Closed-form parameter count (independent of the modules, for tests and budget tables). */
  static paramCount(dim: number, heads: number, groups: number, bias = false): number {
    const kv = groups * (dim / heads);
    return 2 * dim * dim + 2 * kv * dim + (bias ? 2 * dim + 2 * kv : 0);
  }
}
