import * as tf from '@tensorflow/tfjs';
import { type Ctx, Module, type Param, init } from '../nn/module';
import { Linear, LayerNorm } from '../nn/layers';
import type { PatchOrder } from '../nn/patch';
import { GroupedQueryAttention } from '../nn/gqa';
import { MoeLayer, type MoeDispatch, MOE_DISPATCH, tidyObject, routingKeys } from '../nn/moe';
import { type BaseConfig, check } from './config';
import { type ModelFamily, registerModel } from './registry';
import { BLOCK_ORDERS, TokenEncoder, attentionResidual, type BlockOrder, type EncoderOutput } from './token-encoder';

/**
 * mLiT — "How Lightweight Can A Vision Transformer Be" (Tan, arXiv 2407.17783). A plain ViT whose FFNs are a
 * mixture of SwiGLU experts with V and W2 shared inside each layer, grouped-query attention, an FFN hidden size that
 * shrinks with depth and a number of experts that grows in stages. Notes: docs/mlit.md §2.
 *
 * What is certain [P]: MoE of SwiGLU experts with shared V/W2, GQA, depth-wise hidden-size scaling, staged experts.
 * The wiring (token pipeline, block order, router, initialisation) follows the author's later MedLiT code [A] and
 * the presets follow a third-party re-implementation [T]; both are inferred for the 2024 paper, hence switches.
 */
export interface MlitConfig extends BaseConfig {
  patchSize: number;
  /** Token width m. */
  embedDim: number;
  /** Number of Transformer-MoE blocks L. */
  depth: number;
  /** Query heads; head_dim = embedDim / numHeads. */
  numHeads: number;
  /** Key/value groups of GQA (numHeads → MHA, 1 → MQA). */
  kvGroups: number;
  /** FFN hidden size of the first and last block; h_i in between by the author's formula. */
  hiddenFirst: number;
  hiddenLast: number;
  /** Explicit per-block hidden sizes (overrides hiddenFirst/Last when non-empty; ablation: constant). */
  hiddenSizes: number[];
  /** Experts of the first stage; each later stage adds expertsStep (0 = constant). */
  expertsStart: number;
  expertsStep: number;
  /** Number of stages: a stage lasts ceil(depth / expertStages) blocks. */
  expertStages: number;
  /** Explicit per-block expert counts (overrides the staged schedule when non-empty). */
  expertsPerBlock: number[];
  topK: number;
  /** V and W2 shared by the experts of a layer (the paper) or private per expert (ablation). */
  shareVW2: boolean;
  /** Router noise during training (author's code: yes). */
  routerNoise: boolean;
  /** Per-layer coefficient of CV²(importance) + CV²(load) (Shazeer, author's code: 0.01). */
  balanceCoef: number;
  /** Weight of the summed per-layer balancing losses in the total loss ([?]; 1 reads the code; 0 = aux loss off). */
  auxWeight: number;
  /** 'ln-then-residual' (author's code: x = LN1(x); x = x + Attn(x); x = x + MoE(LN2(x))) or 'pre-norm'. */
  blockOrder: BlockOrder;
  /** Dropout on the attention output and on each expert's output. */
  dropout: number;
  /** Dropout before the classification head (author's fine-tuning: 0.2). */
  headDropout: number;
  layerNormEps: number;
  /** Layout of a patch vector: 'chw' (PyTorch unfold, author's code) or 'hwc'. */
  patchOrder: PatchOrder;
  moeDispatch: MoeDispatch;
  /** Include the MAE-only encoder parameters (OutProj m × outProj, MaskEmbed m) counted by the author's encoder. */
  maeExtras: boolean;
  /** Width of OutProj when maeExtras (author: = embedDim). */
  outProj: number;
}

/** h_i = h_last + floor((L−1−i)·(h_first − h_last)/(L−1)), i = 0 … L−1 (author's code, docs/mlit.md §2.2). */
export function depthwiseHidden(depth: number, hFirst: number, hLast: number): number[] {
  if (depth === 1) return [hFirst];
  return Array.from(
    { length: depth },
    (_, i) => hLast + Math.floor(((depth - 1 - i) * (hFirst - hLast)) / (depth - 1)),
  );
}

