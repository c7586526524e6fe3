import * as tf from '@tensorflow/tfjs';
import { type Ctx, Module, type Param, init } from '../nn/module';
import { BatchNorm, LayerNorm, Linear, Mlp, dropout, dropPath } from '../nn/layers';
import { patchify } from '../nn/patch';
import { WindowAttention } from '../nn/window-attention';
import { DWConv, DynamicDWConv, InhomogeneousDWConv, SqueezeExcite } from '../nn/dwconv';
import { type BaseConfig, check, type OneOf } from './config';
import { ClassifierModel, type ModelFamily, registerModel } from './registry';

/**
 * "Demystifying Local Vision Transformer: Sparse Connectivity, Weight Sharing, and Dynamic Weight" (Han et al.,
 * arXiv 2106.04263; ICLR 2022 "On the Connection between Local Attention and Dynamic Depth-wise Convolution").
 *
 * One Swin-like hierarchical macro-architecture (conv patch embedding + LN, stages of blocks with PatchMerging
 * between them, channels doubling, final LN, global average pool, head) with four interchangeable spatial blocks:
 *   - 'attn': Swin's (shifted-)window multi-head attention with relative position bias (the local-attention model);
 *   - 'dw':   DWNet: 1×1 conv-BN-ReLU, k×k depth-wise conv-BN-ReLU, 1×1 conv-BN; BN before the MLP;
 *   - 'ddw':  D-DWNet: the depth-wise conv's kernels predicted per image (homogeneous dynamic);
 *   - 'iddw': I-D-DWNet: kernels predicted per position, shared within channel groups (inhomogeneous dynamic).
 * The DW models follow the official code (Atten4Vis/DemystifyLocalViT): DWNet and D-DWNet as at commit 4aa8326,
 * I-D-DWNet as at HEAD (whose DWBlock overwrites the homogeneous dynamic conv with a static one; not reproduced).
 * Tokens stay NHWC [B, H, W, C] throughout.
 */
export interface DwnetConfig extends BaseConfig {
  /** Spatial block: 'attn' (Swin local attention), 'dw', 'ddw', 'iddw'. */
  block: OneOf<typeof BLOCKS>;
  patchSize: number;
  embedDim: number;
  /** Blocks per stage; the number of stages is depths.length. */
  depths: number[];
  /** Attention heads per stage (Swin-T 3,6,12,24); also the head-sized groups of dwSharing='head'. */
  numHeads: number[];
  /** Attention window side (Swin 7). */
  windowSize: number;
  /** Depth-wise kernel side (paper: = window, 7). */
  kernelSize: number;
  mlpRatio: number;
  /** I-D-DWNet: channels per kernel group per stage (official INHOMO_HEADS: T 3,6,12,24 and B 4,8,16,32 → G = 32). */
  groupChannels: number[];
  /** Reduction r of the dynamic kernel generators (C → C/r). */
  dynamicReduction: number;
  /** Weight-sharing study: 'none' (per-channel DW kernels) or 'head' (one kernel per head-sized channel group). */
  dwSharing: OneOf<typeof DW_SHARING>;
  /** Weight-sharing study: 'head' (Swin: one attention map per head) or 'channel' (one per channel: heads = C). */
  attnWeights: OneOf<typeof ATTN_WEIGHTS>;
  /** Squeeze-and-excitation on the spatial branch's output (before the residual add); placement inferred. */
  se: boolean;
  seReduction: number;
  /** Shift the windows by window/2 on every second block of a stage (Swin). */
  shiftedWindows: boolean;
  relativePositionBias: boolean;
  /** LayerNorm after the patch embedding. */
  patchNorm: boolean;
  /** Stochastic depth, linearly increasing from 0 to this over all blocks. */
  dropPath: number;
  dropout: number;
  layerNormEps: number;
}

const BLOCKS = ['attn', 'dw', 'ddw', 'iddw'] as const;
const DW_SHARING = ['none', 'head'] as const;
const ATTN_WEIGHTS = ['head', 'channel'] as const;

const truncLinear = () => init.truncNormal(0.02);

