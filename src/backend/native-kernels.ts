import * as tf from '@tensorflow/tfjs';
import { loadAddon, type Addon } from './native-addon';
import { FUSED, FUSED_ACTIVATIONS } from './kernel-names';
import { type WasmBackend, offsetOf, heapOf } from './wasm-internals';

/**
 * The kernel adapters of the native addon: each reads its inputs' offsets on the wasm heap, allocates outputs with
 * the wasm backend's `makeOutput`, and lets the addon compute in place. Cases the addon does not cover (other dtypes,
 * NCHW, prelu) go to the wasm backend's own kernel, kept in `originals` by the registration (src/backend/native.ts).
 */

/** The wasm backend's own kernels, saved when the native ones replace them (null: it had none). */
export const originals = new Map<string, tf.KernelConfig | null>();

/** The loaded addon (kernels are registered only after it loaded). */
const lib = (): Addon => loadAddon()!;

export type KernelArgs = {
  inputs: Record<string, tf.TensorInfo | undefined>;
  backend: WasmBackend;
  attrs: Record<string, unknown>;
};
export type KernelFn = (args: KernelArgs) => tf.TensorInfo | tf.TensorInfo[];

const prod = (s: readonly number[]) => s.reduce((a, b) => a * b, 1);

function fallback(name: string, args: KernelArgs): tf.TensorInfo {
  const orig = originals.get(name);
  if (!orig)
    throw new Error(
      `native ${name}: this case (${describe(args)}) is not supported and the wasm backend has no ${name} kernel`,
    );
  return (orig.kernelFunc as unknown as (a: KernelArgs) => tf.TensorInfo)(args);
}

function describe(args: KernelArgs): string {
  const ins = Object.entries(args.inputs)
    .filter(([, t]) => t)
    .map(([k, t]) => `${k}: ${t!.dtype}[${t!.shape.join(',')}]`);
  return ins.join(', ');
}

const ACT: Record<string, number> = { linear: 0, relu: 1, relu6: 2, leakyrelu: 3, sigmoid: 4, elu: 5 };

/** Batched matmul with numpy-style broadcast of the batch dims; optional rank-1 bias and activation epilogue. */
function matmul(name: string, args: KernelArgs, biasT?: tf.TensorInfo, act = 0, alpha = 0): tf.TensorInfo {
  const { a, b } = args.inputs as { a: tf.TensorInfo; b: tf.TensorInfo };
  const ta = !!args.attrs.transposeA;
  const tb = !!args.attrs.transposeB;
  const backend = args.backend;
  const ra = a.shape.length;
  const rb = b.shape.length;
  const m = ta ? a.shape[ra - 1] : a.shape[ra - 2];
  const k = ta ? a.shape[ra - 2] : a.shape[ra - 1];
  const kb = tb ? b.shape[rb - 1] : b.shape[rb - 2];
  const n = tb ? b.shape[rb - 2] : b.shape[rb - 1];
  if (k !== kb) {
    throw new Error(
      `${name}: inner dimensions ${k} and ${kb} of shapes [${a.shape}] and [${b.shape}] (transposeA=${ta}, ` +
        `transposeB=${tb}) must match`,
    );
  }
  const outerA = a.shape.slice(0, -2);
  const outerB = b.shape.slice(0, -2);
  const outer = tf.backend_util.assertAndGetBroadcastShape(outerA, outerB);
  const batch = prod(outer);
  const batchA = prod(outerA);
  const batchB = prod(outerB);
  const out = backend.makeOutput([...outer, m, n], 'float32');
  const heap = heapOf(backend);
  const aOff = offsetOf(backend, a);
  const bOff = offsetOf(backend, b);
  const cOff = offsetOf(backend, out);
  const biasOff = biasT ? offsetOf(backend, biasT) : -1;
  const biasLen = biasT ? prod(biasT.shape) : 0;
  const simpleA = batchA === batch || batchA === 1;
  const simpleB = batchB === batch || batchB === 1;
  if (simpleA && simpleB) {
    lib().gemm(
      heap,
      aOff,
      bOff,
      cOff,
      biasOff,
      batch,
      m,
      n,
      k,
      ta,
      tb,
      batchA === 1 ? 0 : m * k,
      batchB === 1 ? 0 : k * n,
      biasLen,
      act,
      alpha,
    );
    return out;
  }
  // general broadcast ([2,1,…] with [1,3,…]): one GEMM per output matrix
  const rank = outer.length;
  const padA = [...Array(rank - outerA.length).fill(1), ...outerA];
  const padB = [...Array(rank - outerB.length).fill(1), ...outerB];
  for (let i = 0; i < batch; i++) {
    let rem = i;
    let ia = 0;
    let ib = 0;
    let sa = 1;
    let sb = 1;
    for (let d = rank - 1; d >= 0; d--) {
      const c = rem % outer[d];
      rem = Math.floor(rem / outer[d]);
      if (padA[d] !== 1) ia += c * sa;
      if (padB[d] !== 1) ib += c * sb;
      sa *= padA[d];
      sb *= padB[d];
    }
    lib().gemm(
      heap,
      aOff + 4 * ia * m * k,
      bOff + 4 * ib * k * n,
      cOff + 4 * i * m * n,
      biasOff,
      1,
      m,
      n,
      k,
      ta,
      tb,
      0,
      0,
      biasLen,
      act,
      alpha,
    );
  }
  return out;
}

