import * as tf from '@tensorflow/tfjs';
import { type Ctx, Module, type Param, init, type InitFn } from '../nn/module';
import { Conv2d, DepthwiseConv2d, LayerNorm, Linear, Mlp, dropout, dropPath } from '../nn/layers';
import { MultiHeadAttention } from '../nn/attention';
import { type BaseConfig, check, type OneOf } from './config';
import { ClassifierModel, type ModelFamily, registerModel } from './registry';
import { vitFamily, type VitConfig } from './vit';
import { tokenKeys, type TokenGeometry, type TokenModel } from './token-model';

/**
 * EIT (Xia et al., arXiv 2203.07116, "EIT: Efficiently Lead Inductive Biases to ViT"). A pre-norm ViT with a class
 * token and two inductive biases:
 * - EIT_P: the patch projection is a convolution (kernel K, stride S, padding K//2) followed by K-free max-pooling
 *   P, giving overlapping patches (v1 abstract; docs/eit.md §2);
 * - EIT_T ("decreasing convolution"): in block i, the first c_i channels of LN(x) go through a 3×3 depth-wise conv on
 *   the token grid while the other a_i channels go through multi-head attention; c_i shrinks with depth and the last
 *   block is all attention (docs/eit.md §2).
 * No position embedding by default. Layout, split formula and init follow the released code (v3-era, da30340).
 */
export interface EitConfig extends BaseConfig {
  embedDim: number;
  depth: number;
  numHeads: number;
  mlpRatio: number;
  /** EIT_P on: conv(kernelSize, strideSize, pad kernelSize//2) + max-pool(poolSize). Off: patchify conv(patchSize). */
  eitP: boolean;
  kernelSize: number;
  strideSize: number;
  poolSize: number;
  patchSize: number;
  /** EIT_T on: depth-wise conv beside attention with the channel split of `convSchedule`. Off: all attention. */
  eitT: boolean;
  convSchedule: OneOf<typeof CONV_SCHEDULES>;
  convKernel: number;
  posEmbed: OneOf<typeof EIT_POS_EMBEDS>;
  qkvBias: boolean;
  /** Pre-logits Linear(embedDim → n) + tanh before the head (the code's has_logits); 0 = off, as train.py. */
  representationSize: number;
  dropout: number;
  attnDropout: number;
  dropPath: number;
  layerNormEps: number;
}

export const CONV_SCHEDULES = ['decreasing', 'constant-half', 'increasing', 'none'] as const;
export const EIT_POS_EMBEDS = ['none', 'learned'] as const;

/** Attention and conv channels of one EIT block. */
export interface EitSplit {
  attn: number;
  conv: number;
}

/**
 * Per-block channel split (docs/eit.md §2). 'decreasing' (the paper): a_i = ⌊(C div h)·(i+1)/depth⌋·h, the last
 * block all attention, c_i = C − a_i. 'increasing' mirrors it (first block all attention, conv grows with depth);
 * 'constant-half': a_i = ⌊(C div h)/2⌋·h in every block; 'none': all attention.
 */
export function convChannelSplit(embedDim: number, numHeads: number, depth: number, schedule: string): EitSplit[] {
  const q = Math.floor(embedDim / numHeads);
  return Array.from({ length: depth }, (_, i) => {
    let a: number;
    switch (schedule) {
      case 'decreasing':
        a = i === depth - 1 ? embedDim : Math.floor((q * (i + 1)) / depth) * numHeads;
        break;
      case 'increasing':
        a = i === 0 ? embedDim : Math.floor((q * (depth - i)) / depth) * numHeads;
        break;
      case 'constant-half':
        a = Math.floor(q / 2) * numHeads;
        break;
      case 'none':
        a = embedDim;
        break;
      default:
        throw new Error(`convSchedule '${schedule}' is not one of ${CONV_SCHEDULES.join(', ')}`);
    }
    return { attn: a, conv: embedDim - a };
  });
}