/** Stage resolutions (square maps): imageSize/patch, then halved by every PatchMerging. */
export function stageResolutions(c: DwnetConfig): number[] {
  const r0 = c.imageSize / c.patchSize;
  return c.depths.map((_, i) => r0 / 2 ** i);
}

/** Attention heads of stage i after the weight-sharing switch. */
function headsOf(c: DwnetConfig, i: number): number {
  const dim = c.embedDim * 2 ** i;
  return c.attnWeights === 'channel' ? dim : c.numHeads[i];
}

/** Conv patch embedding (Conv2d(in, C, p, stride p) with bias), computed as patchify + matmul: identical maps. */
export class PatchEmbed extends Module {
  readonly weight: Param;
  readonly bias: Param;
  constructor(
    readonly inChannels: number,
    readonly dim: number,
    readonly patch: number,
  ) {
    super();
    const fanIn = inChannels * patch * patch;
    this.weight = this.param('weight', [patch, patch, inChannels, dim], init.torchDefault(fanIn));
    this.bias = this.param('bias', [dim], init.torchDefault(fanIn));
  }
  forward(x: tf.Tensor4D, ctx: Ctx): tf.Tensor4D {
    const [b, h, w] = x.shape;
    const p = this.patch;
    const k = p * p * this.inChannels;
    ctx.macs?.add('conv', b * (h / p) * (w / p) * this.dim * k);
    return tf.tidy(() => {
      // weight [p, p, in, C] flattened row-major matches patchify's (row, column, channel) patch layout
      const t = tf.fused.matMul({
        a: patchify(x, p, 'hwc').reshape([-1, k]) as tf.Tensor2D,
        b: this.weight.value.reshape([k, this.dim]) as tf.Tensor2D,
        bias: this.bias.value,
      });
      return t.reshape([b, h / p, w / p, this.dim]) as tf.Tensor4D;
    });
  }
}

/**
 * Swin's PatchMerging: concatenate each 2×2 neighbourhood (x0=(0,0), x1=(1,0), x2=(0,1), x3=(1,1)) → LN(4C) → Linear
 * 4C→2C, no bias.
 */
export class PatchMerging extends Module {
  readonly norm: LayerNorm;
  readonly reduction: Linear;
  constructor(
    readonly dim: number,
    eps: number,
  ) {
    super();
    this.norm = this.child('norm', new LayerNorm(4 * dim, eps));
    this.reduction = this.child('reduction', new Linear(4 * dim, 2 * dim, { bias: false, weightInit: truncLinear() }));
  }
  forward(x: tf.Tensor4D, ctx: Ctx): tf.Tensor4D {
    const [b, h, w, c] = x.shape;
    return tf.tidy(() => {
      // [B·H/2, 2(dh), W/2, 2·C(dw, c)] → [B·H/2·W/2, 2(dw), 2(dh), C]: channel index dw·2C + dh·C + c
      const t = x
        .reshape([b * (h / 2), 2, w / 2, 2 * c])
        .transpose([0, 2, 1, 3])
        .reshape([b * (h / 2) * (w / 2), 2, 2, c])
        .transpose([0, 2, 1, 3])
        .reshape([b, h / 2, w / 2, 4 * c]);
      return this.reduction.forward(this.norm.forward(t), ctx) as tf.Tensor4D;
    });
  }
}

function makeMlp(c: DwnetConfig, dim: number): Mlp {
  return new Mlp(dim, Math.round(c.mlpRatio * dim), {
    activation: 'gelu',
    dropout: c.dropout,
    weightInit: truncLinear,
  });
}

