import * as tf from '@tensorflow/tfjs';
import { type Ctx, Module, type Param, init } from './module';
import { Linear, LayerNorm, Mlp } from './layers';
import { MultiHeadAttention } from './attention';
import type { Rng } from '../util/rng';
import { ConfigError } from '../util/errors';

/**
 * Masked auto-encoding (He et al. 2022) as used on small images by Tan (arXiv 2402.03752, and for mmLiT in
 * 2407.17783): per-image random patch masking, an encoder that sees only the visible patches, a light decoder with
 * its own learned position embeddings and a learned mask token, and a loss on the masked patches plus a discounted
 * loss on the visible ones. Notes: docs/mlit.md §3, docs/mae.md §3.
 */

/** Visible patches per image: ⌊N·(1 − r)⌋ (docs/mae.md §3). The epsilon absorbs float error (10·(1 − 0.9) = 0.999…). */
export function visibleCount(numPatches: number, maskRatio: number): number {
  if (!(maskRatio >= 0 && maskRatio < 1))
    throw new ConfigError(`maskRatio=${maskRatio} is out of range; expected 0 ≤ maskRatio < 1`);
  const n = Math.floor(numPatches * (1 - maskRatio) + 1e-9);
  if (n < 1)
    throw new ConfigError(
      `maskRatio=${maskRatio} leaves no visible patch of ${numPatches}; expected ⌊N·(1 − maskRatio)⌋ ≥ 1`,
    );
  return n;
}

/** Which patches each image keeps. Indices are grid positions 0 … N−1, ascending within each image. */
export interface PatchMask {
  batch: number;
  numPatches: number;
  numVisible: number;
  numMasked: number;
  /** [B·numVisible], image-major. */
  visible: Int32Array;
  /** [B·numMasked], image-major. */
  masked: Int32Array;
}

/**
 * Per-image random masking: an independent random permutation per image (Fisher–Yates on `rng`, so the mask is a
 * function of the seed), the first ⌊N·(1 − r)⌋ positions stay visible. The class token is not a patch: it is never
 * masked.
 */
export function randomPatchMask(batch: number, numPatches: number, maskRatio: number, rng: Rng): PatchMask {
  const nv = visibleCount(numPatches, maskRatio);
  const nm = numPatches - nv;
  const visible = new Int32Array(batch * nv);
  const masked = new Int32Array(batch * nm);
  for (let b = 0; b < batch; b++) {
    const perm = rng.permutation(numPatches);
    const vis = Array.from(perm.subarray(0, nv)).sort((a, c) => a - c);
    const msk = Array.from(perm.subarray(nv)).sort((a, c) => a - c);
    visible.set(vis, b * nv);
    masked.set(msk, b * nm);
  }
  return { batch, numPatches, numVisible: nv, numMasked: nm, visible, masked };
}

/** Rows of x [B, N, D] at per-image indices (image-major, n per image) → [B, n, D]. Differentiable in x. */
export function gatherPatches(x: tf.Tensor3D, indices: Int32Array, n: number): tf.Tensor3D {
  const [b, N, d] = x.shape;
  if (indices.length !== b * n) throw new Error(`gatherPatches: ${indices.length} indices; expected B·n = ${b}·${n}`);
  const flat = Int32Array.from(indices, (v, i) => Math.floor(i / n) * N + v);
  return tf.tidy(() => tf.gather(x.reshape([b * N, d]), tf.tensor1d(flat, 'int32')).reshape([b, n, d]) as tf.Tensor3D);
}

/**
 * Per-patch normalisation of targets (He et al. 2022, §"Reconstruction target"): (t − mean)/√(var + 1e-6), unbiased
 * var.
 */
export function normalizePatches(t: tf.Tensor3D): tf.Tensor3D {
  return tf.tidy(() => {
    const p = t.shape[2];
    const mean = t.mean(-1, true);
    const variance = t
      .sub(mean)
      .square()
      .sum(-1, true)
      .div(Math.max(1, p - 1));
    return t.sub(mean).div(variance.add(1e-6).sqrt()) as tf.Tensor3D;
  });
}

export interface MaeLossParts {
  /** maskedMse + visibleWeight · visibleMse */
  loss: tf.Scalar;
  maskedMse: tf.Scalar;
  visibleMse: tf.Scalar;
}

/**
 * The discounted reconstruction loss of 2402.03752 [S]: MSE over the masked patches plus `visibleWeight` (the
 * discount, default 0.1 [T]) times the MSE over the visible patches. Each MSE is a mean over patches and pixel
 * values. With `normPix` the targets are normalised per patch first.
 */
export function maeLoss(
  pred: { visible: tf.Tensor3D; masked: tf.Tensor3D },
  target: { visible: tf.Tensor3D; masked: tf.Tensor3D },
  opts: { visibleWeight: number; normPix: boolean },
): MaeLossParts {
  return tf.tidy(() => {
    const tv = opts.normPix ? normalizePatches(target.visible) : target.visible;
    const tm = opts.normPix ? normalizePatches(target.masked) : target.masked;
    const maskedMse = pred.masked.sub(tm).square().mean() as tf.Scalar;
    const visibleMse = pred.visible.sub(tv).square().mean() as tf.Scalar;
    const loss = opts.visibleWeight > 0 ? (maskedMse.add(visibleMse.mul(opts.visibleWeight)) as tf.Scalar) : maskedMse;
    return { loss, maskedMse, visibleMse } as unknown as tf.TensorContainer;
  }) as unknown as MaeLossParts;
}