const batchMatMul: KernelFn = (args) => {
  const { a, b } = args.inputs as { a: tf.TensorInfo; b: tf.TensorInfo };
  if (a.dtype !== 'float32' || b.dtype !== 'float32') return fallback('BatchMatMul', args);
  return matmul('BatchMatMul', args);
};

const fusedMatMul: KernelFn = (args) => {
  const { a, b, bias, preluActivationWeights } = args.inputs;
  const activation = String(args.attrs.activation ?? 'linear');
  const act = ACT[activation];
  if (a!.dtype !== 'float32' || b!.dtype !== 'float32' || preluActivationWeights || act === undefined)
    return fallback('_FusedMatMul', args);
  if (bias) {
    const ra = a!.shape.length;
    const n = args.attrs.transposeB ? b!.shape[b!.shape.length - 2] : b!.shape[b!.shape.length - 1];
    const size = prod(bias.shape);
    const rowBias = size === n && bias.shape.slice(0, -1).every((d) => d === 1) && bias.shape.length <= ra;
    if (!(rowBias || size === 1) || bias.dtype !== 'float32') return fallback('_FusedMatMul', args);
  }
  return matmul('_FusedMatMul', args, bias, act, Number(args.attrs.leakyreluAlpha ?? 0.2));
};

const transpose: KernelFn = (args) => {
  const x = args.inputs.x!;
  const perm = args.attrs.perm as number[];
  if (!is4Byte(x)) return fallback('Transpose', args);
  const moved = perm.filter((p) => x.shape[p] !== 1);
  // a reshape: the wasm kernel shares the data
  if (moved.every((p, i) => i === 0 || p > moved[i - 1])) return fallback('Transpose', args);
  const backend = args.backend;
  const out = backend.makeOutput(
    perm.map((p) => x.shape[p]),
    x.dtype,
  );
  lib().transpose(heapOf(backend), offsetOf(backend, x), offsetOf(backend, out), x.shape, perm);
  return out;
};

/** The wasm Identity copies its input; like the cpu backend's, this one shares the data (reference counted). */
const identity: KernelFn = (args) => {
  const x = args.inputs.x!;
  if (x.dtype === 'string') return fallback('Identity', args);
  args.backend.incRef(x.dataId);
  return { dataId: x.dataId, shape: x.shape, dtype: x.dtype };
};

const is4Byte = (t: tf.TensorInfo) => t.dtype === 'float32' || t.dtype === 'int32';

function sliceOne(backend: WasmBackend, x: tf.TensorInfo, begin: number[], size: number[]): tf.TensorInfo {
  const out = backend.makeOutput(size, x.dtype);
  if (prod(size) > 0) lib().slice(heapOf(backend), offsetOf(backend, x), offsetOf(backend, out), x.shape, begin, size);
  return out;
}

/** The wasm Slice (and SplitV, which calls it) copies rank ≥ 5 element by element in JS. */
const slice: KernelFn = (args) => {
  const x = args.inputs.x!;
  if (!is4Byte(x)) return fallback('Slice', args);
  const [begin, size] = tf.slice_util.parseSliceParams(
    x as unknown as tf.Tensor,
    args.attrs.begin as number[],
    args.attrs.size as number[],
  );
  return sliceOne(args.backend, x, begin, size);
};