/** The split a config uses (all attention when EIT_T is off). */
export function eitSplit(c: EitConfig): EitSplit[] {
  return convChannelSplit(c.embedDim, c.numHeads, c.depth, c.eitT ? c.convSchedule : 'none');
}

/** Side of the square token grid the patch projection produces. */
export function eitGridSize(
  c: Pick<EitConfig, 'imageSize' | 'eitP' | 'kernelSize' | 'strideSize' | 'poolSize' | 'patchSize'>,
): number {
  if (!c.eitP) return Math.floor(c.imageSize / c.patchSize);
  const convOut = Math.floor((c.imageSize + 2 * Math.floor(c.kernelSize / 2) - c.kernelSize) / c.strideSize) + 1;
  return Math.floor(convOut / c.poolSize);
}

/** EIT init (docs/eit.md §2): Linear weights trunc-normal std 0.01, biases 0; convs kaiming-normal fan-out, bias 0. */
const linearInit = (): InitFn => init.truncNormal(0.01);

/** EIT_P (docs/eit.md §2): conv K/S, padding K//2 (explicit pad + 'valid', as PyTorch for even K), then max-pool P. */
export class EitPatchProjection extends Module {
  readonly conv: Conv2d;
  constructor(readonly c: EitConfig) {
    super();
    const k = c.eitP ? c.kernelSize : c.patchSize;
    this.conv = this.child(
      'conv',
      new Conv2d(c.inChannels, c.embedDim, k, {
        stride: c.eitP ? c.strideSize : c.patchSize,
        padding: c.eitP ? Math.floor(c.kernelSize / 2) : 0,
        weightInit: init.kaimingNormalFanOut(c.embedDim * k * k),
        biasInit: init.zeros(),
      }),
    );
  }
  /** [B, H, W, Cin] → [B, g·g, C], row-major over the grid. */
  forward(x: tf.Tensor4D, ctx: Ctx): tf.Tensor3D {
    return tf.tidy(() => {
      let y = this.conv.forward(x, ctx);
      if (this.c.eitP) y = tf.maxPool(y, this.c.poolSize, this.c.poolSize, 'valid');
      const [b, gh, gw, ch] = y.shape;
      return y.reshape([b, gh * gw, ch]) as tf.Tensor3D;
    });
  }
}

/** EIT_T (docs/eit.md §2): depth-wise k×k conv (no bias) on the patch-token grid; the class token passes unchanged. */
export class EitConvBranch extends Module {
  readonly dw: DepthwiseConv2d;
  constructor(
    readonly channels: number,
    readonly kernel: number,
    readonly rate: number,
  ) {
    super();
    this.dw = this.child(
      'dw',
      new DepthwiseConv2d(channels, kernel, {
        bias: false,
        weightInit: init.kaimingNormalFanOut(channels * kernel * kernel),
      }),
    );
  }
  /** x: [B, 1 + g², c] with the class token first. */
  forward(x: tf.Tensor3D, ctx: Ctx): tf.Tensor3D {
    const [b, t, ch] = x.shape;
    const n = t - 1;
    const g = Math.round(Math.sqrt(n));
    if (g * g !== n) throw new Error(`EIT_T needs a square token grid; got ${n} patch tokens`);
    const cls = x.slice([0, 0, 0], [b, 1, ch]);
    const grid = x.slice([0, 1, 0], [b, n, ch]).reshape([b, g, g, ch]) as tf.Tensor4D;
    const y = dropout(this.dw.forward(grid, ctx), this.rate, ctx).reshape([b, n, ch]);
    return tf.concat([cls, y], 1) as tf.Tensor3D;
  }
}

