import * as tf from '@tensorflow/tfjs';
import { type Ctx, Module, type Param, init } from './module';
import { BatchNorm, Linear } from './layers';
import { ConfigError } from '../util/errors';

/**
 * Depth-wise convolutions of "Demystifying Local Vision Transformer" (Han et al., arXiv 2106.04263), NHWC.
 *
 * The paper (Sec. 3) writes every local spatial operator as an aggregation `y_i = Σ_{j∈window(i)} W_ij ⊙ x_j`
 * (⊙: channel-wise product) and compares the operators by how `W` is formed: shared across positions or not,
 * across channels or not, static or predicted from the input (dynamic). Each class here therefore splits into
 *   - `kernels(x, ctx)`: the weights `W` (for dynamic kinds, predicted from `x`), and
 *   - `aggregate(v, W, ctx)`: the sparse, channel-wise aggregation of `v` with those weights,
 * and `forward(x) = aggregate(x, kernels(x))`. `analysis/connectivity.ts` calls the two halves with different
 * inputs to read off connectivity, sharing and dynamics from the layers themselves.
 *
 * Padding is k//2 on each side (odd k), stride 1, as in the official DWBlock.
 */

function checkOddKernel(kernel: number, who: string): void {
  if (!Number.isInteger(kernel) || kernel < 1 || kernel % 2 !== 1) {
    throw new ConfigError(`${who}: kernel=${kernel} must be an odd positive integer (padding k//2 keeps the size)`);
  }
}

/**
 * Static depth-wise conv (the DWNet block's k×k conv, bias on). `groupChannels` > 1 shares one k×k kernel across
 * each group of that many consecutive channels: the weight-sharing pattern of a local-attention head (paper's
 * weight-sharing study, Sec. 5); the bias stays per channel.
 */
export class DWConv extends Module {
  readonly weight: Param;
  readonly bias: Param | null;
  readonly groups: number;
  constructor(
    readonly channels: number,
    readonly kernel: number,
    readonly opts: { bias?: boolean; groupChannels?: number } = {},
  ) {
    super();
    checkOddKernel(kernel, 'DWConv');
    const gc = opts.groupChannels ?? 1;
    if (!Number.isInteger(gc) || gc < 1 || channels % gc !== 0) {
      throw new ConfigError(`DWConv: groupChannels=${gc} must be a positive divisor of channels=${channels}`);
    }
    this.groups = channels / gc;
    // PyTorch Conv2d(groups=C) default init: U(±1/√fan_in), fan_in = k² (one input channel per group)
    this.weight = this.param('weight', [kernel, kernel, this.groups, 1], init.torchDefault(kernel * kernel));
    this.bias = opts.bias === false ? null : this.param('bias', [channels], init.torchDefault(kernel * kernel));
  }

  /** The per-channel kernel [k, k, C, 1] (expanded from [k, k, G, 1] when channels share it). */
  kernels(): tf.Tensor4D {
    const w = this.weight.value as tf.Tensor4D;
    const gc = this.channels / this.groups;
    if (gc === 1) return w;
    const k = this.kernel;
    // channel c = g·gc + j uses kernel g
    return tf.tidy(() =>
      w
        .reshape([k * k * this.groups, 1])
        .tile([1, gc])
        .reshape([k, k, this.channels, 1]),
    );
  }

  aggregate(v: tf.Tensor4D, w: tf.Tensor4D, ctx?: Ctx): tf.Tensor4D {
    const [b, h, wd] = v.shape;
    ctx?.macs?.add('conv', b * h * wd * this.channels * this.kernel * this.kernel);
    return tf.tidy(() => {
      const y = tf.depthwiseConv2d(v, w, 1, 'same');
      return this.bias ? (y.add(this.bias.value) as tf.Tensor4D) : y;
    });
  }

  forward(x: tf.Tensor4D, ctx?: Ctx): tf.Tensor4D {
    return tf.tidy(() => this.aggregate(x, this.kernels(), ctx));
  }
}

/**
 * Homogeneous dynamic depth-wise conv (D-DWNet; official `DynamicDWConv`): one k×k kernel per channel and per
 * image, predicted SE-style from the globally pooled feature and shared by every position of that image:
 *   GAP → 1×1 conv C→C/r (no bias) → BN → ReLU → 1×1 conv C/r → C·k² (bias); plus a static per-channel bias.
 * The per-image kernels are applied in one depth-wise conv by folding the batch into the channels
 * ([B,H,W,C] → [1,H,W,B·C], kernel [k,k,B·C,1]).
 */
export class DynamicDWConv extends Module {
  readonly reduce: Linear;
  readonly bn: BatchNorm;
  readonly expand: Linear;
  readonly bias: Param | null;
  constructor(
    readonly channels: number,
    readonly kernel: number,
    readonly opts: { reduction?: number; bias?: boolean } = {},
  ) {
    super();
    checkOddKernel(kernel, 'DynamicDWConv');
    const r = opts.reduction ?? 4;
    const hidden = Math.floor(channels / r);
    if (hidden < 1)
      throw new ConfigError(`DynamicDWConv: channels=${channels} / reduction=${r} leaves no hidden channel`);
    this.reduce = this.child('conv1', new Linear(channels, hidden, { bias: false }));
    this.bn = this.child('bn', new BatchNorm(hidden));
    this.expand = this.child('conv2', new Linear(hidden, channels * kernel * kernel));
    this.bias = opts.bias === false ? null : this.param('bias', [channels], init.zeros());
  }

