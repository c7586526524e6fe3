/**
 * Every registered test model trains on wasm (with the kernels of src/backend/kernels.ts) and its gradients match the
 * pure-JS cpu backend. Errors are relative to the largest gradient entry of the whole model: a parameter whose
 * gradient is ~1e-9 differs between two float32 backends by rounding alone.
 */
import { describe, it, expect, beforeAll, afterAll } from 'vitest';
import * as tf from '@tensorflow/tfjs';
import { initBackend } from '../src/backend';
import { listModels, createModel } from '../src/models';
import { makeCtx } from '../src/nn/module';

const TOL = 1e-4;
const measured: string[] = [];

afterAll(() =>
  console.log(`max gradient error wasm vs cpu (relative to the model's largest gradient):\n${measured.join('\n')}`),
);

beforeAll(async () => {
  process.env.LIGHTVIT_NATIVE = '0';
  await initBackend('wasm');
});

interface Step {
  loss: number;
  grads: Map<string, Float32Array>;
}

describe('registered test models: wasm gradients equal cpu gradients', () => {
  for (const entry of listModels({ tag: 'test' })) {
    it(entry.name, async () => {
      await tf.setBackend('wasm');
      const model = createModel(entry.name);
      const cfg = model.config as { imageSize: number; inChannels?: number; numClasses: number };
      const shape = [2, cfg.imageSize, cfg.imageSize, cfg.inChannels ?? 3] as [number, number, number, number];
      const xs = Float32Array.from({ length: shape.reduce((a, b) => a * b, 1) }, (_, i) => Math.sin(i * 0.37) * 1.5);
      const named = model.namedParams().filter(([, p]) => p.trainable);
      const step = async (backend: 'wasm' | 'cpu'): Promise<Step> => {
        await tf.setBackend(backend);
        const before = tf.memory().numTensors;
        const x = tf.tensor4d(xs, shape);
        const labels = tf.tensor1d([0, 1 % cfg.numClasses], 'int32');
        const { value, grads } = tf.variableGrads(
          () => {
            const ctx = makeCtx({ training: true, seed: 3, targets: { labels, coarse: labels } });
            const logits = model.forward(x, ctx) as tf.Tensor;
            let loss = tf.losses.softmaxCrossEntropy(tf.oneHot(labels, logits.shape[1]!), logits) as tf.Scalar;
            for (const a of ctx.aux) loss = loss.add(a.value);
            return loss;
          },
          named.map(([, p]) => p.value),
        );
        const out: Step = { loss: value.dataSync()[0], grads: new Map() };
        // a parameter the loss does not reach in this pass (an unused expert, a frozen branch) has no gradient
        for (const [name, p] of named) {
          const g = grads[p.value.name];
          if (g) out.grads.set(name, Float32Array.from(g.dataSync()));
        }
        tf.dispose([value, x, labels, ...Object.values(grads)]);
        expect(tf.memory().numTensors).toBe(before);
        return out;
      };
      const got = await step('wasm');
      const want = await step('cpu');
      await tf.setBackend('wasm');
      model.dispose();
      expect(Math.abs(got.loss - want.loss)).toBeLessThanOrEqual(1e-5 * Math.max(1, Math.abs(want.loss)));
      expect([...got.grads.keys()]).toEqual([...want.grads.keys()]);
      expect(want.grads.size).toBeGreaterThan(0);
      let scale = 1e-12;
      for (const g of want.grads.values()) for (const v of g) scale = Math.max(scale, Math.abs(v));
      let worst = 0;
      let where = '';
      for (const [name, g] of want.grads) {
        const h = got.grads.get(name)!;
        for (let i = 0; i < g.length; i++) {
          const e = Math.abs(h[i] - g[i]) / scale;
          if (!(e <= worst)) {
            worst = e;
            where = name;
          }
        }
      }
      measured.push(`  ${entry.name.padEnd(20)} ${worst.toExponential(2)} (${where})`);
      expect(worst, `worst at ${where}`).toBeLessThanOrEqual(TOL);
    });
  }
});
