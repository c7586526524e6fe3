import * as tf from '@tensorflow/tfjs';
import { type Ctx, Module, type Param, init, type InitFn } from '../nn/module';
import { Linear, LayerNorm, Mlp, type Activation, dropout, dropPath } from '../nn/layers';
import { MultiHeadAttention } from '../nn/attention';
import { patchify, type PatchOrder } from '../nn/patch';
import { type BaseConfig, check, type OneOf } from './config';
import { ClassifierModel, type ModelFamily, registerModel } from './registry';
import { tokenKeys, type TokenGeometry, type TokenModel } from './token-model';

/**
 * The plain ViT every paper compares against (Dosovitskiy et al. 2021): linear patch embedding, learned position
 * embedding, class token or mean pooling, pre-LN blocks `x + Attn(LN(x))`, `x + MLP(LN(x))`.
 */
export interface VitConfig extends BaseConfig {
  patchSize: number;
  embedDim: number;
  depth: number;
  numHeads: number;
  /** MLP hidden size = mlpRatio · embedDim. */
  mlpRatio: number;
  /** Biases in every Linear (patch embedding, qkv, projections, MLP, head). */
  bias: boolean;
  pool: OneOf<typeof VIT_POOLS>;
  posEmbed: OneOf<typeof VIT_POS_EMBEDS>;
  finalNorm: boolean;
  activation: Activation;
  patchOrder: PatchOrder;
  dropout: number;
  attnDropout: number;
  dropPath: number;
  layerNormEps: number;
  /**
   * 'torch': PyTorch Linear defaults (weights and biases U(±1/√fan_in));
   * 'trunc-normal': timm's ViT (every Linear N(0, 0.02) truncated at ±2, biases 0; the kit's patch embedding is a
   * Linear and follows the same rule);
   * 'eit': EIT's scheme (arXiv 2203.07116 code, docs/eit.md §2): Linear N(0, 0.01) truncated at ±2, biases 0, the
   * patch projection (a p×p stride-p conv) kaiming-normal fan-out = N(0, 2/(D·p²)), bias 0.
   */
  weightInit: OneOf<typeof VIT_WEIGHT_INITS>;
}

export const VIT_POOLS = ['cls', 'mean'] as const;
export const VIT_POS_EMBEDS = ['learned', 'none'] as const;
/** Activations of the MLP (nn/layers `Activation`). */
export const ACTIVATIONS = ['gelu', 'gelu-sigmoid', 'relu', 'silu'] as const satisfies readonly Activation[];
export const VIT_WEIGHT_INITS = ['torch', 'trunc-normal', 'eit'] as const;

/** Init of the Linear weights (by fan-in) for a ViT `weightInit`; undefined = PyTorch's default. */
export function vitWeightInit(kind: string): ((fanIn: number) => InitFn) | undefined {
  if (kind === 'trunc-normal') return () => init.truncNormal(0.02);
  if (kind === 'eit') return () => init.truncNormal(0.01);
  return undefined;
}

/** Init of the Linear biases for a ViT `weightInit`: zeros except for 'torch' (PyTorch's default). */
export function vitBiasInit(kind: string): InitFn | undefined {
  return vitWeightInit(kind) ? init.zeros() : undefined;
}

/** Init of the patch embedding's weight (a Linear over p·p·C inputs, i.e. a p×p stride-p conv to D channels). */
function patchEmbedInit(c: VitConfig, fanIn: number): InitFn | undefined {
  if (c.weightInit === 'eit') return init.kaimingNormalFanOut(c.embedDim * c.patchSize * c.patchSize);
  return vitWeightInit(c.weightInit)?.(fanIn);
}

export class VitBlock extends Module {
  readonly norm1: LayerNorm;
  readonly attn: MultiHeadAttention;
  readonly norm2: LayerNorm;
  readonly mlp: Mlp;
  constructor(
    readonly c: VitConfig,
    readonly dropPathRate: number,
  ) {
    super();
    const wi = vitWeightInit(c.weightInit);
    this.norm1 = this.child('norm1', new LayerNorm(c.embedDim, c.layerNormEps));
    this.attn = this.child(
      'attn',
      new MultiHeadAttention(c.embedDim, c.numHeads, {
        qkvBias: c.bias,
        projBias: c.bias,
        attnDropout: c.attnDropout,
        projDropout: c.dropout,
        weightInit: wi,
      }),
    );
    this.norm2 = this.child('norm2', new LayerNorm(c.embedDim, c.layerNormEps));
    this.mlp = this.child(
      'mlp',
      new Mlp(c.embedDim, Math.round(c.mlpRatio * c.embedDim), {
        bias: c.bias,
        activation: c.activation,
        dropout: c.dropout,
        weightInit: wi,
      }),
    );
  }
  forward(x: tf.Tensor3D, ctx: Ctx, recordKey?: string): tf.Tensor3D {
    x = x.add(
      dropPath(this.attn.forward(this.norm1.forward(x) as tf.Tensor3D, ctx, recordKey), this.dropPathRate, ctx),
    );
    return x.add(dropPath(this.mlp.forward(this.norm2.forward(x), ctx), this.dropPathRate, ctx));
  }
}

