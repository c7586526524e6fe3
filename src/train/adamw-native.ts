import * as tf from '@tensorflow/tfjs';
import { loadAddon, nativeKernelsEnabled } from '../backend/native-addon';
import type { AdamWHyper, AdamWSlot } from '../backend/kernel-names';
import { type WasmBackend, heapOf } from '../backend/wasm-internals';

/**
 * The whole AdamW step (global-norm clipping included) as one native call that updates parameters and moments in
 * place on the wasm heap. Returns false and changes nothing unless native kernels are on, wasm is the active backend,
 * every tensor is float32 on it, and each parameter and moment owns its memory (reference count 1: nothing else
 * shares the data being overwritten). Returns whether the update was applied.
 */
export function nativeAdamW(slots: AdamWSlot[], h: AdamWHyper): boolean {
  const addon = loadAddon();
  if (!nativeKernelsEnabled() || !addon || tf.getBackend() !== 'wasm') return false;
  const backend = tf.backend() as unknown as WasmBackend;
  const offs = { p: [] as number[], g: [] as number[], m: [] as number[], v: [] as number[] };
  const sizes: number[] = [];
  for (const s of slots) {
    const ds = [s.param, s.grad, s.m, s.v].map((t) =>
      t.dtype === 'float32' ? backend.dataIdMap.get(t.dataId) : undefined,
    );
    if (ds.some((d) => !d) || ds[0]!.refCount !== 1 || ds[2]!.refCount !== 1 || ds[3]!.refCount !== 1) return false;
    // never write what is read
    if (new Set([s.param.dataId, s.grad.dataId, s.m.dataId, s.v.dataId]).size !== 4) return false;
    if (s.grad.size !== s.param.size || s.m.size !== s.param.size || s.v.size !== s.param.size) return false;
    offs.p.push(ds[0]!.memoryOffset);
    offs.g.push(ds[1]!.memoryOffset);
    offs.m.push(ds[2]!.memoryOffset);
    offs.v.push(ds[3]!.memoryOffset);
    sizes.push(s.param.size);
  }
  const heap = heapOf(backend);
  // the global gradient norm is one more pass over every gradient: only when clipping needs it
  const scale =
    h.clipNorm > 0 ? Math.min(1, h.clipNorm / (Math.sqrt(addon.sumSquares(heap, offs.g, sizes)) + 1e-6)) : 1;
  const decays = slots.map((s) => s.decay);
  addon.adamw(heap, offs.p, offs.g, offs.m, offs.v, sizes, decays, h.lr, h.beta1, h.beta2, h.eps, h.c1, h.c2, scale);
  return true;
}