export class EitBlock extends Module {
  readonly norm1: LayerNorm;
  readonly conv: EitConvBranch | null;
  readonly attn: MultiHeadAttention | null;
  readonly norm2: LayerNorm;
  readonly mlp: Mlp;
  constructor(
    readonly c: EitConfig,
    readonly split: EitSplit,
    readonly dropPathRate: number,
  ) {
    super();
    const C = c.embedDim;
    this.norm1 = this.child('norm1', new LayerNorm(C, c.layerNormEps));
    this.conv = split.conv > 0 ? this.child('eit_t', new EitConvBranch(split.conv, c.convKernel, c.attnDropout)) : null;
    this.attn =
      split.attn > 0
        ? this.child(
            'attn',
            new MultiHeadAttention(split.attn, c.numHeads, {
              qkvBias: c.qkvBias,
              projBias: true,
              attnDropout: c.attnDropout,
              projDropout: c.dropout,
              weightInit: linearInit,
              biasInit: init.zeros(),
            }),
          )
        : null;
    this.norm2 = this.child('norm2', new LayerNorm(C, c.layerNormEps));
    this.mlp = this.child(
      'mlp',
      new Mlp(C, Math.floor(C * c.mlpRatio), { activation: 'gelu', dropout: c.dropout, weightInit: linearInit }),
    );
  }

  forward(x: tf.Tensor3D, ctx: Ctx, recordKey?: string): tf.Tensor3D {
    const [b, t] = x.shape;
    const { conv: cc, attn: ac } = this.split;
    const xn = this.norm1.forward(x) as tf.Tensor3D;
    const parts: tf.Tensor3D[] = [];
    // first c_i channels → EIT_T, last a_i channels → MHSA; concatenated back in that order
    if (this.conv) parts.push(this.conv.forward(ac > 0 ? xn.slice([0, 0, 0], [b, t, cc]) : xn, ctx));
    if (this.attn) parts.push(this.attn.forward(cc > 0 ? xn.slice([0, 0, cc], [b, t, ac]) : xn, ctx, recordKey));
    const mixed = parts.length === 1 ? parts[0] : (tf.concat(parts, 2) as tf.Tensor3D);
    x = x.add(dropPath(mixed, this.dropPathRate, ctx));
    return x.add(dropPath(this.mlp.forward(this.norm2.forward(x), ctx), this.dropPathRate, ctx));
  }
}

export class Eit extends ClassifierModel<EitConfig> implements TokenModel {
  readonly patchEmbed: EitPatchProjection;
  readonly clsToken: Param;
  readonly posEmbed: Param | null;
  readonly blocks: EitBlock[];
  readonly norm: LayerNorm;
  readonly preLogits: Linear | null;
  readonly head: Linear;
  readonly gridSize: number;
  readonly split: EitSplit[];

  constructor(c: EitConfig) {
    super(c);
    const C = c.embedDim;
    this.gridSize = eitGridSize(c);
    this.split = eitSplit(c);
    this.patchEmbed = this.child('patch_embed', new EitPatchProjection(c));
    this.clsToken = this.param('cls_token', [1, 1, C], init.truncNormal(0.02), { decay: false });
    this.posEmbed =
      c.posEmbed === 'learned'
        ? this.param('pos_embed', [1, this.gridSize ** 2 + 1, C], init.truncNormal(0.02), { decay: false })
        : null;
    // stochastic depth rises linearly from 0 to dropPath over the blocks (torch.linspace)
    this.blocks = this.children(
      'blocks',
      this.split.map((s, i) => new EitBlock(c, s, c.depth > 1 ? (c.dropPath * i) / (c.depth - 1) : 0)),
    );
    this.norm = this.child('norm', new LayerNorm(C, c.layerNormEps));
    const R = c.representationSize;
    this.preLogits =
      R > 0 ? this.child('pre_logits', new Linear(C, R, { weightInit: linearInit(), biasInit: init.zeros() })) : null;
    this.head = this.child(
      'head',
      new Linear(R > 0 ? R : C, c.numClasses, { weightInit: linearInit(), biasInit: init.zeros() }),
    );
  }