/** Start with `start` experts and add `step` after every ceil(L/stages) blocks (author's code: 3, +1, 3 stages). */
export function stagedExperts(depth: number, start: number, step = 1, stages = 3): number[] {
  const per = Math.ceil(depth / stages);
  return Array.from({ length: depth }, (_, i) => start + step * Math.floor(i / per));
}

export function mlitHiddenSizes(c: MlitConfig): number[] {
  return c.hiddenSizes.length > 0 ? c.hiddenSizes : depthwiseHidden(c.depth, c.hiddenFirst, c.hiddenLast);
}

export function mlitExperts(c: MlitConfig): number[] {
  return c.expertsPerBlock.length > 0
    ? c.expertsPerBlock
    : stagedExperts(c.depth, c.expertsStart, c.expertsStep, c.expertStages);
}

/** Transformer-MoE block. Returns the block output and its balancing loss (training only). */
export class MlitBlock extends Module {
  readonly norm1: LayerNorm;
  readonly attn: GroupedQueryAttention;
  readonly norm2: LayerNorm;
  readonly moe: MoeLayer;
  constructor(
    readonly c: MlitConfig,
    readonly hidden: number,
    readonly numExperts: number,
  ) {
    super();
    this.norm1 = this.child('norm1', new LayerNorm(c.embedDim, c.layerNormEps));
    this.attn = this.child(
      'attn',
      new GroupedQueryAttention(c.embedDim, c.numHeads, c.kvGroups, { bias: false, projDropout: c.dropout }),
    );
    this.norm2 = this.child('norm2', new LayerNorm(c.embedDim, c.layerNormEps));
    this.moe = this.child(
      'moe',
      new MoeLayer(c.embedDim, {
        numExperts,
        topK: c.topK,
        hidden,
        shareVW2: c.shareVW2,
        dropout: c.dropout,
        dispatch: c.moeDispatch,
        balanceCoef: c.balanceCoef,
        noise: c.routerNoise,
      }),
    );
  }

  forward(x: tf.Tensor3D, ctx: Ctx, key?: string): { x: tf.Tensor3D; aux: tf.Scalar | null } {
    return tidyObject(() => {
      const attn = (xn: tf.Tensor3D) => this.attn.forward(xn, ctx, key && `${key}.attn`);
      const h = attentionResidual(this.c.blockOrder, x, this.norm1, attn);
      const { y, aux } = this.moe.forward(this.norm2.forward(h) as tf.Tensor3D, ctx, key && routingKeys.moe(key));
      return { x: h.add(y) as tf.Tensor3D, aux };
    });
  }
}

export type { EncoderOutput };

/** mLiT on the author's token encoder (class patch last, position table N(0, 1), no patch bias; token-encoder.ts). */
export class Mlit extends TokenEncoder<MlitConfig> {
  readonly blocks: MlitBlock[];
  readonly norm: LayerNorm;
  readonly head: Linear;
  readonly outProj: Linear | null;
  readonly maskEmbed: Param | null;
  readonly hiddenSizes: number[];
  readonly expertCounts: number[];

  constructor(c: MlitConfig) {
    super(c, { patchBias: false, posEmbedStd: 1 });
    const m = c.embedDim;
    this.hiddenSizes = mlitHiddenSizes(c);
    this.expertCounts = mlitExperts(c);
    this.blocks = this.children(
      'blocks',
      this.hiddenSizes.map((h, i) => new MlitBlock(c, h, this.expertCounts[i])),
    );
    this.norm = this.child('norm', new LayerNorm(m, c.layerNormEps));
    this.outProj = c.maeExtras ? this.child('out_proj', new Linear(m, c.outProj, { bias: false })) : null;
    this.maskEmbed = c.maeExtras ? this.param('mask_embed', [m], init.normal(1), { decay: false }) : null;
    this.head = this.child('head', new Linear(m, c.numClasses));
  }

  protected get blockCount(): number {
    return this.blocks.length;
  }
  /** forward adds auxWeight · Σ_layers L_aux to ctx as 'moe_balance' in training. */
  protected get auxWeight(): number {
    return this.config.auxWeight;
  }
  protected runBlock(i: number, t: tf.Tensor3D, ctx: Ctx): { x: tf.Tensor3D; aux: tf.Scalar | null } {
    return this.blocks[i].forward(t, ctx, ctx.record ? routingKeys.block(i) : undefined);
  }

