/**
 * Kernels the tfjs wasm backend (4.22) lacks for training, written in TypeScript over the wasm heap.
 *
 * Missing on wasm (probed with `tf.grads` of every op our models use; the cpu backend has all of them):
 * - `Conv2DBackpropFilter`: the filter gradient of conv2d, conv1d, separableConv2d, conv2dTranspose, fused.conv2d
 *   (im2col in TS, then the wasm BatchMatMul).
 * - `DepthwiseConv2dNativeBackpropInput` / `...BackpropFilter`: both gradients of depthwiseConv2d, any dilation
 *   (the input gradient through the wasm forward depthwise kernel when the multiplier is 1; otherwise TS loops).
 * - `UnsortedSegmentSum`: the gradient of `gather` (any axis, with batchDims).
 * - `Einsum` (forward only; tfjs has no Einsum gradient on any backend): a plain loop nest, for small tensors.
 * Everything else probed (pools, pad, split, topk, oneHot, erf, softplus, moments, resizeBilinear and its grad,
 * cumsum, mod, floorDiv, select, slice/concat/tile grads, prelu, logSumExp, mirrorPad, ...) is present on wasm.
 * Not fixable per backend: tfjs-core itself refuses conv2d/depthwiseConv2d gradients with dilation > 1 and has no
 * gradient for StridedSlice, TopK, GatherNd, Einsum, Cumprod (on every backend).
 *
 * Layout is NHWC throughout (the wasm forward convolutions reject NCHW too). Each kernel allocates its output
 * first (`makeOutput` may grow the heap and detach older views), then takes Float32Array views of the heap.
 */
import * as tf from '@tensorflow/tfjs';
import { backend_util, util } from '@tensorflow/tfjs';
import type { DataType, KernelConfig, KernelFunc, NamedAttrMap, TensorInfo } from '@tensorflow/tfjs';

/** The part of `BackendWasm` these kernels use. */
interface WasmBackend {
  makeOutput(shape: number[], dtype: DataType): TensorInfo;
  typedArrayFromHeap(t: TensorInfo): Float32Array | Int32Array | Uint8Array;
  disposeData(dataId: object, force?: boolean): boolean;
}

interface KernelArgs {
  inputs: Record<string, TensorInfo>;
  backend: WasmBackend;
  attrs: NamedAttrMap;
}

type Pad = 'same' | 'valid' | number | backend_util.ExplicitPadding;
type Shape4 = [number, number, number, number];

function f32(backend: WasmBackend, t: TensorInfo, what: string): Float32Array {
  if (t.dtype !== 'float32') throw new Error(`${what} must be float32 on the wasm training kernels; got ${t.dtype}`);
  return backend.typedArrayFromHeap(t) as Float32Array;
}

function requireNHWC(kernel: string, dataFormat: unknown): void {
  if (dataFormat !== undefined && dataFormat !== 'NHWC' && dataFormat !== 'channelsLast') {
    throw new Error(`${kernel} on wasm supports dataFormat 'NHWC' only; got '${String(dataFormat)}'`);
  }
}

function rank4(kernel: string, name: string, shape: readonly number[]): Shape4 {
  if (shape.length !== 4) throw new Error(`${kernel}: ${name} must be rank 4 (NHWC); got shape [${shape.join(', ')}]`);
  return shape as Shape4;
}

/**
 * The geometry every convolution gradient needs, from tfjs's own `computeConv2DInfo` (so 'same', 'valid',
 * explicit and numeric padding, and dimRoundingMode, match the forward op exactly).
 */
function geometry(info: backend_util.Conv2DInfo) {
  return {
    B: info.batchSize,
    H: info.inHeight,
    W: info.inWidth,
    C: info.inChannels,
    OH: info.outHeight,
    OW: info.outWidth,
    CO: info.outChannels,
    KH: info.filterHeight,
    KW: info.filterWidth,
    SH: info.strideHeight,
    SW: info.strideWidth,
    DH: info.dilationHeight,
    DW: info.dilationWidth,
    top: info.padInfo.top,
    left: info.padInfo.left,
  };
}

