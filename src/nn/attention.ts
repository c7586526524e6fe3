import * as tf from '@tensorflow/tfjs';
import { type Ctx, Module, type InitFn, init } from './module';
import { Linear, dropout } from './layers';
import { FUSED } from '../backend/kernel-names';
import { hasKernel, packedSelfAttention } from './fused';

/**
 * Scaled dot-product attention over heads. q: [B, H, Tq, d], k and v: [B, H, Tk, d]; optional additive bias
 * broadcastable to [B, H, Tq, Tk] (relative position bias, shifted-window mask). Counts 2·T²·d MACs per head.
 * Records the attention probabilities under `key` when the ctx has a recorder.
 */
export function scaledDotProductAttention(
  q: tf.Tensor4D,
  k: tf.Tensor4D,
  v: tf.Tensor4D,
  ctx: Ctx,
  opts: { bias?: tf.Tensor; dropout?: number; recordKey?: string; scale?: number } = {},
): tf.Tensor4D {
  const [b, h, tq, d] = q.shape;
  const tk = k.shape[2];
  ctx.macs?.add('attention', 2 * b * h * tq * tk * d);
  let logits = tf.matMul(q, k, false, true).mul(opts.scale ?? 1 / Math.sqrt(d)) as tf.Tensor4D;
  if (opts.bias) logits = logits.add(opts.bias);
  const probs = tf.softmax(logits);
  if (ctx.record && opts.recordKey) ctx.record(opts.recordKey, probs);
  return tf.matMul(dropout(probs, opts.dropout ?? 0, ctx) as tf.Tensor4D, v);
}

/** [B, T, H·d] → [B, H, T, d] */
export function splitHeads(x: tf.Tensor, heads: number): tf.Tensor4D {
  const [b, t, c] = x.shape;
  return x.reshape([b, t, heads, c / heads]).transpose([0, 2, 1, 3]);
}

/** [B, H, T, d] → [B, T, H·d] */
export function mergeHeads(x: tf.Tensor4D): tf.Tensor3D {
  const [b, h, t, d] = x.shape;
  return x.transpose([0, 2, 1, 3]).reshape([b, t, h * d]);
}

export interface MhaOptions {
  qkvBias?: boolean;
  projBias?: boolean;
  attnDropout?: number;
  projDropout?: number;
  weightInit?: (fanIn: number) => InitFn;
  /**
   * Init of the qkv and proj biases. Default: zeros when `weightInit` is given (timm's ViT and EIT zero every Linear
   * bias they re-initialise), PyTorch's U(±1/√fan_in) otherwise (plain nn.Linear).
   */
  biasInit?: InitFn;
  /** Output width (default: input width). */
  outDim?: number;
}

/** Multi-head self-attention with a fused qkv projection (ViT/timm layout). x: [B, T, C]. */
export class MultiHeadAttention extends Module {
  readonly qkv: Linear;
  readonly proj: Linear;
  constructor(
    readonly dim: number,
    readonly heads: number,
    readonly opts: MhaOptions = {},
  ) {
    super();
    const wi = opts.weightInit;
    const bi = opts.biasInit ?? (wi ? init.zeros() : undefined);
    this.qkv = this.child(
      'qkv',
      new Linear(dim, 3 * dim, { bias: opts.qkvBias ?? true, weightInit: wi?.(dim), biasInit: bi }),
    );
    this.proj = this.child(
      'proj',
      new Linear(dim, opts.outDim ?? dim, { bias: opts.projBias ?? true, weightInit: wi?.(dim), biasInit: bi }),
    );
  }

  forward(x: tf.Tensor3D, ctx: Ctx, recordKey?: string, bias?: tf.Tensor): tf.Tensor3D {
    const [b, t] = x.shape;
    const d = this.dim / this.heads;
    const qkv = this.qkv.forward(x, ctx).reshape([b, t, 3, this.heads, d]);
    const attnDropout = ctx.training ? (this.opts.attnDropout ?? 0) : 0;
    const fusable = !bias && !(ctx.record && recordKey) && attnDropout <= 0 && qkv.dtype === 'float32';
    if (fusable && hasKernel(FUSED.attention)) {
      // one native kernel from the packed projection to the merged heads (same function as the composite below)
      ctx.macs?.add('attention', 2 * b * this.heads * t * t * d);
      const o = packedSelfAttention(qkv, 1 / Math.sqrt(d));
      return dropout(this.proj.forward(o, ctx), this.opts.projDropout ?? 0, ctx) as tf.Tensor3D;
    }
    // split q, k, v along axis 2 before the head transpose: three rank-4 transposes are much cheaper on wasm than one rank-5
    const [q, k, v] = tf
      .split(qkv, 3, 2)
      .map((u) => u.reshape([b, t, this.heads, d]).transpose([0, 2, 1, 3]) as tf.Tensor4D);
    const o = scaledDotProductAttention(q, k, v, ctx, { dropout: this.opts.attnDropout, recordKey, bias });
    return dropout(this.proj.forward(mergeHeads(o), ctx), this.opts.projDropout ?? 0, ctx) as tf.Tensor3D;
  }
}