/** Swin block (local attention): x + DropPath(W-MSA/SW-MSA(LN(x))), then x + DropPath(MLP(LN(x))). */
export class SwinBlock extends Module {
  readonly norm1: LayerNorm;
  readonly attn: WindowAttention;
  readonly se: SqueezeExcite | null;
  readonly norm2: LayerNorm;
  readonly mlp: Mlp;
  constructor(
    c: DwnetConfig,
    dim: number,
    heads: number,
    window: number,
    readonly shift: number,
    readonly dropPathRate: number,
  ) {
    super();
    this.norm1 = this.child('norm1', new LayerNorm(dim, c.layerNormEps));
    this.attn = this.child(
      'attn',
      new WindowAttention(dim, heads, window, {
        projDropout: c.dropout,
        weightInit: truncLinear,
        relativePositionBias: c.relativePositionBias,
      }),
    );
    this.se = c.se ? this.child('se', new SqueezeExcite(dim, c.seReduction)) : null;
    this.norm2 = this.child('norm2', new LayerNorm(dim, c.layerNormEps));
    this.mlp = this.child('mlp', makeMlp(c, dim));
  }
  forward(x: tf.Tensor4D, ctx: Ctx, recordKey?: string): tf.Tensor4D {
    return tf.tidy(() => {
      let y = this.attn.forward(this.norm1.forward(x) as tf.Tensor4D, ctx, this.shift, recordKey);
      if (this.se) y = this.se.forward(y, ctx);
      const h = x.add(dropPath(y, this.dropPathRate, ctx)) as tf.Tensor4D;
      return h.add(dropPath(this.mlp.forward(this.norm2.forward(h), ctx), this.dropPathRate, ctx)) as tf.Tensor4D;
    });
  }
}

export type DepthwiseKind = DWConv | DynamicDWConv | InhomogeneousDWConv;

/**
 * The official DWBlock (replaces window attention): 1×1 conv (no bias) → BN → ReLU → k×k depth-wise conv
 * (static, homogeneous or inhomogeneous dynamic) → BN → ReLU → 1×1 conv (no bias) → BN. The 1×1 convs stand in
 * for Swin's value and output projections (computed as Linear on the channel axis).
 */
export class DWBlock extends Module {
  readonly conv0: Linear;
  readonly bn0: BatchNorm;
  readonly conv: DepthwiseKind;
  readonly bn: BatchNorm;
  readonly conv2: Linear;
  readonly bn2: BatchNorm;
  constructor(c: DwnetConfig, dim: number, stage: number) {
    super();
    const k = c.kernelSize;
    this.conv0 = this.child('conv0', new Linear(dim, dim, { bias: false }));
    this.bn0 = this.child('bn0', new BatchNorm(dim));
    if (c.block === 'ddw') this.conv = this.child('conv', new DynamicDWConv(dim, k, { reduction: c.dynamicReduction }));
    else if (c.block === 'iddw')
      this.conv = this.child(
        'conv',
        new InhomogeneousDWConv(dim, k, c.groupChannels[stage], { reduction: c.dynamicReduction }),
      );
    else
      this.conv = this.child(
        'conv',
        new DWConv(dim, k, { groupChannels: c.dwSharing === 'head' ? dim / c.numHeads[stage] : 1 }),
      );
    this.bn = this.child('bn', new BatchNorm(dim));
    this.conv2 = this.child('conv2', new Linear(dim, dim, { bias: false }));
    this.bn2 = this.child('bn2', new BatchNorm(dim));
  }
  forward(x: tf.Tensor4D, ctx: Ctx): tf.Tensor4D {
    return tf.tidy(() => {
      let h = tf.relu(this.bn0.forward(this.conv0.forward(x, ctx), ctx)) as tf.Tensor4D;
      h = this.conv.forward(h, ctx);
      h = tf.relu(this.bn.forward(h, ctx)) as tf.Tensor4D;
      return this.bn2.forward(this.conv2.forward(h, ctx), ctx) as tf.Tensor4D;
    });
  }
}

/** The official SpatialBlock: x + DropPath(DWBlock(x)) (no pre-norm), then x + DropPath(MLP(BN(x))). */
export class DWSpatialBlock extends Module {
  readonly attn2conv: DWBlock;
  readonly se: SqueezeExcite | null;
  readonly bn: BatchNorm;
  readonly mlp: Mlp;
  constructor(
    c: DwnetConfig,
    dim: number,
    stage: number,
    readonly dropPathRate: number,
  ) {
    super();
    this.attn2conv = this.child('attn2conv', new DWBlock(c, dim, stage));
    this.se = c.se ? this.child('se', new SqueezeExcite(dim, c.seReduction)) : null;
    this.bn = this.child('bn', new BatchNorm(dim));
    this.mlp = this.child('mlp', makeMlp(c, dim));
  }
  forward(x: tf.Tensor4D, ctx: Ctx): tf.Tensor4D {
    return tf.tidy(() => {
      let y = this.attn2conv.forward(x, ctx);
      if (this.se) y = this.se.forward(y, ctx);
      const h = x.add(dropPath(y, this.dropPathRate, ctx)) as tf.Tensor4D;
      return h.add(dropPath(this.mlp.forward(this.bn.forward(h, ctx), ctx), this.dropPathRate, ctx)) as tf.Tensor4D;
    });
  }
}