  /** Per-image kernels [B, k·k, C] (k·k offsets row-major, as the official view(b·C, 1, k, k)). */
  kernels(x: tf.Tensor4D, ctx: Ctx): tf.Tensor3D {
    const b = x.shape[0];
    const k = this.kernel;
    return tf.tidy(() => {
      const pooled = x.mean([1, 2]);
      const h = tf.relu(this.bn.forward(this.reduce.forward(pooled, ctx), ctx));
      // output channel index c·k² + t (official layout) → [B, C, k²] → [B, k², C]
      return this.expand
        .forward(h, ctx)
        .reshape([b, this.channels, k * k])
        .transpose([0, 2, 1]) as tf.Tensor3D;
    });
  }

  aggregate(v: tf.Tensor4D, w: tf.Tensor3D, ctx?: Ctx): tf.Tensor4D {
    const [b, h, wd, c] = v.shape;
    const k = this.kernel;
    ctx?.macs?.add('conv', b * h * wd * c * k * k);
    return tf.tidy(() => {
      const folded = v.transpose([1, 2, 0, 3]).reshape([1, h, wd, b * c]) as tf.Tensor4D;
      // [B, k², C] → [k², B·C] → [k, k, B·C, 1]: channel b·C + c gets image b's kernel of channel c
      const kernel = w
        .reshape([b, k * k, c])
        .transpose([1, 0, 2])
        .reshape([k, k, b * c, 1]) as tf.Tensor4D;
      const y = tf
        .depthwiseConv2d(folded, kernel, 1, 'same')
        .reshape([h, wd, b, c])
        .transpose([2, 0, 1, 3]) as tf.Tensor4D;
      return this.bias ? (y.add(this.bias.value) as tf.Tensor4D) : y;
    });
  }

  forward(x: tf.Tensor4D, ctx: Ctx, weightSource?: tf.Tensor4D): tf.Tensor4D {
    return tf.tidy(() => this.aggregate(x, this.kernels(weightSource ?? x, ctx), ctx));
  }
}

/**
 * Inhomogeneous dynamic depth-wise conv (I-D-DWNet, ICLR version; official `IDynamicDWConv`): a k×k kernel
 * predicted at every position from that position's feature, shared by the `groupChannels` channels of each of
 * G = C / groupChannels groups (involution-like):
 *   1×1 conv C→C/r (bias) → BN → ReLU → 1×1 conv C/r → G·k² (bias); no output bias.
 * tfjs has no unfold, so the aggregation sums k² shifted views of the zero-padded input, each multiplied by its
 * per-position weight broadcast over the channels of a group.
 */
export class InhomogeneousDWConv extends Module {
  readonly reduce: Linear;
  readonly bn: BatchNorm;
  readonly expand: Linear;
  readonly groups: number;
  constructor(
    readonly channels: number,
    readonly kernel: number,
    readonly groupChannels: number,
    readonly opts: { reduction?: number } = {},
  ) {
    super();
    checkOddKernel(kernel, 'InhomogeneousDWConv');
    if (!Number.isInteger(groupChannels) || groupChannels < 1 || channels % groupChannels !== 0) {
      throw new ConfigError(
        `InhomogeneousDWConv: groupChannels=${groupChannels} must be a positive divisor of channels=${channels}`,
      );
    }
    this.groups = channels / groupChannels;
    const r = opts.reduction ?? 4;
    const hidden = Math.floor(channels / r);
    if (hidden < 1)
      throw new ConfigError(`InhomogeneousDWConv: channels=${channels} / reduction=${r} leaves no hidden channel`);
    this.reduce = this.child('conv1', new Linear(channels, hidden));
    this.bn = this.child('bn', new BatchNorm(hidden));
    this.expand = this.child('conv2', new Linear(hidden, this.groups * kernel * kernel));
  }

  /** Per-position kernels [B, H, W, G, k²] (official layout: channel g·k² + t of the generator output). */
  kernels(x: tf.Tensor4D, ctx: Ctx): tf.Tensor {
    const [b, h, w] = x.shape;
    return tf.tidy(() => {
      const hid = tf.relu(this.bn.forward(this.reduce.forward(x, ctx), ctx));
      return this.expand.forward(hid, ctx).reshape([b, h, w, this.groups, this.kernel * this.kernel]);
    });
  }

  aggregate(v: tf.Tensor4D, w: tf.Tensor, ctx?: Ctx): tf.Tensor4D {
    const [b, h, wd, c] = v.shape;
    ctx?.macs?.add('conv', b * h * wd * c * this.kernel * this.kernel);
    return involution(v, w.reshape([b, h, wd, this.groups, this.kernel * this.kernel]), this.kernel);
  }

