import { describe, it, expect, beforeAll } from 'vitest';
import * as tf from '@tensorflow/tfjs';
import { initBackend } from '../src/backend';
import { wasmInternals, offsetOf, heapOf, type WasmBackend } from '../src/backend/wasm-internals';

/**
 * The tfjs-backend-wasm 4.22 internals the native kernels and the fused AdamW step write through (issue 18). They
 * are not tfjs API: if an upgrade changes them, this test fails here, loudly and by name, instead of the native
 * kernels corrupting tensors.
 */

let backend: WasmBackend;

beforeAll(async () => {
  await initBackend('wasm');
  const b = wasmInternals(tf.findBackend('wasm'));
  if (typeof b === 'string') throw new Error(b);
  backend = b;
});

describe('tfjs-backend-wasm internals the native kernels rely on', () => {
  it('wasm.HEAPU8 is the heap and dataIdMap.get gives { memoryOffset, refCount } of a tensor on it', () => {
    const t = tf.tensor1d([1.5, -2, 3.25, 7], 'float32');
    try {
      const d = backend.dataIdMap.get(t.dataId)!;
      expect(Object.keys(d)).toEqual(expect.arrayContaining(['memoryOffset', 'refCount']));
      expect(Number.isInteger(d.memoryOffset) && d.memoryOffset % 4 === 0).toBe(true);
      expect(d.refCount).toBe(1);
      expect(backend.wasm.HEAPU8).toBeInstanceOf(Uint8Array);
      expect(Array.from(new Float32Array(heapOf(backend), offsetOf(backend, t), 4))).toEqual([1.5, -2, 3.25, 7]);
    } finally {
      t.dispose();
    }
  });

  it('makeOutput allocates on the heap: bytes written at its offset are the tensor the engine reads back', () => {
    const info = backend.makeOutput([2, 3], 'float32');
    expect(info.shape).toEqual([2, 3]);
    expect(info.dtype).toBe('float32');
    new Float32Array(heapOf(backend), offsetOf(backend, info), 6).set([0, 1, 2, 3, 4, 5]);
    const t = tf.engine().makeTensorFromTensorInfo(info);
    try {
      expect(Array.from(t.dataSync())).toEqual([0, 1, 2, 3, 4, 5]);
    } finally {
      t.dispose();
    }
  });

  it('incRef shares data: refCount counts the holders, and disposing one keeps the data for the other', () => {
    const a = tf.tensor1d([4, 5, 6]);
    backend.incRef(a.dataId);
    expect(backend.dataIdMap.get(a.dataId)!.refCount).toBe(2);
    const b = tf.engine().makeTensorFromTensorInfo({ dataId: a.dataId, shape: [3], dtype: 'float32' });
    a.dispose();
    try {
      expect(Array.from(b.dataSync())).toEqual([4, 5, 6]);
    } finally {
      b.dispose();
    }
  });

  it('a backend without them is refused with the missing names', () => {
    expect(wasmInternals({ wasm: {}, makeOutput: () => null })).toBe(
      'wasm backend not initialised or its internals changed (missing wasm.HEAPU8, dataIdMap, incRef)',
    );
    expect(wasmInternals(null)).toMatch(/wasm backend unavailable/);
  });
});