const splitV: KernelFn = (args) => {
  const x = args.inputs.x!;
  if (!is4Byte(x)) return fallback('SplitV', args);
  const axis = tf.util.parseAxisParam(args.attrs.axis as number, x.shape)[0];
  const sizes = tf.backend_util.prepareSplitSize(
    x as unknown as tf.Tensor,
    args.attrs.numOrSizeSplits as number[] | number,
    axis,
  );
  const begin = new Array(x.shape.length).fill(0);
  return sizes.map((s) => {
    const size = x.shape.slice();
    size[axis] = s;
    const out = sliceOne(args.backend, x, begin.slice(), size);
    begin[axis] += s;
    return out;
  });
};

/** Unpack (tf.unstack): one strided native slice per output, written straight into the squeezed shape. */
const unpack: KernelFn = (args) => {
  const x = args.inputs.value!;
  if (!is4Byte(x)) return fallback('Unpack', args);
  const axis = tf.util.parseAxisParam(args.attrs.axis as number, x.shape)[0];
  const backend = args.backend;
  const outShape = x.shape.filter((_, d) => d !== axis);
  const size = x.shape.slice();
  size[axis] = 1;
  const begin = new Array(x.shape.length).fill(0);
  const outs: tf.TensorInfo[] = [];
  for (let i = 0; i < x.shape[axis]; i++) {
    begin[axis] = i;
    const out = backend.makeOutput(outShape, x.dtype);
    if (prod(outShape) > 0)
      lib().slice(heapOf(backend), offsetOf(backend, x), offsetOf(backend, out), x.shape, begin, size);
    outs.push(out);
  }
  return outs;
};

const softmax: KernelFn = (args) => {
  const logits = args.inputs.logits!;
  const dim = Number(args.attrs.dim);
  const rank = logits.shape.length;
  if (logits.dtype !== 'float32' || (dim !== -1 && dim !== rank - 1)) return fallback('Softmax', args);
  const backend = args.backend;
  const out = backend.makeOutput(logits.shape, 'float32');
  const cols = logits.shape[rank - 1];
  if (prod(logits.shape) > 0)
    lib().softmax(heapOf(backend), offsetOf(backend, logits), offsetOf(backend, out), prod(logits.shape) / cols, cols);
  return out;
};

type ConvInfo = tf.backend_util.Conv2DInfo;

/** n, h, w, c, kh, kw, oh, ow, sh, sw, dh, dw, pad top, pad left: the addon's geometry arguments. */
const geometry = (ci: ConvInfo) => [
  ci.batchSize,
  ci.inHeight,
  ci.inWidth,
  ci.inChannels,
  ci.filterHeight,
  ci.filterWidth,
  ci.outHeight,
  ci.outWidth,
  ci.strideHeight,
  ci.strideWidth,
  ci.dilationHeight,
  ci.dilationWidth,
  ci.padInfo.top,
  ci.padInfo.left,
];

function channelsLast(args: KernelArgs): boolean {
  const f = args.attrs.dataFormat;
  return f === undefined || f === 'NHWC' || f === 'channelsLast';
}

type ConvAttrs = {
  strides: number | [number, number];
  pad: 'valid' | 'same' | number | tf.backend_util.ExplicitPadding;
  dilations?: number | [number, number];
  dimRoundingMode?: 'floor' | 'round' | 'ceil';
};

function convInfo(xShape: number[], fShape: number[], attrs: ConvAttrs, depthwise: boolean): ConvInfo {
  return tf.backend_util.computeConv2DInfo(
    xShape as [number, number, number, number],
    fShape as [number, number, number, number],
    attrs.strides,
    attrs.dilations ?? 1,
    attrs.pad,
    attrs.dimRoundingMode,
    depthwise,
    'channelsLast',
  );
}

/**
 * A conv kernel: `shapes` gives (x shape, filter shape, output shape) from the inputs and attrs; `run` is the addon
 * entry point taking (heap, in0, in1, out, geometry…, last) with `last` = output channels or channel multiplier.
 */