/**
 * Conv2DBackpropFilter works on blocks of output positions: at most `im2colChunkRows` positions and
 * `im2colChunkFloats` floats of im2col per block. Each block is one float32 GEMM whose result is added in float64,
 * so short blocks bound the float32 summation error (512 rows: ~3× closer to a float64 reference than one block
 * over a 2,048-position batch) and keep the block in cache. Tests lower them to exercise block boundaries.
 * `depthwiseInputViaForward`: compute DepthwiseConv2dNativeBackpropInput with the wasm forward depthwise kernel
 * where it can (see depthwiseBackpropInputViaForward; 6× faster for 3×3 here); false forces the JS loop.
 */
export const kernelTuning = { im2colChunkFloats: 4 << 20, im2colChunkRows: 512, depthwiseInputViaForward: true };

/** a · b with no transposes through whatever BatchMatMul is registered for wasm (XNNPACK, or native GEMM). */
function matmulPlain(backend: WasmBackend, a: TensorInfo, b: TensorInfo): TensorInfo {
  const k = tf.getKernel('BatchMatMul', 'wasm');
  if (!k) throw new Error('BatchMatMul is not registered for wasm');
  return (k.kernelFunc as unknown as (args: object) => TensorInfo)({
    inputs: { a, b },
    backend,
    attrs: { transposeA: false, transposeB: false },
  });
}

/**
 * dW[kh,kw,ci,co] = Σ_{b,oy,ox} x[b, oy·sh + kh·dh − top, ox·sw + kw·dw − left, ci] · dy[b,oy,ox,co].
 * As a GEMM over the P = B·OH·OW output positions: dWᵀ[CO, K] = dyᵀ[CO, P] · patches[P, K], K = KH·KW·CI,
 * where row p of `patches` is the receptive field of output p (im2col, zeros for padding). Both factors are
 * built untransposed so the wasm BatchMatMul takes its fast (XNNPACK) path; P is processed in chunks.
 */
