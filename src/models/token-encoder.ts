import * as tf from '@tensorflow/tfjs';
import { type Ctx, type Param, addAux, init } from '../nn/module';
import { Linear, type LayerNorm, dropout } from '../nn/layers';
import { patchify, type PatchOrder } from '../nn/patch';
import { tidyObject } from '../nn/moe';
import type { BaseConfig } from './config';
import { ClassifierModel } from './registry';

/**
 * The token encoder of the mLiT author's code (docs/mlit.md §2.3), shared by the plain ViT of 2402.03752 (`MaeVit`)
 * and mLiT (`Mlit`):
 * 1. patchify, each patch flattened in `patchOrder` (the MAE reconstruction target too);
 * 2. `Proj(patch) + PosEmbed(index)` with a learned (N+1) × m table N(0, σ);
 * 3. the class token appended **last**: an all-zero patch, so its embedding is `PosEmbed(N)` (+ the projection's
 *    bias when it has one);
 * 4. the blocks, then a final LayerNorm; classification from the last token through dropout and a Linear head.
 * Subclasses build the blocks, the final norm and the head, and run one block in `runBlock`.
 */

/** Block orders: the usual pre-norm block, or the author's code where the residual restarts from LN(x). */
export const BLOCK_ORDERS = ['ln-then-residual', 'pre-norm'] as const;
export type BlockOrder = (typeof BLOCK_ORDERS)[number];

/**
 * The attention half of a block. 'pre-norm': `x + f(LN(x))`; 'ln-then-residual' (author's code, docs/mlit.md §2.4):
 * `LN(x) + f(LN(x))`, the residual stream restarting from the normalised tensor.
 */
export function attentionResidual(
  order: BlockOrder,
  x: tf.Tensor3D,
  norm: LayerNorm,
  f: (xn: tf.Tensor3D) => tf.Tensor3D,
): tf.Tensor3D {
  const xn = norm.forward(x) as tf.Tensor3D;
  return (order === 'ln-then-residual' ? xn : x).add(f(xn));
}

/** Config keys the encoder reads; both MaeVitConfig and MlitConfig have them. */
export interface TokenEncoderConfig extends BaseConfig {
  patchSize: number;
  embedDim: number;
  /** Layout of a patch vector: 'chw' (PyTorch unfold, author's code) or 'hwc'. */
  patchOrder: PatchOrder;
  /** Dropout before the classification head. */
  headDropout: number;
}

/** Encoder tokens and the routers' balancing loss. */
export interface EncoderOutput {
  /** Encoder tokens after the final LayerNorm: [B, n(+1), m] (class token last when included). */
  tokens: tf.Tensor3D;
  /** Σ over layers of the balancing losses, not yet weighted; null without routers or in evaluation. */
  aux: tf.Scalar | null;
}

export abstract class TokenEncoder<C extends TokenEncoderConfig> extends ClassifierModel<C> {
  readonly patchEmbed: Linear;
  /** (N+1) × m; row N belongs to the class token. */
  readonly posEmbed: Param;
  readonly numPatches: number;
  abstract readonly norm: LayerNorm;
  abstract readonly head: Linear;

  /** Builds the patch projection and the position table (first, so parameter order and seeded init are stable). */
  constructor(c: C, opts: { patchBias: boolean; posEmbedStd: number }) {
    super(c);
    this.numPatches = (c.imageSize / c.patchSize) ** 2;
    const pdim = c.inChannels * c.patchSize ** 2;
    this.patchEmbed = this.child('patch_embed', new Linear(pdim, c.embedDim, { bias: opts.patchBias }));
    this.posEmbed = this.param('pos_embed', [this.numPatches + 1, c.embedDim], init.normal(opts.posEmbedStd), {
      decay: false,
    });
  }

  /** Number of blocks `runBlock` accepts. */
  protected abstract get blockCount(): number;
  /** Block i on tokens t: its output and balancing loss (null when none). */
  protected abstract runBlock(i: number, t: tf.Tensor3D, ctx: Ctx): { x: tf.Tensor3D; aux: tf.Scalar | null };
  /** Dropout on the input tokens (0 = none). */
  protected get embedDropout(): number {
    return 0;
  }
  /** Weight of the encoder's balancing loss when `forward` adds it to ctx as 'moe_balance' (0 = not added). */
  protected get auxWeight(): number {
    return 0;
  }