export type SpatialBlock = SwinBlock | DWSpatialBlock;

/** One stage (Swin's BasicLayer): blocks at one resolution, then PatchMerging unless it is the last stage. */
export class Stage extends Module {
  readonly blocks: SpatialBlock[];
  readonly downsample: PatchMerging | null;
  constructor(c: DwnetConfig, stage: number, dprs: number[]) {
    super();
    const dim = c.embedDim * 2 ** stage;
    const res = stageResolutions(c)[stage];
    // Swin: a map no larger than the window is a single window without shift
    const window = Math.min(c.windowSize, res);
    const shift = c.shiftedWindows && res > c.windowSize ? Math.floor(c.windowSize / 2) : 0;
    this.blocks = this.children(
      'blocks',
      dprs.map((dpr, j) =>
        c.block === 'attn'
          ? new SwinBlock(c, dim, headsOf(c, stage), window, j % 2 === 1 ? shift : 0, dpr)
          : new DWSpatialBlock(c, dim, stage, dpr),
      ),
    );
    this.downsample =
      stage < c.depths.length - 1 ? this.child('downsample', new PatchMerging(dim, c.layerNormEps)) : null;
  }
  forward(x: tf.Tensor4D, ctx: Ctx, stage: number): tf.Tensor4D {
    return tf.tidy(() => {
      let h = x;
      this.blocks.forEach(
        (b, j) => (h = b instanceof SwinBlock ? b.forward(h, ctx, `attn.${stage}.${j}`) : b.forward(h, ctx)),
      );
      return this.downsample ? this.downsample.forward(h, ctx) : h;
    });
  }
}

export class LocalVisionNet extends ClassifierModel<DwnetConfig> {
  readonly patchEmbed: PatchEmbed;
  readonly patchNorm: LayerNorm | null;
  readonly layers: Stage[];
  readonly norm: LayerNorm;
  readonly head: Linear;
  constructor(c: DwnetConfig) {
    super(c);
    this.patchEmbed = this.child('patch_embed', new PatchEmbed(c.inChannels, c.embedDim, c.patchSize));
    this.patchNorm = c.patchNorm ? this.child('patch_norm', new LayerNorm(c.embedDim, c.layerNormEps)) : null;
    const total = c.depths.reduce((a, b) => a + b, 0);
    // stochastic depth decay rule: linspace(0, dropPath, total blocks)
    const dpr = Array.from({ length: total }, (_, i) => (total > 1 ? (c.dropPath * i) / (total - 1) : 0));
    let start = 0;
    this.layers = this.children(
      'layers',
      c.depths.map((d, i) => {
        const s = new Stage(c, i, dpr.slice(start, start + d));
        start += d;
        return s;
      }),
    );
    const features = c.embedDim * 2 ** (c.depths.length - 1);
    this.norm = this.child('norm', new LayerNorm(features, c.layerNormEps));
    this.head = this.child(
      'head',
      new Linear(features, c.numClasses, { weightInit: truncLinear(), biasInit: init.zeros() }),
    );
  }

  /** Final feature map after the last stage and the final LayerNorm: [B, h, w, 8C]. */
  features(x: tf.Tensor4D, ctx: Ctx): tf.Tensor4D {
    return tf.tidy(() => {
      let t = this.patchEmbed.forward(x, ctx);
      if (this.patchNorm) t = this.patchNorm.forward(t) as tf.Tensor4D;
      t = dropout(t, this.config.dropout, ctx) as tf.Tensor4D;
      this.layers.forEach((s, i) => (t = s.forward(t, ctx, i)));
      return this.norm.forward(t) as tf.Tensor4D;
    });
  }