function conv2DBackpropFilter({ inputs, backend, attrs }: KernelArgs): TensorInfo {
  const { x, dy } = inputs;
  const { strides, pad, dataFormat, dimRoundingMode, filterShape } = attrs as unknown as {
    strides: number | [number, number];
    pad: Pad;
    dataFormat?: string;
    dimRoundingMode?: 'floor' | 'round' | 'ceil';
    filterShape: Shape4;
  };
  requireNHWC('Conv2DBackpropFilter', dataFormat);
  const info = backend_util.computeConv2DInfo(
    rank4('Conv2DBackpropFilter', 'x', x.shape),
    filterShape,
    strides,
    1,
    pad,
    dimRoundingMode,
    false,
    'channelsLast',
  );
  const { B, H, W, C, OH, OW, CO, KH, KW, SH, SW, DH, DW, top, left } = geometry(info);
  if (x.dtype !== 'float32' || dy.dtype !== 'float32') {
    throw new Error(`Conv2DBackpropFilter on wasm needs float32 x and dy; got ${x.dtype} and ${dy.dtype}`);
  }
  const K = KH * KW * C;
  const P = B * OH * OW;
  const chunk = Math.max(
    1,
    Math.min(P, kernelTuning.im2colChunkRows, Math.floor(kernelTuning.im2colChunkFloats / Math.max(K, CO))),
  );
  const acc = new Float64Array(CO * K);
  for (let p0 = 0; p0 < P; p0 += chunk) {
    const pc = Math.min(chunk, P - p0);
    const dyT = backend.makeOutput([1, CO, pc], 'float32');
    const patches = backend.makeOutput([1, pc, K], 'float32');
    const dyTv = backend.typedArrayFromHeap(dyT) as Float32Array;
    const pv = backend.typedArrayFromHeap(patches) as Float32Array;
    const xv = backend.typedArrayFromHeap(x) as Float32Array;
    const dyv = backend.typedArrayFromHeap(dy) as Float32Array;
    for (let p = 0; p < pc; p++) {
      const src = (p0 + p) * CO;
      for (let co = 0, dst = p; co < CO; co++, dst += pc) dyTv[dst] = dyv[src + co];
    }
    // (b, oy, ox) of output position p0, advanced with p
    let ox = p0 % OW;
    let oy = Math.floor(p0 / OW) % OH;
    let b = Math.floor(p0 / (OW * OH));
    for (let p = 0; p < pc; p++) {
      let dst = p * K;
      const iy0 = oy * SH - top;
      const ix0 = ox * SW - left;
      for (let kh = 0; kh < KH; kh++) {
        const iy = iy0 + kh * DH;
        const rowOk = iy >= 0 && iy < H;
        const rowOff = (b * H + iy) * W;
        for (let kw = 0; kw < KW; kw++, dst += C) {
          const ix = ix0 + kw * DW;
          if (!rowOk || ix < 0 || ix >= W) {
            pv.fill(0, dst, dst + C);
            continue;
          }
          const src = (rowOff + ix) * C;
          for (let c = 0; c < C; c++) pv[dst + c] = xv[src + c];
        }
      }
      if (++ox === OW) {
        ox = 0;
        if (++oy === OH) {
          oy = 0;
          b++;
        }
      }
    }
    const prod = matmulPlain(backend, dyT, patches);
    const prodv = backend.typedArrayFromHeap(prod) as Float32Array;
    for (let i = 0; i < acc.length; i++) acc[i] += prodv[i];
    for (const t of [dyT, patches, prod]) backend.disposeData(t.dataId);
  }
  const out = backend.makeOutput(info.filterShape, 'float32');
  const o = backend.typedArrayFromHeap(out) as Float32Array;
  for (let co = 0; co < CO; co++) {
    for (let k = 0, src = co * K; k < K; k++) o[k * CO + co] = acc[src + k];
  }
  return out;
}

/**
 * The input gradient of a depthwise conv (multiplier 1) is itself a depthwise conv, run by the wasm forward
 * kernel (XNNPACK): dy, with (stride − 1) zeros inserted between its rows and columns, correlated with the
 * spatially flipped filter at the forward dilation, stride 1, padded by (effective kernel − 1 − forward pad) on the
 * top/left and whatever makes the output H×W on the bottom/right. Returns null when that padding would be negative
 * (explicit forward pads larger than the kernel) or the multiplier is not 1; the caller then loops in JS.
 */
