import * as path from 'node:path';

/**
 * Loading the native addon (native/, built by scripts/build-native.js at install time) and the one flag the rest of
 * the kit reads: whether its kernels are registered over the wasm backend right now. Kept apart from the kernels so
 * the fused AdamW step (src/train/adamw-native.ts) and the GEMM probe (src/bench/sgemm-probe.ts) need only this.
 */

export interface Addon {
  gemm(
    heap: ArrayBuffer,
    aOff: number,
    bOff: number,
    cOff: number,
    biasOff: number,
    batch: number,
    m: number,
    n: number,
    k: number,
    ta: boolean,
    tb: boolean,
    strideA: number,
    strideB: number,
    biasLen: number,
    act: number,
    alpha: number,
  ): void;
  transpose(heap: ArrayBuffer, inOff: number, outOff: number, shape: number[], perm: number[]): void;
  softmax(heap: ArrayBuffer, inOff: number, outOff: number, rows: number, cols: number): void;
  slice(heap: ArrayBuffer, inOff: number, outOff: number, shape: number[], begin: number[], size: number[]): void;
  conv2d(heap: ArrayBuffer, a: number, b: number, out: number, ...geometryAndLast: number[]): void;
  conv2dBackpropInput(heap: ArrayBuffer, a: number, b: number, out: number, ...geometryAndLast: number[]): void;
  conv2dBackpropFilter(heap: ArrayBuffer, a: number, b: number, out: number, ...geometryAndLast: number[]): void;
  depthwise(heap: ArrayBuffer, a: number, b: number, out: number, ...geometryAndLast: number[]): void;
  depthwiseBackpropInput(heap: ArrayBuffer, a: number, b: number, out: number, ...geometryAndLast: number[]): void;
  depthwiseBackpropFilter(heap: ArrayBuffer, a: number, b: number, out: number, ...geometryAndLast: number[]): void;
  reduceSum(heap: ArrayBuffer, inOff: number, outOff: number, outer: number, mid: number, inner: number): void;
  concat(heap: ArrayBuffer, outOff: number, outer: number, inOffs: number[], widths: number[]): void;
  layerNorm(
    heap: ArrayBuffer,
    x: number,
    gamma: number,
    beta: number,
    y: number,
    rows: number,
    cols: number,
    eps: number,
  ): void;
  layerNormGrad(
    heap: ArrayBuffer,
    dy: number,
    x: number,
    gamma: number,
    dx: number,
    dgamma: number,
    dbeta: number,
    rows: number,
    cols: number,
    eps: number,
  ): void;
  activation(heap: ArrayBuffer, x: number, y: number, n: number, kind: number): void;
  activationGrad(heap: ArrayBuffer, dy: number, x: number, dx: number, n: number, kind: number): void;
  softmaxGrad(heap: ArrayBuffer, dy: number, y: number, dx: number, rows: number, cols: number): void;
  sumSquares(heap: ArrayBuffer, offs: number[], sizes: number[]): number;
  adamw(
    heap: ArrayBuffer,
    p: number[],
    g: number[],
    m: number[],
    v: number[],
    sizes: number[],
    decays: number[],
    lr: number,
    b1: number,
    b2: number,
    eps: number,
    c1: number,
    c2: number,
    gradScale: number,
  ): void;
  maxPoolGrad(heap: ArrayBuffer, dy: number, x: number, dx: number, ...geometry: number[]): void;
  batchNorm(
    heap: ArrayBuffer,
    x: number,
    gamma: number,
    beta: number,
    y: number,
    mean: number,
    variance: number,
    rows: number,
    cols: number,
    eps: number,
  ): void;
  batchNormGrad(
    heap: ArrayBuffer,
    dy: number,
    x: number,
    gamma: number,
    dMean: number,
    dVar: number,
    dx: number,
    dgamma: number,
    dbeta: number,
    rows: number,
    cols: number,
    eps: number,
  ): void;
  tile(heap: ArrayBuffer, inOff: number, outOff: number, shape: number[], reps: number[]): void;
  attention(
    heap: ArrayBuffer,
    qkv: number,
    out: number,
    probs: number,
    batch: number,
    tokens: number,
    heads: number,
    headDim: number,
    scale: number,
  ): void;
  attentionGrad(
    heap: ArrayBuffer,
    dOut: number,
    qkv: number,
    probs: number,
    dQkv: number,
    batch: number,
    tokens: number,
    heads: number,
    headDim: number,
    scale: number,
  ): void;
  gather(
    heap: ArrayBuffer,
    x: number,
    indices: number,
    out: number,
    outer: number,
    axisLen: number,
    inner: number,
    count: number,
  ): void;
  segmentSum(
    heap: ArrayBuffer,
    x: number,
    segmentIds: number,
    out: number,
    rows: number,
    inner: number,
    numSegments: number,
  ): void;
  dropoutMask(
    heap: ArrayBuffer,
    out: number,
    count: number,
    s0: number,
    s1: number,
    s2: number,
    c: number,
    keep: number,
  ): void;
  setThreads(n: number): number;
  info(): { gemm: string; threads: number };
}

let addon: Addon | null = null;
let loadError = '';
let loadTried = false;
let enabled = false;

export function firstLine(e: unknown): string {
  return (e instanceof Error ? e.message : String(e)).split('\n')[0].slice(0, 200);
}

/** The addon (loaded once: `LIGHTVIT_NATIVE_ADDON` or native/build/Release), or null; `addonLoadError()` says why. */
export function loadAddon(): Addon | null {
  if (loadTried) return addon;
  loadTried = true;
  const file =
    process.env.LIGHTVIT_NATIVE_ADDON ||
    path.resolve(__dirname, '..', '..', 'native', 'build', 'Release', 'lightvit_native.node');
  try {
    addon = require(file) as Addon;
    const threads = Number(process.env.LIGHTVIT_NATIVE_THREADS);
    if (Number.isInteger(threads) && threads > 0) addon.setThreads(threads);
  } catch (e) {
    const msg = firstLine(e);
    const shown = file.startsWith(process.cwd()) ? path.relative(process.cwd(), file) : file;
    loadError = /Cannot find module/.test(msg)
      ? `native addon not built (${shown} missing; run: node scripts/build-native.js)`
      : `native addon failed to load: ${msg}`;
    addon = null;
  }
  return addon;
}

/** Why the addon did not load ('' when it did or was not tried). */
export function addonLoadError(): string {
  return loadError;
}

/** Whether the native kernels are registered over the wasm backend's right now. */
export function nativeKernelsEnabled(): boolean {
  return enabled;
}

/** Set by the registration (src/backend/native.ts) only. */
export function setNativeKernelsEnabled(on: boolean): void {
  enabled = on;
}