  forward(x: tf.Tensor4D, ctx: Ctx): tf.Tensor2D {
    return tf.tidy(() => this.head.forward(this.features(x, ctx).mean([1, 2]), ctx) as tf.Tensor2D);
  }
}

/** Parameters of one spatial block at width `dim` (closed form, independent of the modules). */
function blockParams(c: DwnetConfig, dim: number, stage: number, res: number): number {
  const hidden = Math.round(c.mlpRatio * dim);
  const mlp = dim * hidden + hidden + hidden * dim + dim;
  const seHidden = Math.max(1, Math.floor(dim / c.seReduction));
  const se = c.se ? 2 * dim * seHidden + seHidden + dim : 0;
  const k2 = c.kernelSize ** 2;
  if (c.block === 'attn') {
    const w = Math.min(c.windowSize, res);
    const rpb = c.relativePositionBias ? (2 * w - 1) ** 2 * headsOf(c, stage) : 0;
    return 2 * dim + (3 * dim * dim + 3 * dim) + (dim * dim + dim) + rpb + se + 2 * dim + mlp;
  }
  const r = Math.floor(dim / c.dynamicReduction);
  let conv: number;
  if (c.block === 'dw') conv = k2 * (c.dwSharing === 'head' ? c.numHeads[stage] : dim) + dim;
  else if (c.block === 'ddw') conv = dim * r + 2 * r + r * dim * k2 + dim * k2 + dim;
  else {
    const g = dim / c.groupChannels[stage];
    conv = dim * r + r + 2 * r + r * g * k2 + g * k2;
  }
  // conv0 + bn0 + conv + bn + conv2 + bn2, then SE, BN before the MLP, MLP
  return dim * dim + 2 * dim + conv + 2 * dim + dim * dim + 2 * dim + se + 2 * dim + mlp;
}

