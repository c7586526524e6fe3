import * as tf from '@tensorflow/tfjs';
import { type Ctx, Module, init } from '../nn/module';
import { BatchNorm, Conv2d, Linear } from '../nn/layers';
import { type BaseConfig, check, type OneOf } from './config';
import { ClassifierModel, type ModelFamily, registerModel } from './registry';

/**
 * ResNets with basic blocks in their CIFAR forms (He et al. 2016), the convolutional baselines of EIT's
 * small-dataset comparison:
 * - ResNet-56 (He et al. Sec. 4.2): 3×3 stem of 16 channels, 3 stages of 9 basic blocks at 16/32/64 channels,
 *   global average pooling; option-A shortcuts (stride-2 subsampling + zero-padded channels, no parameters),
 *   0.85M parameters;
 * - ResNet-18 in the common CIFAR form (3×3 stem of 64, no max-pool, stages of 2 blocks at 64/128/256/512,
 *   option-B 1×1-conv + BN projection shortcuts): 11,173,962 parameters for 10 classes.
 * Convs have no bias and kaiming-normal (fan-out) init; BatchNorm with PyTorch semantics.
 */
export interface ResNetConfig extends BaseConfig {
  stemChannels: number;
  stemKernel: number;
  stemStride: number;
  /** 3×3 stride-2 max-pool after the stem (ImageNet form); off in the CIFAR forms. */
  stemPool: boolean;
  /** Output channels of each stage. */
  widths: number[];
  /** Basic blocks per stage. */
  blocks: number[];
  /** 'A': parameter-free (subsample + zero-pad channels); 'B': 1×1 conv + BN where the shape changes. */
  shortcut: OneOf<typeof SHORTCUTS>;
}

const SHORTCUTS = ['A', 'B'] as const;

const convInit = (cout: number, k: number) => init.kaimingNormalFanOut(cout * k * k);

/** Basic block: conv3×3(stride) · BN · ReLU · conv3×3 · BN, plus shortcut, then ReLU. */
export class BasicBlock extends Module {
  readonly conv1: Conv2d;
  readonly bn1: BatchNorm;
  readonly conv2: Conv2d;
  readonly bn2: BatchNorm;
  readonly proj: Conv2d | null;
  readonly projBn: BatchNorm | null;
  constructor(
    readonly cin: number,
    readonly cout: number,
    readonly stride: number,
    readonly shortcut: string,
  ) {
    super();
    this.conv1 = this.child(
      'conv1',
      new Conv2d(cin, cout, 3, { stride, padding: 1, bias: false, weightInit: convInit(cout, 3) }),
    );
    this.bn1 = this.child('bn1', new BatchNorm(cout));
    this.conv2 = this.child(
      'conv2',
      new Conv2d(cout, cout, 3, { stride: 1, padding: 1, bias: false, weightInit: convInit(cout, 3) }),
    );
    this.bn2 = this.child('bn2', new BatchNorm(cout));
    const reshape = stride !== 1 || cin !== cout;
    this.proj =
      reshape && shortcut === 'B'
        ? this.child('shortcut', new Conv2d(cin, cout, 1, { stride, bias: false, weightInit: convInit(cout, 1) }))
        : null;
    this.projBn = this.proj ? this.child('shortcut_bn', new BatchNorm(cout)) : null;
  }

  private identity(x: tf.Tensor4D, ctx: Ctx): tf.Tensor4D {
    if (this.proj && this.projBn) return this.projBn.forward(this.proj.forward(x, ctx), ctx) as tf.Tensor4D;
    let s = x;
    // option A: x[:, ::2, ::2] (a 1×1 window with stride 2), then zero channels split evenly on both sides
    if (this.stride !== 1) s = tf.avgPool(s, 1, this.stride, 'valid');
    if (this.cout !== this.cin) {
      const extra = this.cout - this.cin;
      s = tf.pad(s, [
        [0, 0],
        [0, 0],
        [0, 0],
        [Math.floor(extra / 2), extra - Math.floor(extra / 2)],
      ]);
    }
    return s;
  }

  forward(x: tf.Tensor4D, ctx: Ctx): tf.Tensor4D {
    const h = tf.relu(this.bn1.forward(this.conv1.forward(x, ctx), ctx)) as tf.Tensor4D;
    const y = this.bn2.forward(this.conv2.forward(h, ctx), ctx);
    return tf.relu(y.add(this.identity(x, ctx))) as tf.Tensor4D;
  }
}

export class ResNet extends ClassifierModel<ResNetConfig> {
  readonly stem: Conv2d;
  readonly stemBn: BatchNorm;
  readonly layers: BasicBlock[];
  readonly fc: Linear;
  constructor(c: ResNetConfig) {
    super(c);
    this.stem = this.child(
      'conv1',
      new Conv2d(c.inChannels, c.stemChannels, c.stemKernel, {
        stride: c.stemStride,
        padding: Math.floor(c.stemKernel / 2),
        bias: false,
        weightInit: convInit(c.stemChannels, c.stemKernel),
      }),
    );
    this.stemBn = this.child('bn1', new BatchNorm(c.stemChannels));
    const blocks: BasicBlock[] = [];
    let cin = c.stemChannels;
    c.widths.forEach((w, s) => {
      for (let j = 0; j < c.blocks[s]; j++) {
        blocks.push(new BasicBlock(cin, w, s > 0 && j === 0 ? 2 : 1, c.shortcut));
        cin = w;
      }
    });
    this.layers = this.children('layers', blocks);
    this.fc = this.child('fc', new Linear(cin, c.numClasses));
  }