function depthwiseBackpropInputViaForward(
  backend: WasmBackend,
  dy: TensorInfo,
  filter: TensorInfo,
  info: backend_util.Conv2DInfo,
): TensorInfo | null {
  const { B, H, W, C, OH, OW, CO, KH, KW, SH, SW, DH, DW, top, left } = geometry(info);
  const forward = tf.getKernel('DepthwiseConv2dNative', 'wasm');
  if (CO !== C || !forward || dy.dtype !== 'float32' || filter.dtype !== 'float32') return null;
  const effH = (KH - 1) * DH + 1;
  const effW = (KW - 1) * DW + 1;
  const hd = (OH - 1) * SH + 1;
  const wd = (OW - 1) * SW + 1;
  const padT = effH - 1 - top;
  const padL = effW - 1 - left;
  const padB = H - hd - padT + effH - 1;
  const padR = W - wd - padL + effW - 1;
  if (Math.min(padT, padL, padB, padR) < 0 || OH < 1 || OW < 1) return null;
  const temps: TensorInfo[] = [];
  const flipped = backend.makeOutput([KH, KW, C, 1], 'float32');
  temps.push(flipped);
  let src = dy;
  if (SH > 1 || SW > 1) {
    src = backend.makeOutput([B, hd, wd, C], 'float32');
    temps.push(src);
  }
  const fv = backend.typedArrayFromHeap(flipped) as Float32Array;
  const wv = backend.typedArrayFromHeap(filter) as Float32Array;
  for (let kh = 0; kh < KH; kh++) {
    for (let kw = 0; kw < KW; kw++) {
      const from = ((KH - 1 - kh) * KW + (KW - 1 - kw)) * C;
      fv.set(wv.subarray(from, from + C), (kh * KW + kw) * C);
    }
  }
  if (src !== dy) {
    const sv = backend.typedArrayFromHeap(src) as Float32Array;
    const dyv = backend.typedArrayFromHeap(dy) as Float32Array;
    sv.fill(0);
    for (let b = 0; b < B; b++) {
      for (let oy = 0; oy < OH; oy++) {
        for (let ox = 0; ox < OW; ox++) {
          const from = ((b * OH + oy) * OW + ox) * C;
          sv.set(dyv.subarray(from, from + C), ((b * hd + oy * SH) * wd + ox * SW) * C);
        }
      }
    }
  }
  const out = (forward.kernelFunc as unknown as (args: object) => TensorInfo)({
    inputs: { x: src, filter: flipped },
    backend,
    attrs: {
      strides: [1, 1],
      pad: [
        [0, 0],
        [padT, padB],
        [padL, padR],
        [0, 0],
      ],
      dilations: [DH, DW],
      dataFormat: 'NHWC',
    },
  });
  for (const t of temps) backend.disposeData(t.dataId);
  if (!util.arraysEqual(out.shape, info.inShape)) {
    backend.disposeData(out.dataId);
    throw new Error(`DepthwiseConv2dNativeBackpropInput: got shape [${out.shape}], expected [${info.inShape}]`);
  }
  return out;
}

/**
 * dx[b,iy,ix,c] = Σ_{oy,ox,kh,kw,q : iy = oy·sh + kh·dh − top, ix = ox·sw + kw·dw − left} w[kh,kw,c,q] ·
 * dy[b,oy,ox,c·M+q],
 * computed as a scatter from each output position (no divisibility tests), M = channel multiplier.
 */
function depthwiseConv2dNativeBackpropInput({ inputs, backend, attrs }: KernelArgs): TensorInfo {
  const { dy, filter } = inputs;
  const { strides, dilations, pad, dimRoundingMode, inputShape, dataFormat } = attrs as unknown as {
    strides: number | [number, number];
    dilations: number | [number, number];
    pad: Pad;
    dimRoundingMode?: 'floor' | 'round' | 'ceil';
    inputShape: Shape4;
    dataFormat?: string;
  };
  requireNHWC('DepthwiseConv2dNativeBackpropInput', dataFormat);
  const info = backend_util.computeConv2DInfo(
    inputShape,
    rank4('DepthwiseConv2dNativeBackpropInput', 'filter', filter.shape),
    strides,
    dilations ?? 1,
    pad,
    dimRoundingMode,
    true,
    'channelsLast',
  );
  if (kernelTuning.depthwiseInputViaForward) {
    const viaForward = depthwiseBackpropInputViaForward(backend, dy, filter, info);
    if (viaForward) return viaForward;
  }
  const { B, H, W, C, OH, OW, CO, KH, KW, SH, SW, DH, DW, top, left } = geometry(info);
  const M = CO / C;
  const out = backend.makeOutput(info.inShape, 'float32');
  const dx = backend.typedArrayFromHeap(out) as Float32Array;
  dx.fill(0);
  const wv = f32(backend, filter, 'DepthwiseConv2dNativeBackpropInput filter');
  const dyv = f32(backend, dy, 'DepthwiseConv2dNativeBackpropInput dy');
  for (let b = 0; b < B; b++) {
    for (let oy = 0; oy < OH; oy++) {
      const iy0 = oy * SH - top;
      for (let ox = 0; ox < OW; ox++) {
        const ix0 = ox * SW - left;
        const dyOff = ((b * OH + oy) * OW + ox) * CO;
        for (let kh = 0; kh < KH; kh++) {
          const iy = iy0 + kh * DH;
          if (iy < 0 || iy >= H) continue;
          const rowOff = (b * H + iy) * W;
          for (let kw = 0; kw < KW; kw++) {
            const ix = ix0 + kw * DW;
            if (ix < 0 || ix >= W) continue;
            const xOff = (rowOff + ix) * C;
            const wOff = (kh * KW + kw) * CO;
            if (M === 1) {
              for (let c = 0; c < C; c++) dx[xOff + c] += wv[wOff + c] * dyv[dyOff + c];
            } else {
              for (let c = 0; c < C; c++) {
                let s = 0;
                const base = c * M;
                for (let q = 0; q < M; q++) s += wv[wOff + base + q] * dyv[dyOff + base + q];
                dx[xOff + c] += s;
              }
            }
          }
        }
      }
    }
  }
  return out;
}