export const dwnetFamily: ModelFamily<DwnetConfig> = {
  family: 'dwnet',
  paper: '2106.04263',
  defaults: {
    imageSize: 224,
    inChannels: 3,
    numClasses: 1000,
    block: 'dw',
    patchSize: 4,
    embedDim: 96,
    depths: [2, 2, 6, 2],
    numHeads: [3, 6, 12, 24],
    windowSize: 7,
    kernelSize: 7,
    mlpRatio: 4,
    groupChannels: [3, 6, 12, 24],
    dynamicReduction: 4,
    dwSharing: 'none',
    attnWeights: 'head',
    se: false,
    seReduction: 4,
    shiftedWindows: true,
    relativePositionBias: true,
    patchNorm: true,
    dropPath: 0.2,
    dropout: 0,
    layerNormEps: 1e-5,
  },
  choices: {
    block: BLOCKS,
    dwSharing: DW_SHARING,
    attnWeights: ATTN_WEIGHTS,
  },
  docs: {
    block:
      "spatial block: 'attn' (Swin local attention), 'dw' (DWNet), 'ddw' (homogeneous dynamic), 'iddw' " +
      '(inhomogeneous dynamic)',
    patchSize: 'side of the conv patch embedding (stride = kernel)',
    embedDim: 'channels C of the first stage (doubling per stage)',
    depths: 'blocks per stage, e.g. 2,2,6,2',
    numHeads: 'attention heads per stage; also the head-sized groups of dwSharing=head',
    windowSize: 'attention window side',
    kernelSize: 'depth-wise kernel side (odd)',
    groupChannels: 'I-D-DWNet channels per kernel group, per stage',
    dwSharing: "'none' or 'head': share a DW kernel across the channels of a head-sized group",
    attnWeights: "'head' (Swin) or 'channel' (one attention map per channel)",
    se: 'squeeze-and-excitation on the spatial branch output',
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
      'windowSize',
      'kernelSize',
      'dynamicReduction',
      'seReduction',
    );
    check.divisible(name, c, 'imageSize', 'patchSize');
    check.that(
      c.depths.length >= 1 && c.depths.every((d) => Number.isInteger(d) && d >= 1),
      `${name}: depths=${c.depths.join(',')} must be positive integers`,
    );
    const n = c.depths.length;
    check.that(
      c.numHeads.length === n,
      `${name}: numHeads=${c.numHeads.join(',')} has ${c.numHeads.length} entries; expected one per stage ` +
        `(${n}, depths=${c.depths.join(',')})`,
    );
    check.that(
      c.kernelSize % 2 === 1,
      `${name}: kernelSize=${c.kernelSize} must be odd (padding k//2 keeps the map size)`,
    );
    check.that(c.mlpRatio > 0, `${name}: mlpRatio=${c.mlpRatio} must be > 0`);
    check.range(name, c, 'dropPath', 0, 0.99);
    check.range(name, c, 'dropout', 0, 0.99);
    const res = stageResolutions(c);
    res.forEach((r, i) => {
      const dim = c.embedDim * 2 ** i;
      check.that(
        Number.isInteger(r) && r >= 1,
        `${name}: stage ${i} resolution ${r} is not a whole number; ` +
          `imageSize/patchSize=${c.imageSize / c.patchSize} must be divisible by 2^${n - 1}`,
      );
      if (i < n - 1)
        check.that(
          r % 2 === 0,
          `${name}: stage ${i} map ${r}×${r} is odd; PatchMerging needs even sides (imageSize=${c.imageSize}, ` +
            `patchSize=${c.patchSize}, ${n} stages)`,
        );
      check.that(
        Number.isInteger(c.numHeads[i]) && c.numHeads[i] >= 1 && dim % c.numHeads[i] === 0,
        `${name}: stage ${i} width ${dim} is not divisible by numHeads[${i}]=${c.numHeads[i]}`,
      );
      if (c.block === 'attn') {
        check.that(
          r <= c.windowSize || r % c.windowSize === 0,
          `${name}: stage ${i} map ${r}×${r} is not divisible by windowSize=${c.windowSize}`,
        );
      }
      if (c.block === 'iddw') {
        check.that(
          c.groupChannels.length === n,
          `${name}: groupChannels=${c.groupChannels.join(',')} has ${c.groupChannels.length} entries; expected ${n}`,
        );
        check.that(
          dim % c.groupChannels[i] === 0,
          `${name}: stage ${i} width ${dim} is not divisible by groupChannels[${i}]=${c.groupChannels[i]}`,
        );
      }
      if (c.block !== 'attn')
        check.that(
          Math.floor(dim / c.dynamicReduction) >= 1 || c.block === 'dw',
          `${name}: stage ${i} width ${dim} / dynamicReduction=${c.dynamicReduction} leaves no hidden channel`,
        );
    });
  },
  create: (c) => new LocalVisionNet(c),
  closedFormParams(c) {
    const res = stageResolutions(c);
    let total = c.patchSize ** 2 * c.inChannels * c.embedDim + c.embedDim + (c.patchNorm ? 2 * c.embedDim : 0);
    c.depths.forEach((d, i) => {
      const dim = c.embedDim * 2 ** i;
      total += d * blockParams(c, dim, i, res[i]);
      if (i < c.depths.length - 1) total += 2 * 4 * dim + 4 * dim * 2 * dim;
    });
    const f = c.embedDim * 2 ** (c.depths.length - 1);
    return total + 2 * f + f * c.numClasses + c.numClasses;
  },
};