function convKernel(
  name: string,
  depthwise: boolean,
  shapes: (args: KernelArgs) => { x: number[]; f: number[]; out: number[] },
  run: (a: Addon) => Addon['conv2d'],
  in0: string,
  in1: string,
): KernelFn {
  return (args) => {
    const t0 = args.inputs[in0]!;
    const t1 = args.inputs[in1]!;
    if (!channelsLast(args) || t0.dtype !== 'float32' || t1.dtype !== 'float32') return fallback(name, args);
    const s = shapes(args);
    const ci = convInfo(s.x, s.f, args.attrs as unknown as ConvAttrs, depthwise);
    const backend = args.backend;
    const out = backend.makeOutput(s.out, 'float32');
    if (prod(s.out) > 0)
      run(lib()).call(
        lib(),
        heapOf(backend),
        offsetOf(backend, t0),
        offsetOf(backend, t1),
        offsetOf(backend, out),
        ...geometry(ci),
        s.f[3],
      );
    return out;
  };
}

const conv2d = convKernel(
  'Conv2D',
  false,
  (a) => {
    const x = a.inputs.x!.shape;
    const f = a.inputs.filter!.shape;
    return { x, f, out: convInfo(x, f, a.attrs as unknown as ConvAttrs, false).outShape };
  },
  (a) => a.conv2d,
  'x',
  'filter',
);

const conv2dBackpropInput = convKernel(
  'Conv2DBackpropInput',
  false,
  (a) => {
    const x = a.attrs.inputShape as number[];
    return { x, f: a.inputs.filter!.shape, out: x };
  },
  (a) => a.conv2dBackpropInput,
  'dy',
  'filter',
);

const conv2dBackpropFilter = convKernel(
  'Conv2DBackpropFilter',
  false,
  (a) => {
    const f = a.attrs.filterShape as number[];
    return { x: a.inputs.x!.shape, f, out: f };
  },
  (a) => a.conv2dBackpropFilter,
  'x',
  'dy',
);

const depthwise = convKernel(
  'DepthwiseConv2dNative',
  true,
  (a) => {
    const x = a.inputs.x!.shape;
    const f = a.inputs.filter!.shape;
    return { x, f, out: convInfo(x, f, a.attrs as unknown as ConvAttrs, true).outShape };
  },
  (a) => a.depthwise,
  'x',
  'filter',
);

const depthwiseBackpropInput = convKernel(
  'DepthwiseConv2dNativeBackpropInput',
  true,
  (a) => {
    const x = a.attrs.inputShape as number[];
    return { x, f: a.inputs.filter!.shape, out: x };
  },
  (a) => a.depthwiseBackpropInput,
  'dy',
  'filter',
);

const depthwiseBackpropFilter = convKernel(
  'DepthwiseConv2dNativeBackpropFilter',
  true,
  (a) => {
    const f = a.attrs.filterShape as number[];
    return { x: a.inputs.x!.shape, f, out: f };
  },
  (a) => a.depthwiseBackpropFilter,
  'x',
  'dy',
);

/**
 * Sum over any axes that are adjacent once size-1 axes are dropped (every reduction the models make: the last axis,
 * or the leading ones for bias and LayerNorm gradients); other patterns go to the wasm kernel, which transposes first.
 */
const sum: KernelFn = (args) => {
  const x = args.inputs.x!;
  if (x.dtype !== 'float32') return fallback('Sum', args);
  const axes = tf.util.parseAxisParam(args.attrs.axis as number | number[], x.shape);
  const reduced = new Set(axes);
  let outer = 1;
  let mid = 1;
  let inner = 1;
  let phase = 0; // 0: before the reduced run, 1: inside it, 2: after it
  for (let d = 0; d < x.shape.length; d++) {
    const n = x.shape[d];
    if (n === 1) continue;
    if (reduced.has(d)) {
      if (phase === 2) return fallback('Sum', args);
      phase = 1;
      mid *= n;
    } else if (phase === 0) outer *= n;
    else {
      phase = 2;
      inner *= n;
    }
  }
  const [outShape] = tf.backend_util.computeOutAndReduceShapes(x.shape, axes);
  const shape = args.attrs.keepDims ? tf.backend_util.expandShapeToKeepDim(outShape, axes) : outShape;
  const backend = args.backend;
  const out = backend.makeOutput(shape, 'float32');
  if (outer * inner > 0)
    lib().reduceSum(heapOf(backend), offsetOf(backend, x), offsetOf(backend, out), outer, mid, inner);
  return out;
};

