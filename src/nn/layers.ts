import * as tf from '@tensorflow/tfjs';
import { type Ctx, Module, type Param, init, type InitFn } from './module';
import { activate, batchNormTrain, dropoutMask, layerNorm, linear, type Activation } from './fused';
import { ConfigError } from '../util/errors';

/** Tokens × features: applies to the last axis of any rank. */
export class Linear extends Module {
  readonly weight: Param;
  readonly bias: Param | null;

  constructor(
    readonly inFeatures: number,
    readonly outFeatures: number,
    opts: { bias?: boolean; weightInit?: InitFn; biasInit?: InitFn } = {},
  ) {
    super();
    this.weight = this.param('weight', [inFeatures, outFeatures], opts.weightInit ?? init.torchDefault(inFeatures));
    this.bias =
      opts.bias === false ? null : this.param('bias', [outFeatures], opts.biasInit ?? init.torchDefault(inFeatures));
  }

  forward(x: tf.Tensor, ctx?: Ctx): tf.Tensor {
    const rows = x.size / this.inFeatures;
    ctx?.macs?.add('linear', rows * this.inFeatures * this.outFeatures);
    return linear(x, this.weight.value as tf.Tensor2D, this.bias ? this.bias.value : null);
  }
}

export class LayerNorm extends Module {
  readonly gamma: Param;
  readonly beta: Param;
  constructor(
    readonly dim: number,
    readonly eps = 1e-5,
  ) {
    super();
    this.gamma = this.param('gamma', [dim], init.ones());
    this.beta = this.param('beta', [dim], init.zeros());
  }
  forward(x: tf.Tensor): tf.Tensor {
    return layerNorm(x, this.gamma.value, this.beta.value, this.eps);
  }
}

/**
 * BatchNorm over the channel (last) axis of NHWC or [B, T, C] tensors, with PyTorch semantics: running statistics
 * updated as `running = (1 − momentum)·running + momentum·batch` (momentum 0.1), the running variance from the
 * unbiased batch variance, normalisation in training by the biased batch variance; eps 1e-5.
 */
export class BatchNorm extends Module {
  readonly gamma: Param;
  readonly beta: Param;
  readonly runningMean: Param;
  readonly runningVar: Param;
  constructor(
    readonly channels: number,
    readonly opts: { eps?: number; momentum?: number } = {},
  ) {
    super();
    this.gamma = this.param('gamma', [channels], init.ones());
    this.beta = this.param('beta', [channels], init.zeros());
    this.runningMean = this.param('running_mean', [channels], init.zeros(), { trainable: false });
    this.runningVar = this.param('running_var', [channels], init.ones(), { trainable: false });
  }
  forward(x: tf.Tensor, ctx: Ctx): tf.Tensor {
    const eps = this.opts.eps ?? 1e-5;
    const momentum = this.opts.momentum ?? 0.1;
    if (ctx.training) {
      const { y, mean, variance } = batchNormTrain(x, this.gamma.value, this.beta.value, eps);
      const n = x.size / this.channels;
      tf.tidy(() => {
        const unbiased = variance.mul(n / Math.max(1, n - 1));
        this.runningMean.value.assign(this.runningMean.value.mul(1 - momentum).add(mean.mul(momentum)));
        this.runningVar.value.assign(this.runningVar.value.mul(1 - momentum).add(unbiased.mul(momentum)));
      });
      return y;
    }
    return x
      .sub(this.runningMean.value)
      .mul(tf.rsqrt(this.runningVar.value.add(eps)))
      .mul(this.gamma.value)
      .add(this.beta.value);
  }
}

/** Conv2d on NHWC input. `padding` is a number (symmetric, PyTorch style), 'same' or 'valid'. */
export class Conv2d extends Module {
  readonly weight: Param;
  readonly bias: Param | null;
  constructor(
    readonly inChannels: number,
    readonly outChannels: number,
    readonly kernel: number,
    readonly opts: {
      stride?: number;
      padding?: number | 'same' | 'valid';
      bias?: boolean;
      weightInit?: InitFn;
      biasInit?: InitFn;
    } = {},
  ) {
    super();
    const fanIn = inChannels * kernel * kernel;
    this.weight = this.param(
      'weight',
      [kernel, kernel, inChannels, outChannels],
      opts.weightInit ?? init.torchDefault(fanIn),
    );
    this.bias =
      opts.bias === false ? null : this.param('bias', [outChannels], opts.biasInit ?? init.torchDefault(fanIn));
  }
  forward(x: tf.Tensor4D, ctx?: Ctx): tf.Tensor4D {
    const stride = this.opts.stride ?? 1;
    const pad = this.opts.padding ?? 0;
    const xin =
      typeof pad === 'number' && pad > 0
        ? tf.pad(x, [
            [0, 0],
            [pad, pad],
            [pad, pad],
            [0, 0],
          ])
        : x;
    const mode = pad === 'same' ? 'same' : 'valid';
    let y = tf.conv2d(xin, this.weight.value as tf.Tensor4D, stride, mode);
    if (this.bias) y = y.add(this.bias.value);
    const [, oh, ow] = y.shape;
    ctx?.macs?.add('conv', x.shape[0] * oh * ow * this.outChannels * this.inChannels * this.kernel * this.kernel);
    return y;
  }
}