// ---- Paper presets (224×224, ImageNet-1k); parameter counts pinned in test/dwnet.test.ts (docs/dwnet.md §2) ----
const TINY = {
  embedDim: 96,
  depths: [2, 2, 6, 2],
  numHeads: [3, 6, 12, 24],
  groupChannels: [3, 6, 12, 24],
  dropPath: 0.2,
};
const BASE = {
  embedDim: 128,
  depths: [2, 2, 18, 2],
  numHeads: [4, 8, 16, 32],
  groupChannels: [4, 8, 16, 32],
  dropPath: 0.5,
};
const paper = { tags: ['paper'] };
registerModel(
  'dwnet-tiny',
  dwnetFamily,
  { ...TINY, block: 'dw' },
  { description: 'DWNet-T: Swin-T with 7×7 depth-wise conv blocks (24.17M)', ...paper },
);
registerModel(
  'ddwnet-tiny',
  dwnetFamily,
  { ...TINY, block: 'ddw' },
  { description: 'D-DWNet-T: homogeneous dynamic depth-wise conv (51.13M)', ...paper },
);
registerModel(
  'iddwnet-tiny',
  dwnetFamily,
  { ...TINY, block: 'iddw' },
  { description: 'I-D-DWNet-T: inhomogeneous dynamic depth-wise conv, 32 groups (26.24M)', ...paper },
);
registerModel('dwnet-base', dwnetFamily, { ...BASE, block: 'dw' }, { description: 'DWNet-B (74.35M)', ...paper });
registerModel('ddwnet-base', dwnetFamily, { ...BASE, block: 'ddw' }, { description: 'D-DWNet-B (161.60M)', ...paper });
registerModel(
  'iddwnet-base',
  dwnetFamily,
  { ...BASE, block: 'iddw' },
  { description: 'I-D-DWNet-B (80.25M)', ...paper },
);
registerModel(
  'swin-tiny',
  dwnetFamily,
  { ...TINY, block: 'attn' },
  { description: 'Swin-T: the local-attention counterpart of DWNet-T (28.29M)', ...paper },
);
registerModel(
  'swin-base',
  dwnetFamily,
  { ...BASE, block: 'attn' },
  { description: 'Swin-B: the local-attention counterpart of DWNet-B (87.77M)', ...paper },
);

// ---- 32×32 CPU variants (docs/dwnet.md §2): patch 2, three stages 16², 8², 4²; head width 32; window 4, kernel 5 ----
const MINI = {
  imageSize: 32,
  numClasses: 100,
  patchSize: 2,
  embedDim: 32,
  depths: [2, 2, 2],
  numHeads: [1, 2, 4],
  groupChannels: [1, 2, 4],
  windowSize: 4,
  kernelSize: 5,
  dropPath: 0.1,
};
registerModel(
  'localvit-mini',
  dwnetFamily,
  { ...MINI, block: 'attn' },
  { description: 'Swin-style local attention at 32×32 (window 4), the baseline of the *-mini DW models' },
);
registerModel(
  'dwnet-mini',
  dwnetFamily,
  { ...MINI, block: 'dw' },
  { description: 'DWNet at 32×32: 5×5 depth-wise conv blocks' },
);
registerModel(
  'ddwnet-mini',
  dwnetFamily,
  { ...MINI, block: 'ddw' },
  { description: 'D-DWNet at 32×32: per-image dynamic 5×5 depth-wise kernels' },
);
registerModel(
  'iddwnet-mini',
  dwnetFamily,
  { ...MINI, block: 'iddw' },
  { description: 'I-D-DWNet at 32×32: per-position dynamic 5×5 kernels, 32 groups' },
);

// ---- tiny test variants: 8×8 input, two stages (4², 2²), a shifted window in stage 0 ----
const TEST = {
  imageSize: 8,
  numClasses: 10,
  patchSize: 2,
  embedDim: 8,
  depths: [2, 1],
  numHeads: [2, 2],
  groupChannels: [2, 4],
  windowSize: 2,
  kernelSize: 3,
  mlpRatio: 2,
  dropPath: 0,
};
const test = { tags: ['test'] };
registerModel(
  'localvit-test',
  dwnetFamily,
  { ...TEST, block: 'attn' },
  { description: 'tiny Swin-style model for tests', ...test },
);
registerModel('dwnet-test', dwnetFamily, { ...TEST, block: 'dw' }, { description: 'tiny DWNet for tests', ...test });
registerModel(
  'ddwnet-test',
  dwnetFamily,
  { ...TEST, block: 'ddw' },
  { description: 'tiny D-DWNet for tests', ...test },
);
registerModel(
  'iddwnet-test',
  dwnetFamily,
  { ...TEST, block: 'iddw' },
  { description: 'tiny I-D-DWNet for tests', ...test },
);