  /**
   * Encoder-space tokens of masked positions, LN(PosEmbed(index) + MaskEmbed) with the final LayerNorm (author's
   * MAE encoder, docs/mlit.md §3; needs maeExtras). positions: [B, n] int32 → [B, n, m]; they skip the blocks.
   */
  maskTokens(positions: tf.Tensor2D): tf.Tensor3D {
    if (!this.maskEmbed) throw new Error('Mlit.maskTokens needs maeExtras=true (MaskEmbed and OutProj)');
    return tf.tidy(() => this.norm.forward(this.positionRows(positions).add(this.maskEmbed!.value)) as tf.Tensor3D);
  }

  /** Parameters one image uses at inference: everything except the private W_e of the E − k unchosen experts. */
  activeParamCount(): number {
    return mlitActiveParams(this.config);
  }
}

/** Closed-form parameter count, independent of the modules (docs/mlit.md §2.1). */
export function mlitClosedFormParams(c: MlitConfig): number {
  const m = c.embedDim;
  const T = (c.imageSize / c.patchSize) ** 2 + 1;
  const kv = (c.kvGroups * m) / c.numHeads;
  const hs = mlitHiddenSizes(c);
  const es = mlitExperts(c);
  let p = c.inChannels * c.patchSize ** 2 * m + T * m + 2 * m + m * c.numClasses + c.numClasses;
  if (c.maeExtras) p += m * c.outProj + m;
  hs.forEach((h, i) => {
    const E = es[i];
    const attn = 2 * m * m + 2 * kv * m;
    const router = 2 * m * E;
    const priv = E * (m * h + h);
    const vw2 = (c.shareVW2 ? 1 : E) * (m * h + h + h * m + m);
    p += 4 * m + attn + router + priv + vw2;
  });
  return p;
}

export function mlitActiveParams(c: MlitConfig): number {
  const m = c.embedDim;
  const hs = mlitHiddenSizes(c);
  const es = mlitExperts(c);
  let unused = 0;
  hs.forEach((h, i) => {
    const idle = Math.max(0, es[i] - c.topK);
    unused += idle * (m * h + h + (c.shareVW2 ? 0 : m * h + h + h * m + m));
  });
  return mlitClosedFormParams(c) - unused;
}

/**
 * Inference MACs as docs/mlit.md §2.1 counts them: patch projection, per layer q/k/v/o, 2·T²·m attention,
 * router x·W_g and k experts each evaluating W_e, V, W2; the head. Matches `countMacs` on the built model.
 */
export function mlitClosedFormMacs(c: MlitConfig): number {
  const m = c.embedDim;
  const N = (c.imageSize / c.patchSize) ** 2;
  const T = N + 1;
  const kv = (c.kvGroups * m) / c.numHeads;
  const hs = mlitHiddenSizes(c);
  const es = mlitExperts(c);
  let macs = N * c.inChannels * c.patchSize ** 2 * m + m * c.numClasses;
  hs.forEach((h, i) => {
    macs += T * (2 * m * m + 2 * kv * m) + 2 * T * T * m + T * m * es[i] + T * Math.min(c.topK, es[i]) * 3 * m * h;
  });
  return macs;
}

export interface BudgetRow {
  component: string;
  params: number;
}

/**
 * Where an mLiT's parameters go (summed over blocks), and what the same blocks would cost with private V/W2 per
 * expert and with the plain 2× GELU FFN of P2's ViT (2·m·2m + 3m per block) instead of the MoE. Closed form.
 */
