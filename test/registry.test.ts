import { describe, it, expect } from 'vitest';
import * as tf from '@tensorflow/tfjs';
import { initBackend } from '../src/backend';
import { listModels, createModel, type ClassifierModel } from '../src/models';
import { makeCtx } from '../src/nn/module';
import { Rng } from '../src/util/rng';

/**
 * Registry-wide checks, timm style: every model tagged 'test' (each family registers tiny ones) is exercised here,
 * so a new model is tested by being registered.
 */
const TEST_MODELS = listModels({ tag: 'test' }).map((m) => m.name);

function input(m: ClassifierModel, batch = 2): tf.Tensor4D {
  const { imageSize: s, inChannels: c } = m.config;
  const rng = new Rng(7);
  const data = Float32Array.from({ length: batch * s * s * c }, () => rng.normal());
  return tf.tensor4d(data, [batch, s, s, c]);
}

/** A scalar objective with a fixed random projection of the logits (eval mode: deterministic). */
function objective(m: ClassifierModel, x: tf.Tensor4D, proj: tf.Tensor2D): tf.Scalar {
  return m
    .forward(x, makeCtx({ training: false, seed: 1 }))
    .mul(proj)
    .sum() as tf.Scalar;
}

function gradsOf(m: ClassifierModel, x: tf.Tensor4D, proj: tf.Tensor2D): Map<string, Float32Array> {
  const params = m.namedParams().filter(([, p]) => p.trainable);
  const byVar = new Map(params.map(([k, p]) => [p.value.name, k]));
  const out = new Map<string, Float32Array>();
  tf.tidy(() => {
    const { grads } = tf.variableGrads(
      () => objective(m, x, proj),
      params.map(([, p]) => p.value),
    );
    for (const [vn, g] of Object.entries(grads)) out.set(byVar.get(vn)!, g.dataSync() as Float32Array);
  });
  return out;
}

describe('every registered model', () => {
  it('has at least one tiny test variant per family', () => {
    const families = new Set(listModels().map((m) => m.family.family));
    const tested = new Set(listModels({ tag: 'test' }).map((m) => m.family.family));
    expect([...families].filter((f) => !tested.has(f))).toEqual([]);
  });

  it('has a config that validates and a closed-form parameter count equal to the built model', () => {
    for (const entry of listModels()) {
      const m = createModel(entry.name, {}, { build: false });
      const closed = entry.family.closedFormParams;
      expect(closed, `${entry.family.family} has no closedFormParams`).toBeTypeOf('function');
      expect(m.paramCount(), entry.name).toBe(closed!(m.config));
    }
  });
});

describe.each(TEST_MODELS)('%s', (name) => {
  it('forward and backward on cpu and wasm agree; gradients match finite differences; no tensor leaks', async () => {
    const results: Record<string, { logits: Float32Array; grads: Map<string, Float32Array> }> = {};
    for (const backend of ['cpu', 'wasm'] as const) {
      await initBackend(backend);
      const m = createModel(name, {}, { seed: 11 });
      const x = input(m);
      const k = m.config.numClasses;
      const proj = tf.tensor2d(
        Float32Array.from({ length: 2 * k }, (_, i) => Math.sin(i + 1)),
        [2, k],
      );
      const before = tf.memory().numTensors;
      const logits = tf.tidy(() => m.forward(x, makeCtx({ training: false })).dataSync() as Float32Array);
      // one training-mode forward too (dropout, router noise, BN batch statistics paths)
      tf.tidy(() => {
        const ctx = makeCtx({ training: true, seed: 3 });
        const y = m.forward(x, ctx);
        expect(y.shape).toEqual([2, k]);
        expect(Array.from(y.dataSync()).every(Number.isFinite)).toBe(true);
      });
      const grads = gradsOf(m, x, proj);
      expect(tf.memory().numTensors).toBe(before);
      expect(logits.length).toBe(2 * k);
      expect(Array.from(logits).every(Number.isFinite)).toBe(true);
      for (const [path, g] of grads) expect(Array.from(g).every(Number.isFinite), `${backend} grad ${path}`).toBe(true);
      results[backend] = { logits, grads };
      if (backend === 'cpu') {
        // finite differences (central, float32) on a few entries of three parameters, on the pure-JS backend
        // parameters unused in eval mode (e.g. router noise weights) have no gradient here
        const params = m.namedParams().filter(([k, p]) => p.trainable && grads.has(k));
        const picks = [params[0], params[Math.floor(params.length / 2)], params[params.length - 1]];
        for (const [path, p] of picks) {
          const g = grads.get(path)!;
          const vals = p.value.dataSync().slice() as Float32Array;
          for (const idx of [0, Math.floor(vals.length / 2)]) {
            const eps = 1e-2;
            const f = (delta: number) => {
              const v = vals.slice();
              v[idx] += delta;
              tf.tidy(() => p.value.assign(tf.tensor(v, p.shape as number[])));
              return tf.tidy(() => objective(m, x, proj).dataSync()[0]);
            };
            const num = (f(eps) - f(-eps)) / (2 * eps);
            tf.tidy(() => p.value.assign(tf.tensor(vals, p.shape as number[])));
            expect(Math.abs(num - g[idx]), `${name} ${path}[${idx}] analytic ${g[idx]} vs numeric ${num}`).toBeLessThan(
              2e-2 * Math.max(1, Math.abs(num)),
            );
          }
        }
      }
      m.dispose();
      x.dispose();
      proj.dispose();
    }
    const [a, b] = [results.cpu, results.wasm];
    const maxDiff = Math.max(...a.logits.map((v, i) => Math.abs(v - b.logits[i])));
    expect(maxDiff).toBeLessThan(1e-3);
    const errors = [...a.grads].map(([path, g]) => {
      const h = b.grads.get(path)!;
      const scale = Math.max(1e-3, ...g.map(Math.abs));
      return { path, rel: Math.max(...g.map((v, i) => Math.abs(v - h[i]))) / scale };
    });
    expect(errors.filter((e) => !(e.rel < 1e-3))).toEqual([]);
  });
});