  get tokenGeometry(): TokenGeometry {
    const c = this.config;
    const pixelsPerToken = c.eitP ? c.strideSize * c.poolSize : c.patchSize;
    return { grid: this.gridSize, hasCls: true, pixelsPerToken, depth: c.depth };
  }

  /** Class token + patch tokens (+ position embedding when on): [B, 1 + g², C]. */
  embed(x: tf.Tensor4D, ctx: Ctx): tf.Tensor3D {
    let t = this.patchEmbed.forward(x, ctx);
    t = tf.concat([tf.tile(this.clsToken.value, [t.shape[0], 1, 1]) as tf.Tensor3D, t], 1);
    if (this.posEmbed) t = t.add(this.posEmbed.value) as tf.Tensor3D;
    return dropout(t, this.config.dropout, ctx) as tf.Tensor3D;
  }

  /** Token features after the final norm: [B, 1 + g², C]; records as `TokenModel.features` says. */
  features(x: tf.Tensor4D, ctx: Ctx): tf.Tensor3D {
    let t = this.embed(x, ctx);
    ctx.record?.(tokenKeys.embed, t);
    this.blocks.forEach((blk, i) => {
      t = blk.forward(t, ctx, tokenKeys.attention(i));
      ctx.record?.(tokenKeys.block(i), t);
    });
    return this.norm.forward(t) as tf.Tensor3D;
  }

  forward(x: tf.Tensor4D, ctx: Ctx): tf.Tensor2D {
    return tf.tidy(() => {
      const t = this.features(x, ctx);
      let pooled: tf.Tensor = t.slice([0, 0, 0], [-1, 1, -1]).squeeze([1]);
      if (this.preLogits) pooled = tf.tanh(this.preLogits.forward(pooled, ctx));
      return this.head.forward(pooled, ctx) as tf.Tensor2D;
    });
  }
}