/**
 * The ViT token pipeline shared by every ViT-shaped classifier (plain ViT, Mobile V-MoE): linear patch embedding,
 * optional class token (first), learned position embedding, embedding dropout. Subclasses add blocks, norm and head.
 */
export abstract class VitTokenClassifier<C extends VitConfig> extends ClassifierModel<C> {
  readonly patchEmbed: Linear;
  readonly clsToken: Param | null;
  readonly posEmbed: Param | null;

  constructor(c: C) {
    super(c);
    const n = (c.imageSize / c.patchSize) ** 2;
    const pdim = c.patchSize * c.patchSize * c.inChannels;
    const biasInit = vitBiasInit(c.weightInit);
    this.patchEmbed = this.child(
      'patch_embed',
      new Linear(pdim, c.embedDim, { bias: c.bias, weightInit: patchEmbedInit(c, pdim), biasInit }),
    );
    this.clsToken =
      c.pool === 'cls' ? this.param('cls_token', [1, 1, c.embedDim], init.truncNormal(0.02), { decay: false }) : null;
    const tokens = n + (c.pool === 'cls' ? 1 : 0);
    this.posEmbed =
      c.posEmbed === 'learned'
        ? this.param('pos_embed', [1, tokens, c.embedDim], init.truncNormal(0.02), { decay: false })
        : null;
  }

  /** Patch tokens (+ class token first) with position embedding: [B, T, D]. */
  embed(x: tf.Tensor4D, ctx: Ctx): tf.Tensor3D {
    const c = this.config;
    let t = this.patchEmbed.forward(patchify(x, c.patchSize, c.patchOrder), ctx) as tf.Tensor3D;
    if (this.clsToken) t = tf.concat([tf.tile(this.clsToken.value, [t.shape[0], 1, 1]) as tf.Tensor3D, t], 1);
    if (this.posEmbed) t = t.add(this.posEmbed.value) as tf.Tensor3D;
    return dropout(t, c.dropout, ctx) as tf.Tensor3D;
  }
}

export class VisionTransformer extends VitTokenClassifier<VitConfig> implements TokenModel {
  readonly blocks: VitBlock[];
  readonly norm: LayerNorm | null;
  readonly head: Linear;

  constructor(c: VitConfig) {
    super(c);
    const wi = vitWeightInit(c.weightInit);
    this.blocks = this.children(
      'blocks',
      Array.from({ length: c.depth }, (_, i) => new VitBlock(c, c.depth > 1 ? (c.dropPath * i) / (c.depth - 1) : 0)),
    );
    this.norm = c.finalNorm ? this.child('norm', new LayerNorm(c.embedDim, c.layerNormEps)) : null;
    const head = { bias: c.bias, weightInit: wi?.(c.embedDim), biasInit: vitBiasInit(c.weightInit) };
    this.head = this.child('head', new Linear(c.embedDim, c.numClasses, head));
  }

  get tokenGeometry(): TokenGeometry {
    const c = this.config;
    return { grid: c.imageSize / c.patchSize, hasCls: c.pool === 'cls', pixelsPerToken: c.patchSize, depth: c.depth };
  }

  /** Token features after the last block and final norm: [B, T, D]; records as `TokenModel.features` says. */
  features(x: tf.Tensor4D, ctx: Ctx): tf.Tensor3D {
    let t = this.embed(x, ctx);
    ctx.record?.(tokenKeys.embed, t);
    this.blocks.forEach((b, i) => {
      t = b.forward(t, ctx, tokenKeys.attention(i));
      ctx.record?.(tokenKeys.block(i), t);
    });
    return (this.norm ? this.norm.forward(t) : t) as tf.Tensor3D;
  }