/**
 * dW[kh,kw,c,q] = Σ_{b,oy,ox} x[b, oy·sh + kh·dh − top, ox·sw + kw·dw − left, c] · dy[b,oy,ox,c·M+q] (float64 sums).
 */
function depthwiseConv2dNativeBackpropFilter({ inputs, backend, attrs }: KernelArgs): TensorInfo {
  const { x, dy } = inputs;
  const { strides, dilations, pad, dimRoundingMode, filterShape, dataFormat } = attrs as unknown as {
    strides: number | [number, number];
    dilations: number | [number, number];
    pad: Pad;
    dimRoundingMode?: 'floor' | 'round' | 'ceil';
    filterShape: Shape4;
    dataFormat?: string;
  };
  requireNHWC('DepthwiseConv2dNativeBackpropFilter', dataFormat);
  const info = backend_util.computeConv2DInfo(
    rank4('DepthwiseConv2dNativeBackpropFilter', 'x', x.shape),
    filterShape,
    strides,
    dilations ?? 1,
    pad,
    dimRoundingMode,
    true,
    'channelsLast',
  );
  const { B, H, W, C, OH, OW, CO, KH, KW, SH, SW, DH, DW, top, left } = geometry(info);
  const M = CO / C;
  const acc = new Float64Array(KH * KW * CO);
  const out = backend.makeOutput(info.filterShape, 'float32');
  const xv = f32(backend, x, 'DepthwiseConv2dNativeBackpropFilter x');
  const dyv = f32(backend, dy, 'DepthwiseConv2dNativeBackpropFilter dy');
  for (let b = 0; b < B; b++) {
    for (let oy = 0; oy < OH; oy++) {
      const iy0 = oy * SH - top;
      for (let ox = 0; ox < OW; ox++) {
        const ix0 = ox * SW - left;
        const dyOff = ((b * OH + oy) * OW + ox) * CO;
        for (let kh = 0; kh < KH; kh++) {
          const iy = iy0 + kh * DH;
          if (iy < 0 || iy >= H) continue;
          const rowOff = (b * H + iy) * W;
          for (let kw = 0; kw < KW; kw++) {
            const ix = ix0 + kw * DW;
            if (ix < 0 || ix >= W) continue;
            const xOff = (rowOff + ix) * C;
            const wOff = (kh * KW + kw) * CO;
            if (M === 1) {
              for (let c = 0; c < C; c++) acc[wOff + c] += xv[xOff + c] * dyv[dyOff + c];
            } else {
              for (let c = 0; c < C; c++) {
                const a = xv[xOff + c];
                const base = c * M;
                for (let q = 0; q < M; q++) acc[wOff + base + q] += a * dyv[dyOff + base + q];
              }
            }
          }
        }
      }
    }
  }
  (backend.typedArrayFromHeap(out) as Float32Array).set(acc);
  return out;
}