export const eitFamily: ModelFamily<EitConfig> = {
  family: 'eit',
  paper: '2203.07116',
  defaults: {
    imageSize: 32,
    inChannels: 3,
    numClasses: 10,
    embedDim: 250,
    depth: 5,
    numHeads: 10,
    mlpRatio: 4,
    eitP: true,
    kernelSize: 3,
    strideSize: 1,
    poolSize: 4,
    patchSize: 4,
    eitT: true,
    convSchedule: 'decreasing',
    convKernel: 3,
    posEmbed: 'none',
    qkvBias: true,
    representationSize: 0,
    // the EIT class defaults (inferred to be the small-dataset setting, docs/eit.md §3); ImageNet presets set 0
    dropout: 0.2,
    attnDropout: 0.15,
    dropPath: 0.2,
    layerNormEps: 1e-6,
  },
  choices: {
    convSchedule: CONV_SCHEDULES,
    posEmbed: EIT_POS_EMBEDS,
  },
  docs: {
    embedDim: 'token width C',
    depth: 'number of EIT blocks',
    numHeads: 'attention heads h in every block (head dim a_i/h varies per block)',
    mlpRatio: 'MLP hidden size as a multiple of embedDim',
    eitP: 'EIT_P: conv + max-pool patch projection (off: non-overlapping patchify conv of patchSize)',
    kernelSize: 'EIT_P conv kernel K (padding K//2)',
    strideSize: 'EIT_P conv stride S',
    poolSize: 'EIT_P max-pool window and stride P',
    patchSize: 'patchify kernel and stride when eitP is off (the code uses poolSize; 4 at CIFAR)',
    eitT: "EIT_T: depth-wise conv beside attention (off: all attention, same as convSchedule='none')",
    convSchedule:
      "channels given to the conv branch per block: 'decreasing' (paper), 'constant-half', 'increasing', 'none'",
    convKernel: 'EIT_T depth-wise kernel (3 in the code)',
    posEmbed:
      "'none' (paper default) or 'learned' (ablation; sized to the real grid, where the code's grid_size would " +
      'say 18×18 at 224)',
    representationSize: 'pre-logits width (0 = off, as the training script)',
  },
  validate(c, name) {
    check.positiveInt(
      name,
      c,
      'imageSize',
      'inChannels',
      'numClasses',
      'embedDim',
      'depth',
      'numHeads',
      'kernelSize',
      'strideSize',
      'poolSize',
      'patchSize',
      'convKernel',
    );
    check.that(
      Number.isInteger(c.representationSize) && c.representationSize >= 0,
      `${name}: representationSize=${c.representationSize} must be 0 (off) or a positive integer`,
    );
    check.that(
      c.convKernel % 2 === 1,
      `${name}: convKernel=${c.convKernel} must be odd (the EIT_T conv keeps the grid size with padding k//2)`,
    );
    check.range(name, c, 'dropout', 0, 0.99);
    check.range(name, c, 'attnDropout', 0, 0.99);
    check.range(name, c, 'dropPath', 0, 0.99);
    check.that(c.mlpRatio > 0, `${name}: mlpRatio=${c.mlpRatio} must be > 0`);
    if (!c.eitP) check.divisible(name, c, 'imageSize', 'patchSize');
    const g = eitGridSize(c);
    check.that(
      g >= 1,
      c.eitP
        ? `${name}: imageSize=${c.imageSize} with kernelSize=${c.kernelSize}, strideSize=${c.strideSize}, ` +
            `poolSize=${c.poolSize} leaves no tokens; expected a conv output of at least poolSize pixels`
        : `${name}: imageSize=${c.imageSize} is smaller than patchSize=${c.patchSize}`,
    );
    eitSplit(c).forEach((s, i) => {
      check.that(
        s.attn >= c.numHeads && s.attn % c.numHeads === 0,
        `${name}: convSchedule='${c.convSchedule}' gives block ${i} ${s.attn} attention channels for ` +
          `numHeads=${c.numHeads}; ` +
          `expected a positive multiple of numHeads (needs embedDim // numHeads = ` +
          `${Math.floor(c.embedDim / c.numHeads)} ≥ depth = ${c.depth} for 'decreasing'/'increasing', ≥ 2 for ` +
          `'constant-half')`,
      );
    });
  },
  create: (c) => new Eit(c),
  closedFormParams(c) {
    const C = c.embedDim;
    const H = Math.floor(C * c.mlpRatio);
    const k = c.eitP ? c.kernelSize : c.patchSize;
    const g = eitGridSize(c);
    const R = c.representationSize;
    let blocks = 0;
    for (const { attn: a, conv: cc } of eitSplit(c)) {
      blocks += 4 * C; // two LayerNorms
      blocks += 3 * a * a + (c.qkvBias ? 3 * a : 0) + a * a + a; // qkv + proj over the a_i attention channels
      blocks += cc * c.convKernel ** 2; // depth-wise conv, no bias
      blocks += C * H + H + H * C + C; // MLP
    }
    return (
      c.inChannels * C * k * k +
      C + // patch projection conv
      C + // class token
      (c.posEmbed === 'learned' ? (g * g + 1) * C : 0) +
      blocks +
      2 * C + // final norm
      (R > 0 ? C * R + R : 0) +
      (R > 0 ? R : C) * c.numClasses +
      c.numClasses
    );
  },
};

const IMAGENET = {
  imageSize: 224,
  numClasses: 1000,
  kernelSize: 16,
  strideSize: 4,
  poolSize: 3,
  patchSize: 16,
  dropout: 0,
  attnDropout: 0,
  dropPath: 0,
};

