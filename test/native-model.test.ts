import { describe, it, expect, beforeAll, afterAll } from 'vitest';
import * as tf from '@tensorflow/tfjs';
import { initBackend } from '../src/backend';
import { enableNativeKernels, disableNativeKernels, nativeStatus } from '../src/backend/native';
import { createModel, listModels } from '../src/models';
import { makeCtx } from '../src/nn/module';
import { Rng } from '../src/util/rng';

/**
 * Whole-model checks of the native kernels: the same training run (same seed, data, Adam) with native kernels on
 * and off gives the same losses, and a long run keeps the tensor count and the wasm heap flat.
 */

let available = false;
beforeAll(async () => {
  await initBackend('wasm');
  available = enableNativeKernels().enabled;
  if (!available) console.warn(`native whole-model tests skipped: ${nativeStatus().reason}`);
});

afterAll(() => {
  if (available) enableNativeKernels();
});

function batch(name: string, n: number): { x: tf.Tensor4D; y: tf.Tensor2D } {
  const c = createModel(name, {}, { build: false }).config;
  const rng = new Rng(7);
  const x = new Float32Array(n * c.imageSize * c.imageSize * c.inChannels).map(() => rng.normal());
  const y = Int32Array.from({ length: n }, (_, i) => (i * 3) % c.numClasses);
  return {
    x: tf.tensor4d(x, [n, c.imageSize, c.imageSize, c.inChannels]),
    y: tf.tidy(() => tf.oneHot(tf.tensor1d(y, 'int32'), c.numClasses) as tf.Tensor2D),
  };
}

/** Losses of `steps` Adam steps (lr 1e-3) from seed 0 on a fixed batch. */
function train(name: string, steps: number, n: number): number[] {
  const model = createModel(name, {}, { seed: 0 });
  const { x, y } = batch(name, n);
  const opt = tf.train.adam(1e-3);
  const vars = model.trainableVariables();
  const losses: number[] = [];
  for (let i = 0; i < steps; i++) {
    const l = opt.minimize(
      () => {
        const ctx = makeCtx({ training: true, seed: i });
        let loss = tf.losses.softmaxCrossEntropy(y, model.forward(x, ctx)) as tf.Scalar;
        for (const a of ctx.aux) loss = loss.add(a.value);
        return loss;
      },
      true,
      vars,
    )!;
    losses.push(l.dataSync()[0]);
    l.dispose();
  }
  opt.dispose();
  model.dispose();
  x.dispose();
  y.dispose();
  return losses;
}

function compare(name: string, steps: number, n: number, tol: number): { off: number[]; on: number[] } {
  disableNativeKernels();
  const off = train(name, steps, n);
  enableNativeKernels();
  const on = train(name, steps, n);
  for (let i = 0; i < steps; i++) expect(Math.abs(on[i] - off[i]), `${name} step ${i}: native ${on[i]} vs wasm ${off[i]}`).toBeLessThanOrEqual(tol * Math.max(1, Math.abs(off[i])));
  // the run trains at all (the comparison is not between two constants)
  expect(off[steps - 1]).not.toBe(off[0]);
  return { off, on };
}

describe('native kernels, whole models', () => {
  it('bench-vit: losses of 20 Adam steps match plain wasm', (ctx) => {
    if (!available) ctx.skip();
    const { off, on } = compare('bench-vit', 20, 8, 1e-3);
    console.log(`bench-vit loss after 20 steps: wasm ${off[19]}, native ${on[19]}`);
  }, 400_000);

  it('vit: losses of 20 Adam steps match plain wasm', (ctx) => {
    if (!available) ctx.skip();
    const { off, on } = compare('vit', 20, 1, 1e-3);
    console.log(`vit loss after 20 steps: wasm ${off[19]}, native ${on[19]}`);
  }, 400_000);

  it("every registered 'test' model: 3 steps match plain wasm", (ctx) => {
    if (!available) ctx.skip();
    const names = listModels({ tag: 'test' }).map((m) => m.name);
    expect(names.length).toBeGreaterThan(0);
    for (const name of names) compare(name, 3, 2, 1e-3);
  }, 400_000);

  it('no leaks: 200 steps keep tensor count, tf bytes and the wasm heap flat', (ctx) => {
    if (!available) ctx.skip();
    enableNativeKernels();
    const heap = () => (tf.findBackend('wasm') as unknown as { wasm: { HEAPU8: Uint8Array } }).wasm.HEAPU8.byteLength;
    const model = createModel('vit-tiny-test', {}, { seed: 0 });
    const { x, y } = batch('vit-tiny-test', 4);
    const opt = tf.train.adam(1e-3);
    const vars = model.trainableVariables();
    const step = () => {
      const l = opt.minimize(() => tf.losses.softmaxCrossEntropy(y, model.forward(x, makeCtx({ training: true }))) as tf.Scalar, true, vars)!;
      l.dispose();
    };
    for (let i = 0; i < 10; i++) step();
    const before = { n: tf.memory().numTensors, bytes: tf.memory().numBytes, heap: heap() };
    for (let i = 0; i < 200; i++) step();
    expect(tf.memory().numTensors).toBe(before.n);
    expect(tf.memory().numBytes).toBe(before.bytes);
    expect(heap()).toBe(before.heap);
    opt.dispose();
    model.dispose();
    x.dispose();
    y.dispose();
  }, 400_000);
});