export function mlitParamBudget(c: MlitConfig): {
  rows: BudgetRow[];
  total: number;
  ffnIfPrivateVW2: number;
  ffnIfDense2x: number;
} {
  const m = c.embedDim;
  const T = (c.imageSize / c.patchSize) ** 2 + 1;
  const kv = (c.kvGroups * m) / c.numHeads;
  const hs = mlitHiddenSizes(c);
  const es = mlitExperts(c);
  const sum = (f: (h: number, e: number) => number) => hs.reduce((s, h, i) => s + f(h, es[i]), 0);
  const L = hs.length;
  const rows: BudgetRow[] = [
    { component: 'patch projection (no bias)', params: c.inChannels * c.patchSize ** 2 * m },
    { component: 'position table (N+1)×m', params: T * m },
    { component: 'LayerNorms (2 per block + final)', params: L * 4 * m + 2 * m },
    { component: 'attention Q and O (m² each)', params: L * 2 * m * m },
    { component: `attention K and V (${c.kvGroups} groups)`, params: L * 2 * kv * m },
    { component: 'routers W_g, W_noise', params: sum((_, e) => 2 * m * e) },
    { component: 'private W_e (+ bias) of all experts', params: sum((h, e) => e * (m * h + h)) },
    {
      component: c.shareVW2 ? 'shared V, W2 (+ biases)' : 'private V, W2 (+ biases)',
      params: sum((h, e) => (c.shareVW2 ? 1 : e) * (2 * m * h + h + m)),
    },
    { component: 'head', params: m * c.numClasses + c.numClasses },
  ];
  if (c.maeExtras) rows.push({ component: 'MAE-only OutProj, MaskEmbed', params: m * c.outProj + m });
  return {
    rows,
    total: rows.reduce((s, r) => s + r.params, 0),
    ffnIfPrivateVW2: sum((h, e) => e * (3 * m * h + 2 * h + m)),
    ffnIfDense2x: L * (4 * m * m + 3 * m),
  };
}

export const mlitFamily: ModelFamily<MlitConfig> = {
  family: 'mlit',
  paper: '2407.17783',
  defaults: {
    imageSize: 36,
    inChannels: 3,
    numClasses: 10,
    patchSize: 3,
    embedDim: 108,
    depth: 9,
    numHeads: 6,
    kvGroups: 3,
    hiddenFirst: 81,
    hiddenLast: 27,
    hiddenSizes: [],
    expertsStart: 3,
    expertsStep: 1,
    expertStages: 3,
    expertsPerBlock: [],
    topK: 2,
    shareVW2: true,
    routerNoise: true,
    balanceCoef: 0.01,
    auxWeight: 1,
    blockOrder: 'ln-then-residual',
    dropout: 0.1,
    headDropout: 0.2,
    layerNormEps: 1e-5,
    patchOrder: 'chw',
    moeDispatch: 'auto',
    maeExtras: false,
    outProj: 108,
  },
  choices: {
    blockOrder: BLOCK_ORDERS,
    patchOrder: ['chw', 'hwc'],
    moeDispatch: MOE_DISPATCH,
  },
  docs: {
    imageSize: 'input height = width in pixels (CIFAR 32 → 36 in the inferred setting)',
    patchSize: 'patch side in pixels; imageSize must be a multiple',
    embedDim: 'token width m',
    depth: 'number of Transformer-MoE blocks L',
    numHeads: 'GQA query heads; embedDim must be a multiple',
    kvGroups: 'GQA key/value groups; numHeads must be a multiple (numHeads = MHA, 1 = MQA)',
    hiddenFirst: 'SwiGLU hidden size of the first block (depth-wise scaling down to hiddenLast)',
    hiddenLast: 'SwiGLU hidden size of the last block',
    hiddenSizes: 'explicit per-block hidden sizes (comma list), overriding hiddenFirst/hiddenLast',
    expertsStart: 'experts in the first stage',
    expertsStep: 'experts added per stage (0 = constant)',
    expertStages: 'number of stages (a stage lasts ceil(depth/expertStages) blocks)',
    expertsPerBlock: 'explicit per-block expert counts (comma list), overriding the staged schedule',
    topK: 'experts per token',
    shareVW2: 'share V and W2 among the experts of a layer (the paper) or not',
    routerNoise: 'noisy gating during training',
    balanceCoef: 'per-layer coefficient of CV²(importance)+CV²(load)',
    auxWeight: 'weight of the summed balancing losses in the total loss (0 = off)',
    blockOrder: "'ln-then-residual' (author's code) or 'pre-norm'",
    dropout: 'dropout on attention output and expert outputs',
    headDropout: 'dropout before the head',
    moeDispatch: "'auto', 'dense' (reference), 'sparse' (gather), 'slots', 'fused' (W2 once)",
    maeExtras: "include the MAE encoder's OutProj and MaskEmbed",
  },
  validate(c, name) {
    check.positiveInt(
      name,
      c,
      'imageSize',
      'inChannels',
      'numClasses',
      'patchSize',
      'embedDim',
      'depth',
      'numHeads',
      'kvGroups',
      'topK',
      'expertStages',
      'outProj',
    );
    check.divisible(name, c, 'imageSize', 'patchSize');
    check.divisible(name, c, 'embedDim', 'numHeads');
    check.divisible(name, c, 'numHeads', 'kvGroups');
    check.range(name, c, 'dropout', 0, 0.99);
    check.range(name, c, 'headDropout', 0, 0.99);
    check.that(
      c.auxWeight >= 0 && c.balanceCoef >= 0,
      `${name}: auxWeight=${c.auxWeight}, balanceCoef=${c.balanceCoef} must be ≥ 0`,
    );
    if (c.hiddenSizes.length > 0) {
      check.that(
        c.hiddenSizes.length === c.depth,
        `${name}: hiddenSizes has ${c.hiddenSizes.length} entries; expected depth=${c.depth}`,
      );
    } else {
      check.positiveInt(name, c, 'hiddenFirst', 'hiddenLast');
    }
    for (const h of mlitHiddenSizes(c))
      check.that(Number.isInteger(h) && h > 0, `${name}: hidden size ${h} must be a positive integer`);
    if (c.expertsPerBlock.length > 0) {
      check.that(
        c.expertsPerBlock.length === c.depth,
        `${name}: expertsPerBlock has ${c.expertsPerBlock.length} entries; expected depth=${c.depth}`,
      );
    }
    for (const e of mlitExperts(c)) {
      check.that(
        Number.isInteger(e) && e >= c.topK,
        `${name}: a block has ${e} experts with topK=${c.topK}; expected integer expert counts ≥ topK`,
      );
    }
    if (!c.shareVW2) {
      check.that(
        c.moeDispatch !== 'slots' && c.moeDispatch !== 'fused',
        `${name}: moeDispatch='${c.moeDispatch}' needs shareVW2=true; expected 'auto', 'dense' or 'sparse'`,
      );
    }
  },
  create: (c) => new Mlit(c),
  closedFormParams: mlitClosedFormParams,
};