/**
 * out[s, ...] = Σ_{i : ids[i] = s} x[i, ...], ids flattened over the leading `segmentIds.rank` dims of x.
 * Ids outside [0, numSegments) are dropped, as in TensorFlow.
 */
function unsortedSegmentSum({ inputs, backend, attrs }: KernelArgs): TensorInfo {
  const { x, segmentIds } = inputs;
  const numSegments = attrs.numSegments as number;
  const idRank = segmentIds.shape.length;
  for (let d = 0; d < idRank; d++) {
    if (segmentIds.shape[d] !== x.shape[d]) {
      throw new Error(
        `UnsortedSegmentSum: segmentIds shape [${segmentIds.shape.join(', ')}] must be a prefix of x shape ` +
          `[${x.shape.join(', ')}]`,
      );
    }
  }
  if (x.dtype !== 'float32' && x.dtype !== 'int32') {
    throw new Error(`UnsortedSegmentSum on wasm supports float32 and int32 x; got ${x.dtype}`);
  }
  const rest = x.shape.slice(idRank);
  const inner = util.sizeFromShape(rest);
  const n = util.sizeFromShape(segmentIds.shape);
  const out = backend.makeOutput([numSegments, ...rest], x.dtype);
  const o = backend.typedArrayFromHeap(out) as Float32Array | Int32Array;
  o.fill(0);
  const xv = backend.typedArrayFromHeap(x) as Float32Array | Int32Array;
  const ids = backend.typedArrayFromHeap(segmentIds);
  for (let i = 0; i < n; i++) {
    const s = ids[i];
    if (s < 0 || s >= numSegments) continue;
    const src = i * inner;
    const dst = s * inner;
    for (let j = 0; j < inner; j++) o[dst + j] += xv[src + j];
  }
  return out;
}

/**
 * MaxPoolGrad, replacing the wasm backend's own: in tfjs-backend-wasm 4.22 it routes gradients to wrong positions
 * for some shapes (e.g. a 2×2/stride-2 pool of an 8×8×16 map: errors of order 1 against the cpu backend; found by
 * the registry-wide cpu-vs-wasm gradient test on EIT's conv + max-pool projection). Semantics as the cpu backend:
 * each window's gradient goes to its first maximum (row-major within the window).
 */
function maxPoolGrad({ inputs, backend, attrs }: KernelArgs): TensorInfo {
  const { dy, input } = inputs;
  const info = backend_util.computePool2DInfo(
    input.shape as Shape4,
    attrs.filterSize as [number, number] | number,
    attrs.strides as [number, number] | number,
    1,
    attrs.pad as 'valid' | 'same' | number,
    attrs.dimRoundingMode as 'floor' | 'round' | 'ceil' | undefined,
  );
  const { batchSize, inHeight, inWidth, inChannels: ch, outHeight, outWidth, strideHeight, strideWidth } = info;
  const { effectiveFilterHeight: fh, effectiveFilterWidth: fw, dilationHeight: dh, dilationWidth: dw } = info;
  const top = info.padInfo.top;
  const left = info.padInfo.left;
  const out = backend.makeOutput(input.shape as number[], 'float32');
  const dx = f32(backend, out, 'MaxPoolGrad output');
  dx.fill(0);
  const x = f32(backend, input, 'MaxPoolGrad input');
  const g = f32(backend, dy, 'MaxPoolGrad dy');
  for (let b = 0; b < batchSize; b++) {
    const xb = b * inHeight * inWidth * ch;
    for (let yr = 0; yr < outHeight; yr++) {
      const r0 = yr * strideHeight - top;
      for (let yc = 0; yc < outWidth; yc++) {
        const c0 = yc * strideWidth - left;
        const gBase = ((b * outHeight + yr) * outWidth + yc) * ch;
        for (let d = 0; d < ch; d++) {
          let best = -Infinity;
          let at = -1;
          for (let wr = 0; wr < fh; wr += dh) {
            const r = r0 + wr;
            if (r < 0 || r >= inHeight) continue;
            for (let wc = 0; wc < fw; wc += dw) {
              const c = c0 + wc;
              if (c < 0 || c >= inWidth) continue;
              const idx = xb + (r * inWidth + c) * ch + d;
              if (x[idx] > best) {
                best = x[idx];
                at = idx;
              }
            }
          }
          if (at >= 0) dx[at] += g[gBase + d];
        }
      }
    }
  }
  return out;
}

