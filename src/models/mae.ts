import * as tf from '@tensorflow/tfjs';
import { type Ctx, Module, type Param, addAux } from '../nn/module';
import { Linear, LayerNorm, Mlp, type Activation, dropPath } from '../nn/layers';
import { MultiHeadAttention } from '../nn/attention';
import { unpatchify, type PatchOrder } from '../nn/patch';
import {
  MaeDecoder,
  type MaeDecoderOptions,
  type PatchMask,
  gatherPatches,
  maeDecoderParams,
  maeLoss,
  randomPatchMask,
  visibleCount,
} from '../nn/mae';
import { tidyObject } from '../nn/moe';
import { type BaseConfig, check, type OneOf } from './config';
import { ClassifierModel, type ModelFamily, registerModel } from './registry';
import { mlitFamily, MLIT_PRESETS, type MlitConfig } from './mlit';
import { ACTIVATIONS } from './vit';
import { TokenEncoder, attentionResidual, type BlockOrder, type EncoderOutput } from './token-encoder';

/**
 * "Pre-training of Lightweight Vision Transformers on Small Datasets with Minimally Scaled Images" (Tan, arXiv
 * 2402.03752) and the MAE pre-training of mLiT (mmLiT, arXiv 2407.17783). Notes: docs/mae.md, docs/mlit.md §3.
 *
 * 1. `mae-vit`: the paper's plain ViT — 12 blocks, FFN 2× [P], 36×36 inputs (CIFAR 32 upscaled) [S], under 3.65M
 *    parameters and 0.27 GMACs [P]. Width, heads and patch are open (docs/mae.md §2): width 192 with patch 6 on 36×36
 *    (6×6 = 36 patches + class token) is the choice that keeps width 192 and meets both bounds (3.59M / 0.138 GMACs
 * with 10 classes); patch 4 at 36×36 would need 0.29 GMACs in its Linears alone (0.32 with attention). Heads 3
 * (head_dim 64, DeiT-Ti's choice) [I]. The
 *    token pipeline follows the author's later code [A], as docs/mae.md §2 suggests [I]: bias-free patch projection,
 *    a learned (N+1)×m position table N(0, 1), a zero "class patch" appended last (its embedding is its position
 *    row), final LayerNorm, classification from the last token.
 * 2. The MAE pre-trainer (`mae-vit-pretrain`, `mmlit-*-pretrain`): any encoder that can "encode visible tokens"
 *    (`MaeEncoder`) plus `MaeDecoder`; its objective is `pretrainLoss`.
 */

// ───────────────────────────── the plain ViT of 2402.03752 ─────────────────────────────

export interface MaeVitConfig extends BaseConfig {
  patchSize: number;
  embedDim: number;
  depth: number;
  numHeads: number;
  /** FFN hidden = mlpRatio · embedDim (2 in the paper [P]). */
  mlpRatio: number;
  /** Biases in attention, FFN and head Linears. */
  bias: boolean;
  /** Bias in the patch projection (author's code: none, so the zero class patch embeds to its position row). */
  patchBias: boolean;
  /** Std of the N(0, σ) init of the position table (author's code: 1, nn.Embedding's default). */
  posEmbedStd: number;
  /** 'pre-norm' (x + Attn(LN(x))) or 'ln-then-residual' (author's later mLiT code). */
  blockOrder: BlockOrder;
  activation: Activation;
  /** Layout of a patch vector: 'chw' (PyTorch unfold, author's code) or 'hwc'. Also the MAE target layout. */
  patchOrder: PatchOrder;
  dropout: number;
  attnDropout: number;
  dropPath: number;
  headDropout: number;
  layerNormEps: number;
}