/** The wasm Concat copies element by element in JS unless the axis is 0; this copies whole rows. */
const concat: KernelFn = (args) => {
  const all = Object.values(args.inputs) as tf.TensorInfo[];
  if (!all.length || !all.every((t) => t.dtype === all[0].dtype && is4Byte(t))) return fallback('Concat', args);
  const axis = tf.util.parseAxisParam(args.attrs.axis as number, all[0].shape)[0];
  const shape = tf.backend_util.computeOutShape(
    all.map((t) => t.shape),
    axis,
  );
  const backend = args.backend;
  const out = backend.makeOutput(shape, all[0].dtype);
  const parts = all.filter((t) => prod(t.shape) > 0);
  if (parts.length) {
    const outer = prod(shape.slice(0, axis));
    lib().concat(
      heapOf(backend),
      offsetOf(backend, out),
      outer,
      parts.map((t) => offsetOf(backend, t)),
      parts.map((t) => prod(t.shape.slice(axis))),
    );
  }
  return out;
};

const lastAxis = (t: tf.TensorInfo) => t.shape[t.shape.length - 1] ?? 1;

function requireFloat(name: string, ts: tf.TensorInfo[]): void {
  for (const t of ts)
    if (t.dtype !== 'float32')
      throw new Error(`${name}: expected float32 tensors, got ${t.dtype}[${t.shape.join(',')}]`);
}

const layerNorm: KernelFn = (args) => {
  const { x, gamma, beta } = args.inputs as Record<string, tf.TensorInfo>;
  requireFloat(FUSED.layerNorm, [x, gamma, beta]);
  const cols = lastAxis(x);
  const backend = args.backend;
  const y = backend.makeOutput(x.shape, 'float32');
  if (prod(x.shape) > 0) {
    lib().layerNorm(
      heapOf(backend),
      offsetOf(backend, x),
      offsetOf(backend, gamma),
      offsetOf(backend, beta),
      offsetOf(backend, y),
      prod(x.shape) / cols,
      cols,
      Number(args.attrs.eps),
    );
  }
  return y;
};

const layerNormGrad: KernelFn = (args) => {
  const { dy, x, gamma } = args.inputs as Record<string, tf.TensorInfo>;
  requireFloat(FUSED.layerNormGrad, [dy, x, gamma]);
  const cols = lastAxis(x);
  const backend = args.backend;
  const dx = backend.makeOutput(x.shape, 'float32');
  const dg = backend.makeOutput(gamma.shape, 'float32');
  const db = backend.makeOutput(gamma.shape, 'float32');
  const rows = cols ? prod(x.shape) / cols : 0;
  lib().layerNormGrad(
    heapOf(backend),
    offsetOf(backend, dy),
    offsetOf(backend, x),
    offsetOf(backend, gamma),
    offsetOf(backend, dx),
    offsetOf(backend, dg),
    offsetOf(backend, db),
    rows,
    cols,
    Number(args.attrs.eps),
  );
  return [dx, dg, db];
};

function activationKind(attrs: Record<string, unknown>): number {
  const kind = FUSED_ACTIVATIONS[String(attrs.kind)];
  if (kind === undefined)
    throw new Error(
      `${FUSED.activation}: unknown activation '${attrs.kind}' (expected one of ` +
        `${Object.keys(FUSED_ACTIVATIONS).join(', ')})`,
    );
  return kind;
}

const activation: KernelFn = (args) => {
  const x = args.inputs.x!;
  requireFloat(FUSED.activation, [x]);
  const kind = activationKind(args.attrs);
  const backend = args.backend;
  const y = backend.makeOutput(x.shape, 'float32');
  lib().activation(heapOf(backend), offsetOf(backend, x), offsetOf(backend, y), prod(x.shape), kind);
  return y;
};

const activationGrad: KernelFn = (args) => {
  const { dy, x } = args.inputs as Record<string, tf.TensorInfo>;
  requireFloat(FUSED.activationGrad, [dy, x]);
  const kind = activationKind(args.attrs);
  const backend = args.backend;
  const dx = backend.makeOutput(x.shape, 'float32');
  lib().activationGrad(
    heapOf(backend),
    offsetOf(backend, dy),
    offsetOf(backend, x),
    offsetOf(backend, dx),
    prod(x.shape),
    kind,
  );
  return dx;
};

