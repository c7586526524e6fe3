import * as tf from '@tensorflow/tfjs';
import { loadAddon, addonLoadError, firstLine, nativeKernelsEnabled, setNativeKernelsEnabled } from './native-addon';
import { KERNELS, originals, type KernelArgs } from './native-kernels';
import { wasmInternals } from './wasm-internals';

export { FUSED, FUSED_ACTIVATIONS } from './kernel-names';

/**
 * Native kernels over the wasm backend (issue 9): registration. An N-API addon (native/, built at install time by
 * scripts/build-native.js; loaded by ./native-addon) computes GEMM (system BLAS or a portable blocked kernel),
 * transposes, softmax, and convolutions with their gradients, reading and writing the wasm backend's tensors in
 * place on the wasm heap (./native-kernels holds the adapters, ./wasm-internals the backend internals they use).
 * `enableNativeKernels()` swaps them in for the wasm kernels of the same name; `disableNativeKernels()` restores the
 * originals, so native and plain wasm can be compared in one process. `LIGHTVIT_NATIVE=0` keeps plain wasm.
 */

export interface NativeStatus {
  /** The addon loaded. */
  available: boolean;
  /** Native kernels are registered over the wasm backend's right now. */
  enabled: boolean;
  /** One line: what is active, or why not. */
  reason: string;
  gemm?: string;
  threads?: number;
  kernels: string[];
}

let lastReason = 'native kernels not enabled yet (initBackend("wasm") enables them)';

/**
 * Register the native kernels over the wasm backend's (which must be active). Idempotent. Returns whether they are
 * on and a one-line reason; never throws.
 */
export function enableNativeKernels(): { enabled: boolean; reason: string } {
  if (nativeKernelsEnabled()) return { enabled: true, reason: lastReason };
  if (process.env.LIGHTVIT_NATIVE === '0') return done(false, 'native kernels off (LIGHTVIT_NATIVE=0)');
  const addon = loadAddon();
  if (!addon) return done(false, addonLoadError());
  let backend: unknown;
  try {
    backend = tf.findBackend('wasm');
  } catch (e) {
    return done(false, `wasm backend unavailable: ${firstLine(e)}`);
  }
  const internals = wasmInternals(backend);
  if (typeof internals === 'string') return done(false, internals);
  for (const [name, fn] of Object.entries(KERNELS)) {
    const orig = tf.getKernel(name, 'wasm') ?? null;
    originals.set(name, orig);
    if (orig) tf.unregisterKernel(name, 'wasm');
    // tagged, so that registerWasmKernels (src/backend/kernels.ts) never mistakes it for a buggy wasm builtin
    const kernelFunc = Object.assign((args: KernelArgs) => fn(args), { lightvitNative: true });
    tf.registerKernel({ kernelName: name, backendName: 'wasm', kernelFunc: kernelFunc as unknown as tf.KernelFunc });
  }
  setNativeKernelsEnabled(true);
  const info = addon.info();
  const n = Object.keys(KERNELS).length;
  const threads = `${info.threads} thread${info.threads === 1 ? '' : 's'}`;
  return done(
    true,
    `native kernels on (${n} kernels incl. fused LayerNorm and GELU, plus a fused AdamW step; GEMM: ` +
      `${info.gemm}, ${threads})`,
  );
}

/** Restore the wasm backend's own kernels (those it had before `enableNativeKernels`). */
export function disableNativeKernels(): void {
  if (!nativeKernelsEnabled()) return;
  for (const [name, orig] of originals) {
    tf.unregisterKernel(name, 'wasm');
    if (orig) tf.registerKernel(orig);
  }
  originals.clear();
  setNativeKernelsEnabled(false);
  lastReason = 'native kernels off (disabled in this process)';
}

function done(on: boolean, reason: string): { enabled: boolean; reason: string } {
  lastReason = reason;
  return { enabled: on, reason };
}

export function nativeStatus(): NativeStatus {
  const a = loadAddon();
  const info = a?.info();
  const enabled = nativeKernelsEnabled();
  const off = !enabled && process.env.LIGHTVIT_NATIVE === '0';
  return {
    available: !!a,
    enabled,
    reason: !a ? addonLoadError() : off ? 'native kernels off (LIGHTVIT_NATIVE=0)' : lastReason,
    gemm: info?.gemm,
    threads: info?.threads,
    kernels: enabled ? Object.keys(KERNELS) : [],
  };
}

/** Threads of the addon's pool (default: all cores, at most 8). Returns the count in effect. */
export function setNativeThreads(n: number): number {
  const a = loadAddon();
  if (!a) throw new Error(`setNativeThreads(${n}): ${addonLoadError()}`);
  return a.setThreads(n);
}

/** Names of the kernels the addon replaces. */
export const NATIVE_KERNELS: readonly string[] = Object.keys(KERNELS);