export class MaeVitBlock extends Module {
  readonly norm1: LayerNorm;
  readonly attn: MultiHeadAttention;
  readonly norm2: LayerNorm;
  readonly mlp: Mlp;
  constructor(
    readonly c: MaeVitConfig,
    readonly dropPathRate: number,
  ) {
    super();
    this.norm1 = this.child('norm1', new LayerNorm(c.embedDim, c.layerNormEps));
    this.attn = this.child(
      'attn',
      new MultiHeadAttention(c.embedDim, c.numHeads, {
        qkvBias: c.bias,
        projBias: c.bias,
        attnDropout: c.attnDropout,
        projDropout: c.dropout,
      }),
    );
    this.norm2 = this.child('norm2', new LayerNorm(c.embedDim, c.layerNormEps));
    this.mlp = this.child(
      'mlp',
      new Mlp(c.embedDim, Math.round(c.mlpRatio * c.embedDim), {
        bias: c.bias,
        activation: c.activation,
        dropout: c.dropout,
      }),
    );
  }
  forward(x: tf.Tensor3D, ctx: Ctx, key?: string): tf.Tensor3D {
    return tf.tidy(() => {
      const attn = (xn: tf.Tensor3D) =>
        dropPath(this.attn.forward(xn, ctx, key), this.dropPathRate, ctx) as tf.Tensor3D;
      const h = attentionResidual(this.c.blockOrder, x, this.norm1, attn);
      return h.add(dropPath(this.mlp.forward(this.norm2.forward(h), ctx), this.dropPathRate, ctx)) as tf.Tensor3D;
    });
  }
}

/** What the MAE pre-trainer needs from an encoder (mLiT implements it too). */
export interface MaeEncoder extends ClassifierModel {
  readonly numPatches: number;
  /** Images → flattened patches [B, N, C·p²] in the encoder's order: also the reconstruction target. */
  patches(x: tf.Tensor4D): tf.Tensor3D;
  /** Visible patches at grid `positions` [B, n] → tokens [B, n(+1), m] (class token last) and the routers' aux loss. */
  encode(patches: tf.Tensor3D, positions: tf.Tensor2D | null, ctx: Ctx, opts?: { withClass?: boolean }): EncoderOutput;
  /** Encoder-space mask tokens (mLiT's LN(PosEmbed + MaskEmbed)), when the encoder has them. */
  maskTokens?(positions: tf.Tensor2D): tf.Tensor3D;
  readonly maskEmbed?: Param | null;
  readonly outProj?: Linear | null;
  readonly head: Linear;
}

/** The plain ViT of 2402.03752 on the author's token encoder (class patch last, position table; token-encoder.ts). */
export class MaeVit extends TokenEncoder<MaeVitConfig> implements MaeEncoder {
  readonly blocks: MaeVitBlock[];
  readonly norm: LayerNorm;
  readonly head: Linear;

  constructor(c: MaeVitConfig) {
    super(c, { patchBias: c.patchBias, posEmbedStd: c.posEmbedStd });
    const rate = (i: number) => (c.depth > 1 ? (c.dropPath * i) / (c.depth - 1) : 0);
    this.blocks = this.children(
      'blocks',
      Array.from({ length: c.depth }, (_, i) => new MaeVitBlock(c, rate(i))),
    );
    this.norm = this.child('norm', new LayerNorm(c.embedDim, c.layerNormEps));
    this.head = this.child('head', new Linear(c.embedDim, c.numClasses, { bias: c.bias }));
  }

  protected get blockCount(): number {
    return this.blocks.length;
  }
  protected get embedDropout(): number {
    return this.config.dropout;
  }
  protected runBlock(i: number, t: tf.Tensor3D, ctx: Ctx): { x: tf.Tensor3D; aux: null } {
    return { x: this.blocks[i].forward(t, ctx, ctx.record ? `attn.${i}` : undefined), aux: null };
  }
}

/** Closed-form parameter count, independent of the modules. */
export function maeVitClosedFormParams(c: MaeVitConfig): number {
  const D = c.embedDim;
  const H = Math.round(c.mlpRatio * D);
  const b = c.bias ? 1 : 0;
  const N = (c.imageSize / c.patchSize) ** 2;
  const block = 4 * D + (3 * D * D + 3 * b * D) + (D * D + b * D) + (D * H + b * H) + (H * D + b * D);
  return (
    c.inChannels * c.patchSize ** 2 * D +
    (c.patchBias ? D : 0) +
    (N + 1) * D +
    c.depth * block +
    2 * D +
    D * c.numClasses +
    b * c.numClasses
  );
}

/**
 * Inference MACs as `countMacs` counts them: patch projection, per block qkv/proj/FFN Linears and 2·T²·D attention,
 * head.
 */
export function maeVitClosedFormMacs(c: MaeVitConfig): number {
  const D = c.embedDim;
  const H = Math.round(c.mlpRatio * D);
  const N = (c.imageSize / c.patchSize) ** 2;
  const T = N + 1;
  return (
    N * c.inChannels * c.patchSize ** 2 * D + c.depth * (T * (4 * D * D + 2 * D * H) + 2 * T * T * D) + D * c.numClasses
  );
}