  forward(x: tf.Tensor4D, ctx: Ctx): tf.Tensor2D {
    return tf.tidy(() => {
      const t = this.features(x, ctx);
      const pooled = this.config.pool === 'cls' ? t.slice([0, 0, 0], [-1, 1, -1]).squeeze([1]) : t.mean(1);
      return this.head.forward(pooled, ctx) as tf.Tensor2D;
    });
  }
}

export const vitFamily: ModelFamily<VitConfig> = {
  family: 'vit',
  paper: '2010.11929',
  defaults: {
    imageSize: 32,
    inChannels: 3,
    numClasses: 10,
    patchSize: 4,
    embedDim: 192,
    depth: 6,
    numHeads: 3,
    mlpRatio: 2,
    bias: true,
    pool: 'cls',
    posEmbed: 'learned',
    finalNorm: true,
    activation: 'gelu',
    patchOrder: 'hwc',
    dropout: 0,
    attnDropout: 0,
    dropPath: 0.1,
    layerNormEps: 1e-6,
    weightInit: 'trunc-normal',
  },
  choices: {
    pool: VIT_POOLS,
    posEmbed: VIT_POS_EMBEDS,
    activation: ACTIVATIONS,
    patchOrder: ['hwc', 'chw'],
    weightInit: VIT_WEIGHT_INITS,
  },
  docs: {
    imageSize: 'input height = width in pixels',
    patchSize: 'patch side in pixels; imageSize must be a multiple',
    embedDim: 'token width D',
    depth: 'number of transformer blocks',
    numHeads: 'attention heads; embedDim must be a multiple',
    mlpRatio: 'MLP hidden size as a multiple of embedDim',
    pool: "'cls' (class token) or 'mean' (mean of patch tokens)",
  },
  validate(c, name) {
    check.positiveInt(name, c, 'imageSize', 'inChannels', 'numClasses', 'patchSize', 'embedDim', 'depth', 'numHeads');
    check.divisible(name, c, 'imageSize', 'patchSize');
    check.divisible(name, c, 'embedDim', 'numHeads');
    check.range(name, c, 'dropout', 0, 0.99);
    check.range(name, c, 'attnDropout', 0, 0.99);
    check.range(name, c, 'dropPath', 0, 0.99);
    check.that(c.mlpRatio > 0, `${name}: mlpRatio=${c.mlpRatio} must be > 0`);
  },
  create: (c) => new VisionTransformer(c),
  closedFormParams(c) {
    const D = c.embedDim;
    const H = Math.round(c.mlpRatio * D);
    const n = (c.imageSize / c.patchSize) ** 2 + (c.pool === 'cls' ? 1 : 0);
    const b = c.bias ? 1 : 0;
    const block = 4 * D + (3 * D * D + b * 3 * D) + (D * D + b * D) + (D * H + b * H) + (H * D + b * D);
    return (
      c.patchSize ** 2 * c.inChannels * D +
      b * D +
      (c.pool === 'cls' ? D : 0) +
      (c.posEmbed === 'learned' ? n * D : 0) +
      c.depth * block +
      (c.finalNorm ? 2 * D : 0) +
      D * c.numClasses +
      b * c.numClasses
    );
  },
};

registerModel('vit', vitFamily, {}, { description: 'plain ViT baseline (6×192, patch 4, MLP 2×) at 32×32' });
registerModel(
  'vit-tiny-test',
  vitFamily,
  { imageSize: 8, patchSize: 4, embedDim: 8, depth: 2, numHeads: 2 },
  {
    description: 'tiny ViT for tests',
    tags: ['test'],
  },
);
registerModel(
  'vit-mean-test',
  vitFamily,
  { imageSize: 8, patchSize: 2, embedDim: 8, depth: 1, numHeads: 2, pool: 'mean', bias: false },
  {
    description: 'tiny mean-pooled, bias-free ViT for tests',
    tags: ['test'],
  },
);
/** The throughput benchmark model: the PyTorch reference architecture `npm run bench` runs; 456,384 parameters. */
registerModel(
  'bench-vit',
  vitFamily,
  {
    imageSize: 32,
    patchSize: 4,
    embedDim: 96,
    depth: 6,
    numHeads: 3,
    mlpRatio: 2,
    bias: false,
    pool: 'mean',
    posEmbed: 'learned',
    finalNorm: false,
    activation: 'gelu-sigmoid',
    dropPath: 0,
    layerNormEps: 1e-5,
    weightInit: 'torch',
  },
  { description: 'benchmark ViT: same architecture as the PyTorch reference script (456,384 params)', tags: ['bench'] },
);
