import type * as tf from '@tensorflow/tfjs';

/**
 * The parts of tfjs-backend-wasm 4.22's BackendWasm the native kernels rely on. They are internals, not API: a
 * tfjs upgrade may change them, so `wasmInternals` checks their shape before anything uses them and
 * test/native-internals.test.ts fails loudly when they change.
 *  - `wasm.HEAPU8`: the wasm memory (its buffer is replaced when the heap grows: fetch it after every allocation);
 *  - `dataIdMap.get(dataId)`: `{ memoryOffset, refCount }` of a tensor's data on that heap;
 *  - `makeOutput(shape, dtype)`: allocates an output tensor on the heap and returns its TensorInfo;
 *  - `incRef(dataId)`: shares a tensor's data with another output (reference counted).
 */
export interface WasmBackend {
  wasm: { HEAPU8: Uint8Array };
  dataIdMap: { get(id: object): { memoryOffset: number; refCount: number } | undefined };
  makeOutput(shape: number[], dtype: tf.DataType): tf.TensorInfo;
  incRef(dataId: object): void;
}

/** `tf.findBackend('wasm')` as a `WasmBackend`, or a one-line reason why it is not usable as one. */
export function wasmInternals(backend: unknown): WasmBackend | string {
  const b = backend as Partial<WasmBackend> | undefined;
  if (!b) return 'wasm backend unavailable (not registered or not initialised)';
  const missing: string[] = [];
  if (!(b.wasm?.HEAPU8 instanceof Uint8Array)) missing.push('wasm.HEAPU8');
  if (!b.dataIdMap || typeof b.dataIdMap.get !== 'function') missing.push('dataIdMap');
  if (typeof b.makeOutput !== 'function') missing.push('makeOutput');
  if (typeof b.incRef !== 'function') missing.push('incRef');
  if (missing.length) return `wasm backend not initialised or its internals changed (missing ${missing.join(', ')})`;
  return b as WasmBackend;
}

/** Byte offset of a tensor's data on the wasm heap. */
export function offsetOf(backend: WasmBackend, t: tf.TensorInfo): number {
  const d = backend.dataIdMap.get(t.dataId);
  if (!d) throw new Error(`native kernel: tensor [${t.shape}] is not on the wasm backend`);
  return d.memoryOffset;
}

/** The wasm heap; fetched after every allocation because `makeOutput` can grow (and so replace) it. */
export const heapOf = (backend: WasmBackend): ArrayBuffer => backend.wasm.HEAPU8.buffer as ArrayBuffer;