export const maeVitFamily: ModelFamily<MaeVitConfig> = {
  family: 'mae',
  paper: '2402.03752',
  defaults: {
    imageSize: 36,
    inChannels: 3,
    numClasses: 10,
    patchSize: 6,
    embedDim: 192,
    depth: 12,
    numHeads: 3,
    mlpRatio: 2,
    bias: true,
    patchBias: false,
    posEmbedStd: 1,
    blockOrder: 'pre-norm',
    activation: 'gelu',
    patchOrder: 'chw',
    dropout: 0,
    attnDropout: 0,
    dropPath: 0.1,
    headDropout: 0,
    layerNormEps: 1e-5,
  },
  choices: {
    blockOrder: ['pre-norm', 'ln-then-residual'],
    activation: ACTIVATIONS,
    patchOrder: ['chw', 'hwc'],
  },
  docs: {
    imageSize: 'input height = width (CIFAR 32 upscaled to 36 in the paper [S])',
    patchSize: 'patch side; open in the paper (docs/mae.md §2): 6 keeps width 192 under 0.27 GMACs at 36×36',
    embedDim: 'token width (192 by the sizing arithmetic of docs/mae.md §2, inferred)',
    depth: 'transformer blocks (12 [P])',
    numHeads: 'attention heads (open [?]; 3 = head_dim 64)',
    mlpRatio: 'FFN hidden size / width (2 [P])',
    patchBias: "bias in the patch projection (author's code: none)",
    posEmbedStd: "std of the learned position table's N(0, σ) init (author's code: 1)",
    blockOrder: "'pre-norm' or 'ln-then-residual' (author's later code)",
    headDropout: 'dropout before the head',
  },
  validate(c, name) {
    check.positiveInt(name, c, 'imageSize', 'inChannels', 'numClasses', 'patchSize', 'embedDim', 'depth', 'numHeads');
    check.divisible(name, c, 'imageSize', 'patchSize');
    check.divisible(name, c, 'embedDim', 'numHeads');
    for (const k of ['dropout', 'attnDropout', 'dropPath', 'headDropout'] as const) check.range(name, c, k, 0, 0.99);
    check.that(c.mlpRatio > 0, `${name}: mlpRatio=${c.mlpRatio} must be > 0`);
    check.that(c.posEmbedStd >= 0, `${name}: posEmbedStd=${c.posEmbedStd} must be ≥ 0`);
  },
  create: (c) => new MaeVit(c),
  closedFormParams: maeVitClosedFormParams,
};

registerModel(
  'mae-vit',
  maeVitFamily,
  {},
  {
    description:
      'plain ViT of 2402.03752: 12 blocks, width 192, FFN 2×, 3 heads, 36×36 / patch 6 (3.59M params, 0.138 ' +
      'GMACs, 10 classes)',
    tags: ['paper'],
  },
);
registerModel(
  'mae-vit-test',
  maeVitFamily,
  { imageSize: 8, patchSize: 2, embedDim: 8, depth: 2, numHeads: 2 },
  {
    description: 'tiny 2402.03752 ViT for tests (16 patches)',
    tags: ['test'],
  },
);

// ───────────────────────────── the MAE pre-trainer ─────────────────────────────

/** MAE settings added to an encoder's config. */
export interface MaeSettings {
  /** Fraction of patches masked per image (0.75 [S]). */
  maskRatio: number;
  /** Discount of the visible-patch MSE (0.1 [T]; the paper's value is [?]). */
  visibleWeight: number;
  /** Per-patch normalised pixel targets (He et al.) or the raw (dataset-normalised) pixels ([T]: raw). */
  normPixLoss: boolean;
  decoderDepth: number;
  decoderDim: number;
  decoderHeads: number;
  decoderMlpRatio: number;
  /**
   * Where masked positions get their token: 'decoder' (He et al.: a learned decoder-space mask token), 'encoder'
   * (author's mLiT MaskEncoder: LN(PosEmbed + MaskEmbed) and OutProj, docs/mlit.md §3), 'auto' = 'encoder' when the
   * encoder has MaskEmbed.
   */
  maskTokenSpace: OneOf<typeof MASK_TOKEN_SPACES>;
}

export const MASK_TOKEN_SPACES = ['auto', 'decoder', 'encoder'] as const;