  forward(x: tf.Tensor4D, ctx: Ctx, weightSource?: tf.Tensor4D): tf.Tensor4D {
    return tf.tidy(() => this.aggregate(x, this.kernels(weightSource ?? x, ctx), ctx));
  }
}

/**
 * Squeeze-and-excitation (Hu et al. 2018): channel gates from the globally pooled feature,
 * GAP → Linear C→C/r → ReLU → Linear C/r→C → sigmoid, multiplied onto x. Used in the paper's "cooperating with SE"
 * study (Sec. 5): a homogeneous dynamic channel re-weighting added to static or dynamic spatial operators.
 */
export class SqueezeExcite extends Module {
  readonly fc1: Linear;
  readonly fc2: Linear;
  constructor(
    readonly channels: number,
    reduction = 4,
  ) {
    super();
    const hidden = Math.max(1, Math.floor(channels / reduction));
    this.fc1 = this.child('fc1', new Linear(channels, hidden));
    this.fc2 = this.child('fc2', new Linear(hidden, channels));
  }
  forward(x: tf.Tensor4D, ctx: Ctx): tf.Tensor4D {
    const [b, , , c] = x.shape;
    return tf.tidy(() => {
      const s = tf.sigmoid(this.fc2.forward(tf.relu(this.fc1.forward(x.mean([1, 2]), ctx)), ctx));
      return x.mul(s.reshape([b, 1, 1, c])) as tf.Tensor4D;
    });
  }
}

/**
 * y[b,h,w,c] = Σ_{i,j} w[b,h,w,g(c),i·k+j] · v[b, h+i−p, w+j−p, c] (zero padding p = k//2; g(c) = c // (C/G)), the
 * official I-D-DWNet CUDA kernel. Forward and backward loop over the k² offsets and free each term at once, so
 * memory stays O(|v| + |w|) (autodiff of the plain loop would keep all k² shifted views alive: out of wasm memory
 * at batch 64).
 */
export function involution(v: tf.Tensor4D, w: tf.Tensor, k: number): tf.Tensor4D {
  const [b, h, wd, c] = v.shape;
  const g = w.shape[3]!;
  const gc = c / g;
  const p = Math.floor(k / 2);
  const n = b * h * wd;
  // per-offset weight maps [n, G, 1], and the k² shifted views of a zero-padded map as [n, G, gc]
  const maps = (wt: tf.Tensor) =>
    tf.unstack(
      wt
        .reshape([n * g, k * k])
        .transpose([1, 0])
        .reshape([k * k, n, g, 1]),
    );
  const view = (padded: tf.Tensor, i: number, j: number) =>
    padded.slice([0, i, j, 0], [b, h, wd, c]).reshape([n, g, gc]);
  const pad = (t: tf.Tensor) =>
    tf.pad(t, [
      [0, 0],
      [p, p],
      [p, p],
      [0, 0],
    ]);
  /** Σ_t f(t), freeing each term and partial sum as soon as it is used. */
  const sumOver = (f: (i: number, j: number) => tf.Tensor): tf.Tensor => {
    let acc: tf.Tensor | null = null;
    for (let i = 0; i < k; i++) {
      for (let j = 0; j < k; j++) {
        const term = tf.tidy(() => f(i, j));
        const next: tf.Tensor = acc ? acc.add(term) : term;
        if (acc) {
          acc.dispose();
          term.dispose();
        }
        acc = next;
      }
    }
    return acc!;
  };
  const op = tf.customGrad(((vIn: tf.Tensor, wIn: tf.Tensor, save: tf.GradSaveFunc) => {
    save([vIn, wIn]);
    const padded = pad(vIn);
    const ms = maps(wIn);
    const y = sumOver((i, j) => view(padded, i, j).mul(ms[i * k + j]));
    tf.dispose([padded, ...ms]);
    const value = y.reshape([b, h, wd, c]);
    y.dispose();
    return {
      value,
      gradFunc: (dy: tf.Tensor, saved: tf.Tensor[]) => {
        const [vs, ws] = saved;
        return tf.tidy(() => {
          const dy3 = dy.reshape([n, g, gc]);
          const ms2 = maps(ws);
          // dv: each offset's contribution dy ⊙ w_t lands k//2 − (i, j) away (transposed correlation)
          const dvPadded = sumOver((i, j) =>
            tf.pad(dy3.mul(ms2[i * k + j]).reshape([b, h, wd, c]), [
              [0, 0],
              [i, 2 * p - i],
              [j, 2 * p - j],
              [0, 0],
            ]),
          );
          const dv = dvPadded.slice([0, p, p, 0], [b, h, wd, c]);
          // dw_t[g] = Σ_{c ∈ g} dy ⊙ view_t
          const pv = pad(vs);
          const cols: tf.Tensor[] = [];
          for (let i = 0; i < k; i++)
            for (let j = 0; j < k; j++) cols.push(tf.tidy(() => dy3.mul(view(pv, i, j)).sum(2)));
          const dw = tf.stack(cols, 2).reshape(ws.shape);
          return [dv, dw];
        });
      },
    };
  }) as unknown as Parameters<typeof tf.customGrad>[0]);
  return op(v, w) as tf.Tensor4D;
}