/** Presets of docs/mlit.md §2.1 (third-party table [T], believed the paper's): input 36×36, patch 3, 10 classes. */
export const MLIT_PRESETS: Record<'xxs' | 'xs' | 's', Partial<MlitConfig>> = {
  xxs: { embedDim: 108, depth: 9, numHeads: 6, kvGroups: 3, hiddenFirst: 81, hiddenLast: 27 },
  xs: { embedDim: 128, depth: 12, numHeads: 8, kvGroups: 4, hiddenFirst: 96, hiddenLast: 32, outProj: 128 },
  s: { embedDim: 144, depth: 15, numHeads: 8, kvGroups: 4, hiddenFirst: 144, hiddenLast: 72, outProj: 144 },
};

registerModel('mlit-xxs', mlitFamily, MLIT_PRESETS.xxs, {
  description:
    'mLiT-XXS: m 108, 9 blocks, GQA 6/3, hidden 81→27, experts 3/4/5, top-2 (649,547 params at 36/3, 10 classes)',
  tags: ['paper'],
});
registerModel('mlit-xs', mlitFamily, MLIT_PRESETS.xs, {
  description: 'mLiT-XS: m 128, 12 blocks, GQA 8/4, hidden 96→32, experts 3/4/5, top-2 (1,199,030 params at 36/3)',
  tags: ['paper'],
});
registerModel('mlit-s', mlitFamily, MLIT_PRESETS.s, {
  description: 'mLiT-S: m 144, 15 blocks, GQA 8/4, hidden 144→72, experts 3/4/5, top-2 (2,353,152 params at 36/3)',
  tags: ['paper'],
});
registerModel(
  'mlit-test',
  mlitFamily,
  {
    imageSize: 8,
    patchSize: 4,
    embedDim: 12,
    depth: 3,
    numHeads: 4,
    kvGroups: 2,
    hiddenFirst: 9,
    hiddenLast: 3,
    outProj: 12,
  },
  { description: 'tiny mLiT for tests (3 blocks with 3/4/5 experts)', tags: ['test'] },
);