const softmaxGrad: KernelFn = (args) => {
  const { dy, y } = args.inputs as Record<string, tf.TensorInfo>;
  requireFloat(FUSED.softmaxGrad, [dy, y]);
  const cols = lastAxis(y);
  const backend = args.backend;
  const dx = backend.makeOutput(y.shape, 'float32');
  if (prod(y.shape) > 0)
    lib().softmaxGrad(
      heapOf(backend),
      offsetOf(backend, dy),
      offsetOf(backend, y),
      offsetOf(backend, dx),
      prod(y.shape) / cols,
      cols,
    );
  return dx;
};

/** MaxPoolGrad (NHWC float32): the gradient of each window to its first maximum, as the cpu backend. */
const maxPoolGrad: KernelFn = (args) => {
  const { dy, input } = args.inputs as Record<string, tf.TensorInfo>;
  if (dy.dtype !== 'float32' || input.dtype !== 'float32') return fallback('MaxPoolGrad', args);
  const pi = tf.backend_util.computePool2DInfo(
    input.shape as [number, number, number, number],
    args.attrs.filterSize as [number, number] | number,
    args.attrs.strides as [number, number] | number,
    1,
    args.attrs.pad as 'valid' | 'same' | number,
    args.attrs.dimRoundingMode as 'floor' | 'round' | 'ceil' | undefined,
  );
  const backend = args.backend;
  const dx = backend.makeOutput(input.shape, 'float32');
  if (prod(input.shape) > 0) {
    lib().maxPoolGrad(
      heapOf(backend),
      offsetOf(backend, dy),
      offsetOf(backend, input),
      offsetOf(backend, dx),
      ...geometry(pi),
    );
  }
  return dx;
};

/** Training-mode BatchNorm over the last axis: [y, batch mean, biased batch variance]. */
const batchNorm: KernelFn = (args) => {
  const { x, gamma, beta } = args.inputs as Record<string, tf.TensorInfo>;
  requireFloat(FUSED.batchNorm, [x, gamma, beta]);
  const cols = lastAxis(x);
  const rows = cols ? prod(x.shape) / cols : 0;
  const backend = args.backend;
  const y = backend.makeOutput(x.shape, 'float32');
  const mean = backend.makeOutput([cols], 'float32');
  const variance = backend.makeOutput([cols], 'float32');
  if (rows * cols > 0) {
    const off = (t: tf.TensorInfo) => offsetOf(backend, t);
    const eps = Number(args.attrs.eps);
    lib().batchNorm(heapOf(backend), off(x), off(gamma), off(beta), off(y), off(mean), off(variance), rows, cols, eps);
  }
  return [y, mean, variance];
};

/** Its gradient: [dx, dγ, dβ] from dy and, when they reach the statistics outputs, dmean and dvar. */
const batchNormGrad: KernelFn = (args) => {
  const { dy, x, gamma, dMean, dVar } = args.inputs;
  requireFloat(FUSED.batchNormGrad, [dy!, x!, gamma!, ...[dMean, dVar].filter((t): t is tf.TensorInfo => !!t)]);
  const cols = lastAxis(x!);
  const rows = cols ? prod(x!.shape) / cols : 0;
  const backend = args.backend;
  const dx = backend.makeOutput(x!.shape, 'float32');
  const dg = backend.makeOutput(gamma!.shape, 'float32');
  const db = backend.makeOutput(gamma!.shape, 'float32');
  if (rows * cols > 0) {
    const off = (t: tf.TensorInfo | undefined) => (t ? offsetOf(backend, t) : -1);
    const eps = Number(args.attrs.eps);
    const ins = [off(dy), off(x), off(gamma), off(dMean), off(dVar)] as const;
    lib().batchNormGrad(heapOf(backend), ...ins, off(dx), off(dg), off(db), rows, cols, eps);
  }
  return [dx, dg, db];
};

/** y = x·W (+ b) over the last axis of x (any rank), W [in, out]: one GEMM with the bias epilogue. */
const linear: KernelFn = (args) => {
  const { x, weight, bias } = args.inputs;
  requireFloat(FUSED.linear, [x!, weight!, ...(bias ? [bias] : [])]);
  const [k, n] = weight!.shape;
  if (lastAxis(x!) !== k) {
    throw new Error(`${FUSED.linear}: input [${x!.shape}] does not end in the weight's ${k} input features`);
  }
  const m = k ? prod(x!.shape) / k : prod(x!.shape.slice(0, -1));
  const backend = args.backend;
  const y = backend.makeOutput([...x!.shape.slice(0, -1), n], 'float32');
  const off = (t: tf.TensorInfo | undefined) => (t ? offsetOf(backend, t) : -1);
  const heap = heapOf(backend);
  lib().gemm(heap, off(x), off(weight), off(y), off(bias), 1, m, n, k, false, false, 0, 0, bias ? n : 0, 0, 0);
  return y;
};