  forward(x: tf.Tensor4D, ctx: Ctx): tf.Tensor2D {
    return tf.tidy(() => {
      let h = tf.relu(this.stemBn.forward(this.stem.forward(x, ctx), ctx)) as tf.Tensor4D;
      if (this.config.stemPool)
        h = tf.maxPool(
          tf.pad(
            h,
            [
              [0, 0],
              [1, 1],
              [1, 1],
              [0, 0],
            ],
            -Infinity,
          ),
          3,
          2,
          'valid',
        );
      for (const b of this.layers) h = b.forward(h, ctx);
      return this.fc.forward(h.mean([1, 2]), ctx) as tf.Tensor2D;
    });
  }
}

export const resnetFamily: ModelFamily<ResNetConfig> = {
  family: 'resnet',
  paper: '1512.03385',
  defaults: {
    imageSize: 32,
    inChannels: 3,
    numClasses: 10,
    stemChannels: 16,
    stemKernel: 3,
    stemStride: 1,
    stemPool: false,
    widths: [16, 32, 64],
    blocks: [9, 9, 9],
    shortcut: 'A',
  },
  choices: { shortcut: SHORTCUTS },
  docs: {
    stemChannels: 'stem conv output channels',
    stemKernel: 'stem conv kernel (3 in the CIFAR forms, 7 for ImageNet)',
    stemStride: 'stem conv stride (1 in the CIFAR forms)',
    stemPool: '3×3/2 max-pool after the stem (ImageNet form)',
    widths: 'output channels per stage, e.g. 16,32,64',
    blocks: 'basic blocks per stage, e.g. 9,9,9 (ResNet-56)',
    shortcut: "'A' zero-padding identity (He et al. CIFAR) or 'B' 1×1 projection",
  },
  validate(c, name) {
    check.positiveInt(name, c, 'imageSize', 'inChannels', 'numClasses', 'stemChannels', 'stemKernel', 'stemStride');
    check.that(
      c.widths.length > 0 && c.widths.length === c.blocks.length,
      `${name}: widths=[${c.widths}] and blocks=[${c.blocks}] must be non-empty lists of the same length (one ` +
        `entry per stage)`,
    );
    check.that(
      [...c.widths, ...c.blocks].every((v) => Number.isInteger(v) && v > 0),
      `${name}: widths=[${c.widths}] and blocks=[${c.blocks}] must hold positive integers`,
    );
    if (c.shortcut === 'A') {
      let cin = c.stemChannels;
      for (const w of c.widths) {
        check.that(
          w >= cin,
          `${name}: shortcut='A' pads channels with zeros, so widths must not shrink; got ${cin} → ${w} (use ` +
            `shortcut='B')`,
        );
        cin = w;
      }
    }
    const down = c.stemStride * (c.stemPool ? 2 : 1) * 2 ** (c.widths.length - 1);
    check.that(c.imageSize >= down, `${name}: imageSize=${c.imageSize} is smaller than the total downsampling ${down}`);
  },
  create: (c) => new ResNet(c),
  closedFormParams(c) {
    const bn = (ch: number) => 2 * ch;
    let n = c.inChannels * c.stemChannels * c.stemKernel ** 2 + bn(c.stemChannels);
    let cin = c.stemChannels;
    c.widths.forEach((w, s) => {
      for (let j = 0; j < c.blocks[s]; j++) {
        const stride = s > 0 && j === 0 ? 2 : 1;
        n += 9 * cin * w + bn(w) + 9 * w * w + bn(w);
        if (c.shortcut === 'B' && (stride !== 1 || cin !== w)) n += cin * w + bn(w);
        cin = w;
      }
    });
    return n + cin * c.numClasses + c.numClasses;
  },
};

registerModel(
  'resnet56-cifar',
  resnetFamily,
  {},
  {
    description:
      'ResNet-56, CIFAR form (He et al.): 3×9 basic blocks at 16/32/64, option-A shortcuts, 853,018 params for ' +
      '10 classes',
    tags: ['paper'],
  },
);
registerModel(
  'resnet56-cifar-b',
  resnetFamily,
  { shortcut: 'B' },
  {
    description: 'ResNet-56 with option-B projection shortcuts: 855,770 params for 10 classes',
  },
);
registerModel(
  'resnet18-cifar',
  resnetFamily,
  { stemChannels: 64, widths: [64, 128, 256, 512], blocks: [2, 2, 2, 2], shortcut: 'B' },
  {
    description:
      'ResNet-18, CIFAR form (3×3 stem, no max-pool, projection shortcuts): 11,173,962 params for 10 classes',
    tags: ['paper'],
  },
);
registerModel(
  'resnet20-cifar',
  resnetFamily,
  { blocks: [3, 3, 3] },
  {
    description: 'ResNet-20 (He et al. CIFAR, option A): 269,722 params; CPU stand-in for the ResNet baselines',
  },
);
registerModel(
  'resnet-test',
  resnetFamily,
  { imageSize: 8, stemChannels: 4, widths: [4, 8], blocks: [1, 1] },
  {
    description: 'tiny option-A ResNet for tests',
    tags: ['test'],
  },
);
registerModel(
  'resnet-b-test',
  resnetFamily,
  { imageSize: 8, stemChannels: 4, widths: [4, 8], blocks: [1, 1], shortcut: 'B', stemPool: true },
  {
    description: 'tiny option-B ResNet with stem max-pool for tests',
    tags: ['test'],
  },
);