/**
 * Einsum forward as one loop nest: out[o] = Σ_{summed letters} Π_k operand_k[...]. Each operand gets a stride per
 * letter (a repeated letter, e.g. 'ii->i', adds its strides: the diagonal), and an odometer over the output letters
 * then the summed letters advances every operand offset by those strides. Implicit output (no '->') is the
 * letters used once, sorted, as in numpy. Ellipsis is not supported.
 */
function einsum({
  inputs,
  backend,
  attrs,
}: {
  inputs: TensorInfo[];
  backend: WasmBackend;
  attrs: NamedAttrMap;
}): TensorInfo {
  const equation = (attrs.equation as string).replace(/\s+/g, '');
  if (equation.includes('.')) throw new Error(`Einsum on wasm does not support ellipsis; got '${equation}'`);
  const [lhs, rhsGiven] = equation.split('->');
  const terms = lhs.split(',');
  if (terms.length !== inputs.length) {
    throw new Error(`Einsum equation '${equation}' has ${terms.length} operand(s); got ${inputs.length} tensor(s)`);
  }
  const size = new Map<string, number>();
  terms.forEach((term, k) => {
    const shape = inputs[k].shape;
    if (term.length !== shape.length) {
      throw new Error(`Einsum operand ${k} '${term}' names ${term.length} dims; its shape is [${shape.join(', ')}]`);
    }
    [...term].forEach((ch, d) => {
      const prev = size.get(ch);
      if (prev !== undefined && prev !== shape[d]) {
        throw new Error(`Einsum '${equation}': index '${ch}' has size ${prev} and ${shape[d]}`);
      }
      size.set(ch, shape[d]);
    });
  });
  const counts = new Map<string, number>();
  for (const ch of terms.join('')) counts.set(ch, (counts.get(ch) ?? 0) + 1);
  const rhs =
    rhsGiven ??
    [...counts.keys()]
      .filter((ch) => counts.get(ch) === 1)
      .sort()
      .join('');
  for (const ch of rhs)
    if (!size.has(ch)) throw new Error(`Einsum '${equation}': output index '${ch}' is in no operand`);
  const letters = [...rhs, ...[...size.keys()].filter((ch) => !rhs.includes(ch))];
  const L = letters.length;
  const dims = letters.map((ch) => size.get(ch)!);
  const K = inputs.length;
  // stride[k*L + l]: how far operand k's offset moves when letter l advances by one
  const stride = new Float64Array(K * L);
  terms.forEach((term, k) => {
    const st = util.computeStrides(inputs[k].shape);
    [...term].forEach((ch, d) => (stride[k * L + letters.indexOf(ch)] += d === term.length - 1 ? 1 : st[d]));
  });
  const outShape = [...rhs].map((ch) => size.get(ch)!);
  const dtype = inputs.every((t) => t.dtype === 'int32') ? 'int32' : 'float32';
  const out = backend.makeOutput(outShape, dtype);
  const o = backend.typedArrayFromHeap(out) as Float32Array | Int32Array;
  const views = inputs.map((t) => backend.typedArrayFromHeap(t));
  const nOut = util.sizeFromShape(outShape);
  const nSum = util.sizeFromShape(dims.slice(rhs.length));
  const idx = new Int32Array(L);
  const off = new Float64Array(K);
  const R = rhs.length;
  for (let oi = 0; oi < nOut; oi++) {
    let total = 0;
    for (let si = 0; si < nSum; si++) {
      let p = 1;
      for (let k = 0; k < K; k++) p *= views[k][off[k]];
      total += p;
      // advance the summed letters (innermost = last)
      for (let l = L - 1; l >= R; l--) {
        if (++idx[l] < dims[l]) {
          for (let k = 0; k < K; k++) off[k] += stride[k * L + l];
          break;
        }
        idx[l] = 0;
        for (let k = 0; k < K; k++) off[k] -= stride[k * L + l] * (dims[l] - 1);
      }
    }
    o[oi] = total;
    for (let l = R - 1; l >= 0; l--) {
      if (++idx[l] < dims[l]) {
        for (let k = 0; k < K; k++) off[k] += stride[k * L + l];
        break;
      }
      idx[l] = 0;
      for (let k = 0; k < K; k++) off[k] -= stride[k * L + l] * (dims[l] - 1);
    }
  }
  return out;
}