export const MAE_DEFAULTS: MaeSettings = {
  maskRatio: 0.75,
  visibleWeight: 0.1,
  normPixLoss: false,
  decoderDepth: 2,
  decoderDim: 128,
  decoderHeads: 4,
  decoderMlpRatio: 2,
  maskTokenSpace: 'auto',
};
const MAE_KEYS = Object.keys(MAE_DEFAULTS) as Array<keyof MaeSettings>;

export type MaeConfig<E extends BaseConfig> = E & MaeSettings;

export function splitMaeConfig<E extends BaseConfig>(c: MaeConfig<E>): { encoder: E; mae: MaeSettings } {
  const encoder = { ...c } as unknown as Record<string, unknown>;
  const mae = {} as Record<string, unknown>;
  for (const k of MAE_KEYS) {
    mae[k] = encoder[k];
    delete encoder[k];
  }
  return { encoder: encoder as E, mae: mae as unknown as MaeSettings };
}

/** One MAE forward pass: predictions and targets in the decoder's order, and the mask used. */
export interface MaeReconstruction {
  mask: PatchMask;
  /** [B, nv, C·p²] and [B, nm, C·p²], visible and masked patches in ascending grid order. */
  predVisible: tf.Tensor3D;
  predMasked: tf.Tensor3D;
  targetVisible: tf.Tensor3D;
  targetMasked: tf.Tensor3D;
  /** Routers' balancing loss of the encoder (mLiT), unweighted; null otherwise / in evaluation. */
  aux: tf.Scalar | null;
}

/**
 * Encoder + decoder. As a ClassifierModel its `forward` is the encoder's classifier (so it can be counted and
 * registered like any model); the MAE objective is `pretrainLoss`. Parameters: `encoder.*` (the classifier's names:
 * a checkpoint maps onto the classifier by stripping `encoder.`) and `decoder.*`.
 */
export class MaePretrainer<E extends BaseConfig = BaseConfig> extends ClassifierModel<MaeConfig<E>> {
  readonly encoder: MaeEncoder;
  readonly decoder: MaeDecoder;
  readonly mae: MaeSettings;
  readonly encoderSpaceMask: boolean;

  constructor(c: MaeConfig<E>, encoderFamily: ModelFamily<E>) {
    super(c);
    const { encoder, mae } = splitMaeConfig(c);
    this.mae = mae;
    this.encoder = this.child('encoder', encoderFamily.create(encoder) as unknown as MaeEncoder);
    this.encoderSpaceMask = resolveMaskSpace(mae.maskTokenSpace, !!this.encoder.maskEmbed);
    this.decoder = this.child('decoder', new MaeDecoder(decoderOptions(c, this.encoderSpaceMask)));
  }

  forward(x: tf.Tensor4D, ctx: Ctx): tf.Tensor2D {
    return this.encoder.forward(x, ctx);
  }

  /** Mask, encode the visible patches, decode every patch. `mask` defaults to a fresh one from ctx.rng. */
  reconstruct(x: tf.Tensor4D, ctx: Ctx, mask?: PatchMask): MaeReconstruction {
    const enc = this.encoder;
    const b = x.shape[0];
    const N = enc.numPatches;
    const mk = mask ?? randomPatchMask(b, N, this.mae.maskRatio, ctx.rng);
    const nv = mk.numVisible;
    const nm = mk.numMasked;
    return tidyObject((): MaeReconstruction => {
      const patches = enc.patches(x);
      const visPatches = gatherPatches(patches, mk.visible, nv);
      const visPos = tf.tensor2d(mk.visible, [b, nv], 'int32');
      const maskPos = tf.tensor2d(mk.masked, [b, nm], 'int32');
      const { tokens, aux } = enc.encode(visPatches, visPos, ctx, { withClass: true });
      // decoder order: visible …, class (position N), masked …
      const positions = tf.concat([visPos, tf.fill([b, 1], N, 'int32') as tf.Tensor2D, maskPos], 1) as tf.Tensor2D;
      let pred: tf.Tensor3D;
      if (this.encoderSpaceMask) {
        // docs/mlit.md §3 (author code): masked positions become LN(PosEmbed(index) + MaskEmbed) in encoder space;
        // both streams go through OutProj
        const all = tf.concat([tokens, enc.maskTokens!(maskPos)], 1) as tf.Tensor3D;
        pred = this.decoder.forward(enc.outProj!.forward(all, ctx) as tf.Tensor3D, positions, 0, ctx);
      } else {
        pred = this.decoder.forward(tokens, positions, nm, ctx);
      }
      const P = pred.shape[2];
      return {
        mask: mk,
        predVisible: pred.slice([0, 0, 0], [b, nv, P]),
        predMasked: pred.slice([0, nv + 1, 0], [b, nm, P]),
        targetVisible: visPatches,
        targetMasked: gatherPatches(patches, mk.masked, nm),
        aux,
      };
    });
  }