  /** Images → flattened patches [B, N, C·p²] in the config's order (the MAE reconstruction target too). */
  patches(x: tf.Tensor4D): tf.Tensor3D {
    return patchify(x, this.config.patchSize, this.config.patchOrder);
  }

  /** Position-table rows at `positions` [B, n] (int32 in 0 … N): [B, n, m], by a one-hot product. */
  positionRows(positions: tf.Tensor2D): tf.Tensor3D {
    const [b, n] = positions.shape;
    return tf.tidy(() => {
      const rows = tf.oneHot(positions.reshape([b * n]), this.numPatches + 1).toFloat();
      return tf.matMul(rows, this.posEmbed.value as tf.Tensor2D).reshape([b, n, this.config.embedDim]) as tf.Tensor3D;
    });
  }

  /**
   * The encoder's input tokens: `Proj(patch) + PosEmbed(index)`, then the class token last when `withClass`.
   * patches: [B, n, C·p²]; positions: [B, n] int32 grid indices, or null for all N patches in grid order.
   */
  embed(
    patches: tf.Tensor3D,
    positions: tf.Tensor2D | null,
    ctx: Ctx,
    opts: { withClass?: boolean } = {},
  ): tf.Tensor3D {
    const [b, n] = patches.shape;
    const m = this.config.embedDim;
    return tf.tidy(() => {
      let t = this.patchEmbed.forward(patches, ctx) as tf.Tensor3D;
      if (positions) t = t.add(this.positionRows(positions));
      else {
        if (n !== this.numPatches) {
          throw new Error(
            `${this.constructor.name}.encode: ${n} patches without positions; expected all ${this.numPatches} ` +
              `(or pass positions)`,
          );
        }
        t = t.add(this.posEmbed.value.slice([0, 0], [n, m]));
      }
      if (opts.withClass ?? true) {
        // the class "patch" is all zeros: its embedding is PosEmbed(N) plus the projection's bias, if any
        let cls = this.posEmbed.value.slice([this.numPatches, 0], [1, m]).reshape([1, 1, m]);
        if (this.patchEmbed.bias) cls = cls.add(this.patchEmbed.bias.value);
        t = tf.concat([t, tf.tile(cls, [b, 1, 1]) as tf.Tensor3D], 1);
      }
      return dropout(t, this.embedDropout, ctx) as tf.Tensor3D;
    });
  }

  /**
   * Encode a set of patches with their grid positions (the MAE entry point): `embed`, the blocks, the final
   * LayerNorm. The routers' balancing loss is returned (summed over blocks), not added to ctx.
   */
  encode(
    patches: tf.Tensor3D,
    positions: tf.Tensor2D | null,
    ctx: Ctx,
    opts: { withClass?: boolean } = {},
  ): EncoderOutput {
    return tidyObject((): EncoderOutput => {
      let t = this.embed(patches, positions, ctx, opts);
      let aux: tf.Scalar | null = null;
      for (let i = 0; i < this.blockCount; i++) {
        const out = this.runBlock(i, t, ctx);
        t = out.x;
        if (out.aux) aux = aux ? (aux.add(out.aux) as tf.Scalar) : out.aux;
      }
      return { tokens: this.norm.forward(t) as tf.Tensor3D, aux };
    });
  }

  /** Logits from the class token (the last one; no pooling). Adds auxWeight · aux to ctx as 'moe_balance'. */
  forward(x: tf.Tensor4D, ctx: Ctx): tf.Tensor2D {
    const c = this.config;
    const w = this.auxWeight;
    const res = tidyObject(() => {
      const enc = this.encode(this.patches(x), null, ctx);
      const T = enc.tokens.shape[1];
      const cls = enc.tokens.slice([0, T - 1, 0], [-1, 1, -1]).reshape([x.shape[0], c.embedDim]);
      const logits = this.head.forward(dropout(cls, c.headDropout, ctx), ctx) as tf.Tensor2D;
      const aux: tf.Scalar | null = enc.aux && w > 0 ? (enc.aux.mul(w) as tf.Scalar) : null;
      return { logits, aux };
    });
    if (res.aux) addAux(ctx, 'moe_balance', res.aux);
    return res.logits;
  }
}