/** Depth-wise conv (one k×k filter per channel) on NHWC input, stride 1 unless given. */
export class DepthwiseConv2d extends Module {
  readonly weight: Param;
  readonly bias: Param | null;
  constructor(
    readonly channels: number,
    readonly kernel: number,
    readonly opts: { stride?: number; padding?: number | 'same' | 'valid'; bias?: boolean; weightInit?: InitFn } = {},
  ) {
    super();
    const fanIn = kernel * kernel;
    this.weight = this.param('weight', [kernel, kernel, channels, 1], opts.weightInit ?? init.torchDefault(fanIn));
    this.bias = opts.bias ? this.param('bias', [channels], init.torchDefault(fanIn)) : null;
  }
  forward(x: tf.Tensor4D, ctx?: Ctx): tf.Tensor4D {
    const stride = this.opts.stride ?? 1;
    const pad = this.opts.padding ?? Math.floor(this.kernel / 2);
    const xin =
      typeof pad === 'number' && pad > 0
        ? tf.pad(x, [
            [0, 0],
            [pad, pad],
            [pad, pad],
            [0, 0],
          ])
        : x;
    let y = tf.depthwiseConv2d(xin, this.weight.value as tf.Tensor4D, stride, pad === 'same' ? 'same' : 'valid');
    if (this.bias) y = y.add(this.bias.value);
    const [, oh, ow] = y.shape;
    ctx?.macs?.add('conv', x.shape[0] * oh * ow * this.channels * this.kernel * this.kernel);
    return y;
  }
}

export { activate, type Activation } from './fused';

/** Inverted dropout with a seed drawn from ctx.rng (deterministic given the run seed). */
export function dropout(x: tf.Tensor, rate: number, ctx: Ctx): tf.Tensor {
  if (!ctx.training || rate <= 0) return x;
  if (!(rate < 1)) throw new ConfigError(`dropout rate ${rate}; expected a number in [0, 1)`);
  // tf.dropout(x, rate, undefined, seed)'s multiplier, built in one pass instead of randomUniform + Add + Floor +
  // RealDiv: the same values bit for bit (src/nn/fused.ts), so the same training
  const seed = ctx.rng.int();
  return tf.tidy(() => x.mul(dropoutMask(x.shape, seed, rate)));
}

/** Stochastic depth: drop the whole residual branch per sample. x: [B, ...]. */
export function dropPath(x: tf.Tensor, rate: number, ctx: Ctx): tf.Tensor {
  if (!ctx.training || rate <= 0) return x;
  const b = x.shape[0];
  const keep = 1 - rate;
  const mask = new Float32Array(b);
  for (let i = 0; i < b; i++) mask[i] = ctx.rng.next() < keep ? 1 / keep : 0;
  return tf.tidy(() => x.mul(tf.tensor(mask, [b, ...x.shape.slice(1).map(() => 1)])));
}

/** Two-layer MLP: Linear(d → h) · activation · dropout · Linear(h → d) · dropout. */
export class Mlp extends Module {
  readonly fc1: Linear;
  readonly fc2: Linear;
  constructor(
    dim: number,
    hidden: number,
    readonly opts: {
      bias?: boolean;
      activation?: Activation;
      dropout?: number;
      weightInit?: (fanIn: number) => InitFn;
      outDim?: number;
    } = {},
  ) {
    super();
    const wi = opts.weightInit;
    this.fc1 = this.child(
      'fc1',
      new Linear(dim, hidden, { bias: opts.bias, weightInit: wi?.(dim), biasInit: wi ? init.zeros() : undefined }),
    );
    this.fc2 = this.child(
      'fc2',
      new Linear(hidden, opts.outDim ?? dim, {
        bias: opts.bias,
        weightInit: wi?.(hidden),
        biasInit: wi ? init.zeros() : undefined,
      }),
    );
  }
  forward(x: tf.Tensor, ctx: Ctx): tf.Tensor {
    const h = dropout(activate(this.fc1.forward(x, ctx), this.opts.activation ?? 'gelu'), this.opts.dropout ?? 0, ctx);
    return dropout(this.fc2.forward(h, ctx), this.opts.dropout ?? 0, ctx);
  }
}