registerModel(
  'eit-cifar',
  eitFamily,
  {},
  {
    description: 'EIT3/1/4 for 32×32 images (C 250, depth 5, 10 heads, 8×8 tokens): 3,079,010 params for 10 classes',
    tags: ['paper'],
  },
);
registerModel(
  'eit-mini',
  eitFamily,
  { ...IMAGENET, embedDim: 250, depth: 5, numHeads: 10 },
  {
    description: 'EIT16/4/3-Mini at 224² (19×19 tokens): 3,512,750 params, 1.73G MACs without attention matmuls',
    tags: ['paper'],
  },
);
registerModel(
  'eit-tiny',
  eitFamily,
  { ...IMAGENET, embedDim: 330, depth: 8, numHeads: 10 },
  {
    description: 'EIT16/4/3-Tiny at 224²: 8,927,230 params, 3.84G MACs',
    tags: ['paper'],
  },
);
registerModel(
  'eit-base',
  eitFamily,
  { ...IMAGENET, embedDim: 400, depth: 10, numHeads: 16 },
  {
    description: 'EIT16/4/3-Base at 224²: 15,972,280 params, 6.52G MACs',
    tags: ['paper'],
  },
);
registerModel(
  'eit-large',
  eitFamily,
  { ...IMAGENET, embedDim: 464, depth: 12, numHeads: 16 },
  {
    description: 'EIT16/4/3-Large at 224²: 25,305,592 params, 10.0G MACs',
    tags: ['paper'],
  },
);
registerModel(
  'eit-cifar-small',
  eitFamily,
  { embedDim: 64, depth: 4, numHeads: 4, dropout: 0, attnDropout: 0, dropPath: 0.1 },
  {
    description:
      'CPU stand-in for eit-cifar (C 64, depth 4, 4 heads, split (16,48) (32,32) (48,16) (64,0); same EIT_P 3/1/4)',
  },
);
registerModel(
  'eit-test',
  eitFamily,
  { imageSize: 8, embedDim: 16, depth: 2, numHeads: 2, poolSize: 2, dropout: 0, attnDropout: 0, dropPath: 0 },
  {
    description: 'tiny EIT for tests (4×4 tokens, split (8, 8) then (16, 0))',
    tags: ['test'],
  },
);
registerModel(
  'eit-ablation-test',
  eitFamily,
  {
    imageSize: 8,
    embedDim: 12,
    depth: 3,
    numHeads: 2,
    eitP: false,
    patchSize: 2,
    posEmbed: 'learned',
    convSchedule: 'constant-half',
    dropout: 0,
    attnDropout: 0,
    dropPath: 0,
  },
  {
    description: 'tiny EIT for tests with the ablation switches (patchify, position embedding, constant-half split)',
    tags: ['test'],
  },
);

/**
 * The paper's ViT baseline for eit-cifar (docs/eit.md §2): same width, depth, heads and MLP ratio, 4×4 patches (8×8
 * tokens), learned position embedding, class token, no EIT_T. 3,798,010 params for 10 classes — identical to
 * eit-cifar with eitP=false, eitT=false, posEmbed='learned'. Initialised with EIT's own scheme (`weightInit: 'eit'`)
 * so the comparison is about architecture; `--set weightInit=trunc-normal` gives timm's ViT init instead.
 */
const VIT_BASELINE: Partial<VitConfig> = {
  imageSize: 32,
  patchSize: 4,
  embedDim: 250,
  depth: 5,
  numHeads: 10,
  mlpRatio: 4,
  pool: 'cls',
  posEmbed: 'learned',
  dropout: 0.2,
  attnDropout: 0.15,
  dropPath: 0.2,
  layerNormEps: 1e-6,
  weightInit: 'eit',
};
registerModel('vit-eit-baseline', vitFamily, VIT_BASELINE, {
  description:
    "ViT baseline of EIT's small-dataset comparison (C 250, depth 5, 10 heads, patch 4, pos-emb): 3,798,010 params",
});
registerModel(
  'vit-eit-baseline-small',
  vitFamily,
  { ...VIT_BASELINE, embedDim: 64, depth: 4, numHeads: 4, dropout: 0, attnDropout: 0, dropPath: 0.1 },
  {
    description: 'CPU stand-in for vit-eit-baseline, matching eit-cifar-small (C 64, depth 4, 4 heads)',
  },
);