/** Its gradient: dx = dy·Wᵀ, dW = xᵀ·dy and (attr hasBias) db = Σ_rows dy, in one kernel. */
const linearGrad: KernelFn = (args) => {
  const { dy, x, weight } = args.inputs as Record<string, tf.TensorInfo>;
  requireFloat(FUSED.linearGrad, [dy, x, weight]);
  const [k, n] = weight.shape;
  const m = prod(x.shape.slice(0, -1));
  const backend = args.backend;
  const dx = backend.makeOutput(x.shape, 'float32');
  const dw = backend.makeOutput(weight.shape, 'float32');
  const db = args.attrs.hasBias ? backend.makeOutput([n], 'float32') : null;
  const off = (t: tf.TensorInfo) => offsetOf(backend, t);
  const heap = heapOf(backend);
  lib().gemm(heap, off(dy), off(weight), off(dx), -1, 1, m, k, n, false, true, 0, 0, 0, 0, 0);
  lib().gemm(heap, off(x), off(dy), off(dw), -1, 1, k, n, m, true, false, 0, 0, 0, 0, 0);
  if (db && n > 0) lib().reduceSum(heap, off(dy), off(db), 1, m, n);
  return db ? [dx, dw, db] : [dx, dw];
};

/** Tile (and so tf.broadcastTo) of 4-byte tensors: whole input rows copied; the wasm kernel goes element by element. */
const tile: KernelFn = (args) => {
  const x = args.inputs.x!;
  const reps = args.attrs.reps as number[];
  if (!is4Byte(x) || x.shape.length === 0 || reps.length !== x.shape.length) return fallback('Tile', args);
  const backend = args.backend;
  const out = backend.makeOutput(
    x.shape.map((d, i) => d * reps[i]),
    x.dtype,
  );
  if (prod(out.shape) > 0) lib().tile(heapOf(backend), offsetOf(backend, x), offsetOf(backend, out), x.shape, reps);
  return out;
};

/** Self-attention from packed qkv [B, T, 3, H, d] to merged heads [B, T, H·d]; also the probabilities [B, H, T, T]. */
const attention: KernelFn = (args) => {
  const qkv = args.inputs.qkv!;
  requireFloat(FUSED.attention, [qkv]);
  const [b, t, three, heads, d] = qkv.shape;
  if (qkv.shape.length !== 5 || three !== 3) {
    throw new Error(`${FUSED.attention}: expected qkv [B, T, 3, H, d], got [${qkv.shape}]`);
  }
  const backend = args.backend;
  const out = backend.makeOutput([b, t, heads * d], 'float32');
  const probs = backend.makeOutput([b, heads, t, t], 'float32');
  if (prod(qkv.shape) > 0) {
    const off = (x: tf.TensorInfo) => offsetOf(backend, x);
    lib().attention(heapOf(backend), off(qkv), off(out), off(probs), b, t, heads, d, Number(args.attrs.scale));
  }
  return [out, probs];
};

/** Its gradient: dqkv [B, T, 3, H, d] from dOut [B, T, H·d], qkv and the saved probabilities. */
const attentionGrad: KernelFn = (args) => {
  const { dy, qkv, probs } = args.inputs as Record<string, tf.TensorInfo>;
  requireFloat(FUSED.attentionGrad, [dy, qkv, probs]);
  const [b, t, , heads, d] = qkv.shape;
  const backend = args.backend;
  const dqkv = backend.makeOutput(qkv.shape, 'float32');
  if (prod(qkv.shape) > 0) {
    const off = (x: tf.TensorInfo) => offsetOf(backend, x);
    const scale = Number(args.attrs.scale);
    lib().attentionGrad(heapOf(backend), off(dy), off(qkv), off(probs), off(dqkv), b, t, heads, d, scale);
  }
  return dqkv;
};

