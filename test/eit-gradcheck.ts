import * as tf from '@tensorflow/tfjs';
import { expect } from 'vitest';
import { type ClassifierModel, createModel } from '../src/models';
import { makeCtx, type Param } from '../src/nn/module';

/** Central finite differences of loss(model) against tf.grads for a few entries of the given parameters. */
export function checkGradients(
  model: ClassifierModel,
  x: tf.Tensor4D,
  params: Array<[string, Param]>,
  entries = 3,
  eps = 3e-3,
) {
  const r = tf.randomNormal([x.shape[0], model.config.numClasses], 0, 1, 'float32', 11);
  const loss = () =>
    tf.tidy(
      () =>
        model
          .forward(x, makeCtx({ training: false }))
          .mul(r)
          .sum() as tf.Scalar,
    );
  const vars = params.map(([, p]) => p.value);
  const { grads } = tf.variableGrads(loss, vars);
  const rows: Array<{ name: string; analytic: number; numeric: number }> = [];
  for (const [name, p] of params) {
    const g = grads[p.value.name].dataSync();
    const base = p.value.dataSync().slice();
    // the largest-gradient entries: finite differences are informative there
    const idx = Array.from(g.keys())
      .sort((a, b) => Math.abs(g[b]) - Math.abs(g[a]))
      .slice(0, entries);
    for (const i of idx) {
      const at = (d: number) => {
        const v = base.slice();
        v[i] += d;
        p.value.assign(tf.tensor(v, p.value.shape));
        const l = loss();
        const s = l.dataSync()[0];
        l.dispose();
        return s;
      };
      const numeric = (at(eps) - at(-eps)) / (2 * eps);
      p.value.assign(tf.tensor(base, p.value.shape));
      rows.push({ name, analytic: g[i], numeric });
    }
  }
  tf.dispose(Object.values(grads));
  r.dispose();
  return rows;
}

/**
 * Six Adam steps in training mode on a fixed batch: the loss falls and `tf.memory().numTensors` stays flat after
 * the optimiser's state exists (step 2 on).
 */
export function expectTrainsWithFlatTensorCount(name: string): void {
  const m = createModel(name, {}, { seed: 1 });
  const opt = tf.train.adam(1e-2);
  const x = tf.randomNormal([4, 8, 8, 3], 0, 1, 'float32', 2) as tf.Tensor4D;
  const y = tf.oneHot(tf.tensor1d([0, 1, 2, 3], 'int32'), 10);
  const losses: number[] = [];
  let count = -1;
  for (let step = 0; step < 6; step++) {
    const l = opt.minimize(
      () => tf.losses.softmaxCrossEntropy(y, m.forward(x, makeCtx({ training: true, seed: step }))) as tf.Scalar,
      true,
      m.trainableVariables(),
    )!;
    losses.push(l.dataSync()[0]);
    l.dispose();
    if (step === 1) count = tf.memory().numTensors;
    if (step > 1) expect(tf.memory().numTensors).toBe(count);
  }
  expect(losses[5]).toBeLessThan(losses[0]);
  opt.dispose();
  tf.dispose([x, y]);
  m.dispose();
}