  /**
   * The pre-training objective: masked MSE + visibleWeight · visible MSE. The encoder's routers keep their noise and
   * add their balancing loss (× the encoder's auxWeight) to ctx as 'moe_balance', as in fine-tuning.
   */
  pretrainLoss(x: tf.Tensor4D, ctx: Ctx): tf.Scalar {
    const r = this.reconstruct(x, ctx);
    const auxWeight = (this.config as unknown as { auxWeight?: number }).auxWeight ?? 1;
    const out = tf.tidy(() => {
      const parts = maeLoss(
        { visible: r.predVisible, masked: r.predMasked },
        { visible: r.targetVisible, masked: r.targetMasked },
        { visibleWeight: this.mae.visibleWeight, normPix: this.mae.normPixLoss },
      );
      return {
        loss: parts.loss,
        aux: r.aux && auxWeight > 0 ? r.aux.mul(auxWeight) : null,
      } as unknown as tf.TensorContainer;
    }) as unknown as { loss: tf.Scalar; aux: tf.Scalar | null };
    tf.dispose([r.predVisible, r.predMasked, r.targetVisible, r.targetMasked, ...(r.aux ? [r.aux] : [])]);
    if (out.aux) addAux(ctx, 'moe_balance', out.aux);
    return out.loss;
  }

  /** Images in grid layout from patch vectors [B, N, C·p²] (the encoder's patch order). */
  unpatchify(p: tf.Tensor3D): tf.Tensor4D {
    const c = this.config;
    const patch = (c as unknown as { patchSize: number }).patchSize;
    const g = c.imageSize / patch;
    return unpatchify(p, patch, g, g, c.inChannels, (c as unknown as { patchOrder?: PatchOrder }).patchOrder ?? 'hwc');
  }

  activeParamCount(): number {
    return this.encoder.activeParamCount() + this.decoder.paramCount();
  }
}

function resolveMaskSpace(space: string, encoderHasMaskEmbed: boolean): boolean {
  return space === 'encoder' || (space === 'auto' && encoderHasMaskEmbed);
}

function decoderOptions<E extends BaseConfig>(c: MaeConfig<E>, encoderSpace: boolean): MaeDecoderOptions {
  const e = c as unknown as { patchSize: number; embedDim: number; outProj?: number; layerNormEps?: number };
  return {
    inDim: encoderSpace ? (e.outProj ?? e.embedDim) : e.embedDim,
    dim: c.decoderDim,
    depth: c.decoderDepth,
    heads: c.decoderHeads,
    mlpRatio: c.decoderMlpRatio,
    numPatches: (c.imageSize / e.patchSize) ** 2,
    patchDim: c.inChannels * e.patchSize ** 2,
    maskToken: !encoderSpace,
    layerNormEps: e.layerNormEps ?? 1e-5,
  };
}

/**
 * The MAE family over an encoder family: the encoder's config keys and defaults plus MaeSettings; parameters are
 * the encoder's plus the decoder's. `encoderHasMaskEmbed(c)` tells whether the encoder config carries MaskEmbed.
 */