const OURS: KernelConfig[] = [
  {
    kernelName: 'Conv2DBackpropFilter',
    backendName: 'wasm',
    kernelFunc: conv2DBackpropFilter as unknown as KernelFunc,
  },
  {
    kernelName: 'DepthwiseConv2dNativeBackpropInput',
    backendName: 'wasm',
    kernelFunc: depthwiseConv2dNativeBackpropInput as unknown as KernelFunc,
  },
  {
    kernelName: 'DepthwiseConv2dNativeBackpropFilter',
    backendName: 'wasm',
    kernelFunc: depthwiseConv2dNativeBackpropFilter as unknown as KernelFunc,
  },
  { kernelName: 'UnsortedSegmentSum', backendName: 'wasm', kernelFunc: unsortedSegmentSum as unknown as KernelFunc },
  { kernelName: 'Einsum', backendName: 'wasm', kernelFunc: einsum as unknown as KernelFunc },
  { kernelName: 'MaxPoolGrad', backendName: 'wasm', kernelFunc: maxPoolGrad as unknown as KernelFunc },
];

/** Names of the kernels this module provides for wasm. */
export const WASM_TRAINING_KERNELS: readonly string[] = OURS.map((k) => k.kernelName);

/**
 * Register the missing wasm kernels. Idempotent: a kernel already registered for wasm is left alone (ours from an
 * earlier call, a faster native one registered over it, or one a later tfjs ships), unless `override` is set.
 * Returns the names registered by this call.
 */
/** wasm's own kernels that are wrong in 4.22 and always replaced by ours. */
const REPLACED = new Set(['MaxPoolGrad']);

export function registerWasmKernels(opts: { override?: boolean } = {}): string[] {
  const added: string[] = [];
  for (const cfg of OURS) {
    const existing = tf.getKernel(cfg.kernelName, 'wasm');
    if (existing) {
      // the wasm backend's own, not ours and not a native kernel registered over ours (those say `lightvitNative`)
      const buggyBuiltin =
        REPLACED.has(cfg.kernelName) &&
        !OURS.some((o) => o.kernelFunc === existing.kernelFunc) &&
        !(existing.kernelFunc as { lightvitNative?: boolean }).lightvitNative;
      if (!opts.override && !buggyBuiltin) continue;
      tf.unregisterKernel(cfg.kernelName, 'wasm');
    }
    tf.registerKernel(cfg);
    added.push(cfg.kernelName);
  }
  return added;
}

/** True when the kernel registered for wasm under `name` is this module's implementation. */
export function isOurWasmKernel(name: string): boolean {
  const k = tf.getKernel(name, 'wasm');
  return !!k && OURS.some((o) => o.kernelName === name && o.kernelFunc === k.kernelFunc);
}