/** GatherV2 along any axis (batchDims 0, 4-byte data, int32 indices): one row copy per gathered index. */
const gatherV2: KernelFn = (args) => {
  const { x, indices } = args.inputs as Record<string, tf.TensorInfo>;
  const batchDims = Number(args.attrs.batchDims ?? 0);
  if (!is4Byte(x) || indices.dtype !== 'int32' || batchDims !== 0) return fallback('GatherV2', args);
  const axis = tf.util.parseAxisParam(args.attrs.axis as number, x.shape)[0];
  const shape = [...x.shape.slice(0, axis), ...indices.shape, ...x.shape.slice(axis + 1)];
  const backend = args.backend;
  const out = backend.makeOutput(shape, x.dtype);
  const outer = prod(x.shape.slice(0, axis));
  const inner = prod(x.shape.slice(axis + 1));
  const count = prod(indices.shape);
  if (prod(shape) > 0) {
    const off = (t: tf.TensorInfo) => offsetOf(backend, t);
    lib().gather(heapOf(backend), off(x), off(indices), off(out), outer, x.shape[axis], inner, count);
  }
  return out;
};

/**
 * UnsortedSegmentSum of float32 rows (the gradient of GatherV2): one native pass; int32 x goes to the kit's wasm
 * kernel (src/backend/kernels.ts), which also raises the shape errors.
 */
const unsortedSegmentSum: KernelFn = (args) => {
  const { x, segmentIds } = args.inputs as Record<string, tf.TensorInfo>;
  const numSegments = Number(args.attrs.numSegments);
  const idRank = segmentIds.shape.length;
  const prefix = segmentIds.shape.every((d, i) => d === x.shape[i]);
  if (x.dtype !== 'float32' || segmentIds.dtype !== 'int32' || !prefix || !(numSegments >= 0))
    return fallback('UnsortedSegmentSum', args);
  const rest = x.shape.slice(idRank);
  const backend = args.backend;
  const out = backend.makeOutput([numSegments, ...rest], 'float32');
  const inner = prod(rest);
  if (numSegments * inner > 0) {
    const off = (t: tf.TensorInfo) => offsetOf(backend, t);
    lib().segmentSum(heapOf(backend), off(x), off(segmentIds), off(out), prod(segmentIds.shape), inner, numSegments);
  }
  return out;
};

/** tf.dropout's multiplier from Alea's seeded state (src/nn/fused.ts dropoutMask): no inputs, one float32 output. */
const dropoutMask: KernelFn = (args) => {
  const shape = args.attrs.shape as number[];
  const [s0, s1, s2, c] = args.attrs.state as number[];
  const keep = Number(args.attrs.keep);
  if (!(keep > 0 && keep <= 1)) throw new Error(`${FUSED.dropoutMask}: keep ${keep}; expected a number in (0, 1]`);
  const backend = args.backend;
  const out = backend.makeOutput(shape, 'float32');
  const n = prod(shape);
  if (n > 0) lib().dropoutMask(heapOf(backend), offsetOf(backend, out), n, s0, s1, s2, c, keep);
  return out;
};

export const KERNELS: Record<string, KernelFn> = {
  BatchMatMul: batchMatMul,
  _FusedMatMul: fusedMatMul,
  Transpose: transpose,
  Softmax: softmax,
  Identity: identity,
  Slice: slice,
  SplitV: splitV,
  Unpack: unpack,
  Conv2D: conv2d,
  Conv2DBackpropInput: conv2dBackpropInput,
  Conv2DBackpropFilter: conv2dBackpropFilter,
  DepthwiseConv2dNative: depthwise,
  DepthwiseConv2dNativeBackpropInput: depthwiseBackpropInput,
  DepthwiseConv2dNativeBackpropFilter: depthwiseBackpropFilter,
  Sum: sum,
  Concat: concat,
  MaxPoolGrad: maxPoolGrad,
  GatherV2: gatherV2,
  UnsortedSegmentSum: unsortedSegmentSum,
  Tile: tile,
  [FUSED.layerNorm]: layerNorm,
  [FUSED.layerNormGrad]: layerNormGrad,
  [FUSED.activation]: activation,
  [FUSED.activationGrad]: activationGrad,
  [FUSED.softmaxGrad]: softmaxGrad,
  [FUSED.batchNorm]: batchNorm,
  [FUSED.batchNormGrad]: batchNormGrad,
  [FUSED.linear]: linear,
  [FUSED.linearGrad]: linearGrad,
  [FUSED.attention]: attention,
  [FUSED.attentionGrad]: attentionGrad,
  [FUSED.dropoutMask]: dropoutMask,
};