export function maeFamilyOf<E extends BaseConfig>(
  encoderFamily: ModelFamily<E>,
  opts: { encoderHasMaskEmbed: (c: E) => boolean; defaults?: Partial<MaeConfig<E>> },
): ModelFamily<MaeConfig<E>> {
  return {
    family: 'mae',
    paper: '2402.03752',
    defaults: { ...encoderFamily.defaults, ...MAE_DEFAULTS, ...(opts.defaults ?? {}) } as MaeConfig<E>,
    choices: { ...(encoderFamily.choices ?? {}), maskTokenSpace: MASK_TOKEN_SPACES } as ModelFamily<
      MaeConfig<E>
    >['choices'],
    docs: {
      ...(encoderFamily.docs ?? {}),
      maskRatio: 'fraction of patches masked per image (0.75)',
      visibleWeight: 'discount of the visible-patch MSE in the loss (0.1)',
      normPixLoss: 'per-patch normalised pixel targets (false = raw pixels)',
      decoderDepth: 'decoder blocks',
      decoderDim: 'decoder width',
      decoderHeads: 'decoder attention heads',
      decoderMlpRatio: 'decoder FFN hidden / width',
      maskTokenSpace: "'auto', 'decoder' (He et al.) or 'encoder' (mLiT MaskEmbed + OutProj)",
    } as ModelFamily<MaeConfig<E>>['docs'],
    validate(c, name) {
      const { encoder } = splitMaeConfig(c);
      encoderFamily.validate(encoder, name);
      check.positiveInt(name, c, 'decoderDepth', 'decoderDim', 'decoderHeads');
      check.divisible(name, c, 'decoderDim', 'decoderHeads');
      check.range(name, c, 'maskRatio', 0, 0.99);
      check.that(c.visibleWeight >= 0, `${name}: visibleWeight=${c.visibleWeight} must be ≥ 0`);
      check.that(c.decoderMlpRatio > 0, `${name}: decoderMlpRatio=${c.decoderMlpRatio} must be > 0`);
      const N = (c.imageSize / (c as unknown as { patchSize: number }).patchSize) ** 2;
      visibleCount(N, c.maskRatio);
      if (c.maskTokenSpace === 'encoder') {
        check.that(
          opts.encoderHasMaskEmbed(encoder),
          `${name}: maskTokenSpace='encoder' needs an encoder with MaskEmbed (mLiT: maeExtras=true); expected ` +
            `'decoder' or 'auto'`,
        );
      }
    },
    create: (c) => new MaePretrainer<E>(c, encoderFamily),
    closedFormParams(c) {
      const { encoder } = splitMaeConfig(c);
      const space = resolveMaskSpace(c.maskTokenSpace, opts.encoderHasMaskEmbed(encoder));
      return encoderFamily.closedFormParams!(encoder) + maeDecoderParams(decoderOptions(c, space));
    },
  };
}

export const maePretrainVitFamily = maeFamilyOf(maeVitFamily, { encoderHasMaskEmbed: () => false });
/**
 * mmLiT: MaskEmbed and OutProj in the encoder (maeExtras), encoder-space mask tokens; decoder 2 × 108, 6 heads as [T].
 */
export const maePretrainMlitFamily = maeFamilyOf(mlitFamily, {
  encoderHasMaskEmbed: (c) => c.maeExtras,
  defaults: { maeExtras: true, decoderDim: 108, decoderHeads: 6 },
});

registerModel(
  'mae-vit-pretrain',
  maePretrainVitFamily,
  {},
  {
    description: 'MAE pre-training of mae-vit: mask 0.75, decoder 2 × 128 (4 heads), loss masked + 0.1 · visible MSE',
    tags: ['paper', 'pretrain'],
  },
);
registerModel(
  'mae-vit-pretrain-test',
  maePretrainVitFamily,
  { imageSize: 8, patchSize: 2, embedDim: 8, depth: 2, numHeads: 2, decoderDim: 8, decoderHeads: 2, decoderDepth: 1 },
  {
    description: 'tiny MAE pre-trainer of mae-vit-test (for tests)',
    tags: ['pretrain'],
  },
);
for (const size of ['xxs', 'xs', 's'] as const) {
  registerModel(
    `mmlit-${size}-pretrain`,
    maePretrainMlitFamily,
    { ...MLIT_PRESETS[size] } as Partial<MaeConfig<MlitConfig>>,
    {
      description:
        `mmLiT-${size.toUpperCase()} MAE pre-training: mlit-${size} encoder with MaskEmbed/OutProj, decoder 2 × ` +
        `108 (6 heads)`,
      tags: ['paper', 'pretrain'],
    },
  );
}
registerModel(
  'mmlit-test-pretrain',
  maePretrainMlitFamily,
  {
    imageSize: 8,
    patchSize: 2,
    embedDim: 12,
    depth: 3,
    numHeads: 4,
    kvGroups: 2,
    hiddenFirst: 9,
    hiddenLast: 3,
    outProj: 12,
    decoderDim: 12,
    decoderHeads: 2,
    decoderDepth: 1,
  } as Partial<MaeConfig<MlitConfig>>,
  { description: 'tiny mmLiT pre-trainer of mlit-test (for tests)', tags: ['pretrain'] },
);