/** A pre-norm transformer block of the decoder: x + Attn(LN(x)), x + MLP(LN(x)). */
export class MaeDecoderBlock extends Module {
  readonly norm1: LayerNorm;
  readonly attn: MultiHeadAttention;
  readonly norm2: LayerNorm;
  readonly mlp: Mlp;
  constructor(dim: number, heads: number, mlpRatio: number, eps: number) {
    super();
    this.norm1 = this.child('norm1', new LayerNorm(dim, eps));
    this.attn = this.child('attn', new MultiHeadAttention(dim, heads));
    this.norm2 = this.child('norm2', new LayerNorm(dim, eps));
    this.mlp = this.child('mlp', new Mlp(dim, Math.round(mlpRatio * dim)));
  }
  forward(x: tf.Tensor3D, ctx: Ctx): tf.Tensor3D {
    return tf.tidy(() => {
      const h = x.add(this.attn.forward(this.norm1.forward(x) as tf.Tensor3D, ctx)) as tf.Tensor3D;
      return h.add(this.mlp.forward(this.norm2.forward(h), ctx)) as tf.Tensor3D;
    });
  }
}

export interface MaeDecoderOptions {
  /** Width of the tokens handed over by the encoder. */
  inDim: number;
  dim: number;
  depth: number;
  heads: number;
  mlpRatio: number;
  numPatches: number;
  /** Pixels per patch (C·p²): the prediction width. */
  patchDim: number;
  /**
   * Own learned mask token in decoder space (He et al.); false when the encoder supplies mask tokens (mLiT's
   * MaskEmbed).
   */
  maskToken: boolean;
  layerNormEps?: number;
}

/**
 * The decoder: Linear(inDim → dim), the learned mask token for every masked position, its own learned position
 * table ((N+1) × dim; row N is the class token's), `depth` pre-norm blocks, LayerNorm, Linear(dim → C·p²).
 * Tokens are kept in the order they arrive (visible …, class, masked …): attention does not care about order once
 * each token carries its position embedding, so nothing is un-shuffled.
 */
export class MaeDecoder extends Module {
  readonly embed: Linear;
  readonly maskToken: Param | null;
  readonly posEmbed: Param;
  readonly blocks: MaeDecoderBlock[];
  readonly norm: LayerNorm;
  readonly pred: Linear;
  constructor(readonly o: MaeDecoderOptions) {
    super();
    const eps = o.layerNormEps ?? 1e-5;
    this.embed = this.child('embed', new Linear(o.inDim, o.dim));
    this.maskToken = o.maskToken ? this.param('mask_token', [o.dim], init.normal(0.02), { decay: false }) : null;
    this.posEmbed = this.param('pos_embed', [o.numPatches + 1, o.dim], init.normal(0.02), { decay: false });
    this.blocks = this.children(
      'blocks',
      Array.from({ length: o.depth }, () => new MaeDecoderBlock(o.dim, o.heads, o.mlpRatio, eps)),
    );
    this.norm = this.child('norm', new LayerNorm(o.dim, eps));
    this.pred = this.child('pred', new Linear(o.dim, o.patchDim));
  }

  /**
   * tokens: [B, T, inDim] from the encoder; positions: [B, T + numMask] int32 grid indices (N = class token) of the
   * tokens followed by the masked positions that get the decoder's mask token (numMask = 0 when the encoder already
   * supplied them). Returns pixel predictions [B, T + numMask, C·p²] in the same order.
   */
  forward(tokens: tf.Tensor3D, positions: tf.Tensor2D, numMask: number, ctx: Ctx): tf.Tensor3D {
    const [b, t] = tokens.shape;
    if (positions.shape[1] !== t + numMask)
      throw new Error(`MaeDecoder: ${positions.shape[1]} positions; expected tokens + masked = ${t} + ${numMask}`);
    if (numMask > 0 && !this.maskToken)
      throw new Error('MaeDecoder: masked positions given but this decoder has no mask token (maskToken: false)');
    return tf.tidy(() => {
      let h = this.embed.forward(tokens, ctx) as tf.Tensor3D;
      if (numMask > 0)
        h = tf.concat(
          [h, tf.tile(this.maskToken!.value.reshape([1, 1, this.o.dim]), [b, numMask, 1]) as tf.Tensor3D],
          1,
        );
      const pe = tf.gather(this.posEmbed.value, positions.reshape([-1])).reshape([b, t + numMask, this.o.dim]);
      h = h.add(pe) as tf.Tensor3D;
      for (const blk of this.blocks) h = blk.forward(h, ctx);
      return this.pred.forward(this.norm.forward(h), ctx) as tf.Tensor3D;
    });
  }
}

/** Closed-form parameter count of MaeDecoder (independent of the modules). */
export function maeDecoderParams(o: MaeDecoderOptions): number {
  const d = o.dim;
  const h = Math.round(o.mlpRatio * d);
  const block = 4 * d + (3 * d * d + 3 * d) + (d * d + d) + (d * h + h) + (h * d + d);
  return (
    o.inDim * d +
    d +
    (o.maskToken ? d : 0) +
    (o.numPatches + 1) * d +
    o.depth * block +
    2 * d +
    d * o.patchDim +
    o.patchDim
  );
}
