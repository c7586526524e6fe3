import { describe, it, expect, beforeAll } from 'vitest';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import * as tf from '@tensorflow/tfjs';
import { initBackend } from '../src/backend';
import { createModel } from '../src/models';
import { Param, init, makeCtx, type Ctx } from '../src/nn/module';
import { prepareBatch } from '../src/data/augment';
import { Rng } from '../src/util/rng';
import { AdamW, cosineWithWarmup, clipByGlobalNorm } from '../src/train/optim';
import { crossEntropy, topkCorrect } from '../src/train/losses';
import { train, evaluate } from '../src/train/trainer';
import { defaultRecipe } from '../src/train/recipes';
import { saveCheckpoint, loadCheckpoint, readCheckpoint } from '../src/train/checkpoint';
import { DivergenceError, DataError } from '../src/util/errors';
import type { Recipe } from '../src/train/types';
import { tinyDataset } from './helpers/tiny-data';

const tmp = () => fs.mkdtempSync(path.join(os.tmpdir(), 'lightvit-train-'));
const recipe = (over: Partial<Recipe> = {}): Recipe => ({
  ...defaultRecipe('smoke'),
  epochs: 2,
  batchSize: 8,
  maxStepsPerEpoch: 0,
  trainSubset: 0,
  maxEvalImages: 0,
  warmupEpochs: 0.5,
  lr: 3e-3,
  ...over,
});

beforeAll(async () => {
  await initBackend('wasm');
});

describe('optimiser and schedule (golden values)', () => {
  it('AdamW step equals the hand-computed torch.optim.AdamW update, decay only where flagged', () => {
    const w = new Param([2, 2], init.constant(1));
    const b = new Param([2], init.constant(1));
    w.materialize(null as never);
    b.materialize(null as never);
    const opt = new AdamW(
      [
        ['w', w],
        ['b', b],
      ],
      { weightDecay: 0.1 },
    );
    tf.tidy(() =>
      opt.apply(
        new Map([
          ['w', tf.fill([2, 2], 0.5)],
          ['b', tf.fill([2], 0.5)],
        ]),
        0.01,
      ),
    );
    // step 1: m̂ = g, v̂ = g², update = g/(|g|+eps) ≈ 1; w: 1·(1 − 0.01·0.1) − 0.01 = 0.989; b (no decay): 0.99
    expect(w.value.dataSync()[0]).toBeCloseTo(0.989, 6);
    expect(b.value.dataSync()[0]).toBeCloseTo(0.99, 6);
    tf.tidy(() =>
      opt.apply(
        new Map([
          ['w', tf.fill([2, 2], -0.5)],
          ['b', tf.fill([2], -0.5)],
        ]),
        0.01,
      ),
    );
    // step 2: m = 0.9·0.05 + 0.1·(−0.5) = −0.005 → m̂ = −0.005/0.19; v = 0.999·2.5e-4 + 0.001·0.25 = 5e-4 → v̂ =
    // 5e-4/0.001999
    const mhat = -0.005 / 0.19;
    const vhat = 5e-4 / (1 - 0.999 ** 2);
    const upd = mhat / (Math.sqrt(vhat) + 1e-8);
    expect(b.value.dataSync()[0]).toBeCloseTo(0.99 - 0.01 * upd, 6);
    expect(w.value.dataSync()[0]).toBeCloseTo(0.989 * (1 - 0.001) - 0.01 * upd, 6);
    opt.dispose();
    w.dispose();
    b.dispose();
  });

  it('cosine with linear warm-up', () => {
    expect(cosineWithWarmup(0, 100, 10, 1, 0)).toBeCloseTo(0.1);
    expect(cosineWithWarmup(9, 100, 10, 1, 0)).toBeCloseTo(1);
    expect(cosineWithWarmup(10, 100, 10, 1, 0)).toBeCloseTo(1);
    expect(cosineWithWarmup(55, 100, 10, 1, 0)).toBeCloseTo(0.5);
    expect(cosineWithWarmup(100, 100, 10, 1, 0.1)).toBeCloseTo(0.1);
  });

  it('global-norm clipping scales to the bound and leaves small gradients alone', () => {
    tf.tidy(() => {
      const g = new Map([
        ['a', tf.tensor([3, 0])],
        ['b', tf.tensor([4])],
      ]);
      const { grads, norm } = clipByGlobalNorm(g, 1);
      expect(norm.dataSync()[0]).toBeCloseTo(5);
      expect(Array.from(grads.get('a')!.dataSync())[0]).toBeCloseTo(0.6, 4);
      expect(grads.get('b')!.dataSync()[0]).toBeCloseTo(0.8, 4);
      const small = clipByGlobalNorm(new Map([['a', tf.tensor([0.3, 0.4])]]), 1);
      expect(small.grads.get('a')!.dataSync()[1]).toBeCloseTo(0.4, 5);
    });
  });

  it('label-smoothed cross-entropy and top-k match hand computation', () => {
    tf.tidy(() => {
      const logits = tf.tensor2d([[2, 1, 0]]);
      const lse = Math.log(Math.exp(2) + Math.exp(1) + 1);
      const logp = [2 - lse, 1 - lse, -lse];
      expect(crossEntropy(logits, tf.tensor1d([0], 'int32')).dataSync()[0]).toBeCloseTo(-logp[0], 5);
      const eps = 0.3;
      const q = [1 - eps + eps / 3, eps / 3, eps / 3];
      expect(crossEntropy(logits, tf.tensor1d([0], 'int32'), eps).dataSync()[0]).toBeCloseTo(
        -(q[0] * logp[0] + q[1] * logp[1] + q[2] * logp[2]),
        5,
      );
    });
    const l = new Float32Array([0.1, 0.5, 0.4, 0.9, 0.05, 0.05]);
    expect(topkCorrect(l, 3, [2, 0], 1)).toBe(1);
    expect(topkCorrect(l, 3, [2, 1], 2)).toBe(2);
  });
});

describe('trainer', () => {
  it('learns a learnable task, keeps tensor count flat across steps and epochs, reports history', async () => {
    const ds = tinyDataset(64, 8, 4);
    const model = createModel('vit-mean-test', { numClasses: 4 }, { seed: 1 });
    const counts: number[] = [];
    const res = await train({
      model,
      train: ds,
      test: ds,
      recipe: recipe({ epochs: 6, lr: 1e-2, augment: { cropPadding: 0, flip: false } }),
      seed: 1,
      onProgress: (p) => p.phase === 'train' && counts.push(tf.memory().numTensors),
    });
    expect(res.history).toHaveLength(6);
    expect(res.history[5].trainLoss).toBeLessThan(res.history[0].trainLoss);
    expect(res.final.top1).toBeGreaterThan(0.5); // chance is 0.25
    expect(new Set(counts.slice(2)).size).toBe(1);
    model.dispose();
  });

  it('resume after an interruption (mid-epoch) reproduces an uninterrupted run exactly', async () => {
    const ds = tinyDataset(32, 8, 4);
    const dir = tmp();
    const r = recipe({ epochs: 2 });
    const a = createModel('vit-tiny-test', { numClasses: 4 }, { seed: 2 });
    await train({ model: a, train: ds, recipe: r, seed: 5 });
    const b = createModel('vit-tiny-test', { numClasses: 4 }, { seed: 2 });
    const ck = path.join(dir, 'b.ckpt');
    // interrupt in epoch 2 at step 3; the last checkpoint is the one after step 2 of epoch 2
    const interrupt = (p: { epoch: number; step: number }) => {
      if (p.epoch === 2 && p.step === 3) throw new Error('interrupted');
    };
    await expect(
      train({
        model: b,
        train: ds,
        recipe: r,
        seed: 5,
        checkpoint: ck,
        checkpointEverySteps: 2,
        onProgress: interrupt,
      }),
    ).rejects.toThrow('interrupted');
    const c = createModel('vit-tiny-test', { numClasses: 4 }, { seed: 99 });
    const res = await train({ model: c, train: ds, recipe: r, seed: 5, checkpoint: ck, resume: true });
    expect(res.resumedFrom).toEqual({ epoch: 1, stepInEpoch: 2 });
    const pc = new Map(c.namedParams());
    for (const [k, p] of a.namedParams())
      expect(Array.from(pc.get(k)!.value.dataSync())).toEqual(Array.from(p.value.dataSync()));
    expect(res.history.map((h) => h.epoch)).toEqual([1, 2]);
    [a, b, c].forEach((m) => m.dispose());
  });

  it('a NaN loss stops the run with a clear error and keeps the last good checkpoint', async () => {
    const ds = tinyDataset(32, 8, 4);
    const dir = tmp();
    const ck = path.join(dir, 'nan.ckpt');
    const m = createModel('vit-tiny-test', { numClasses: 4 }, { seed: 3 });
    let calls = 0;
    const lossFn = (model: typeof m, x: tf.Tensor4D, y: tf.Tensor1D, ctx: Ctx) => {
      calls++;
      const l = crossEntropy(model.forward(x, ctx), y);
      return (calls > 4 ? l.mul(NaN) : l) as tf.Scalar;
    };
    await expect(
      train({ model: m, train: ds, recipe: recipe({ epochs: 3 }), seed: 1, checkpoint: ck, lossFn }),
    ).rejects.toThrow(DivergenceError);
    await expect(
      train({ model: m, train: ds, recipe: recipe({ epochs: 3 }), seed: 1, checkpoint: ck, lossFn, resume: true }),
    ).rejects.toThrow(/loss is NaN.*last good checkpoint of this run is kept at .*nan\.ckpt/);
    const meta = readCheckpoint(ck).meta;
    expect(meta.epoch).toBe(1); // 4 steps per epoch: epoch 1 completed before the NaN
    m.dispose();
  });

  it(
    'a checkpoint that does not fit the model lists what is ' + 'missing and unexpected; a truncated one names sizes',
    () => {
      const dir = tmp();
      const a = createModel('vit-tiny-test', {}, { seed: 1 });
      const file = path.join(dir, 'a.ckpt');
      saveCheckpoint(file, a, { model: 'vit-tiny-test' });
      const b = createModel('vit-tiny-test', { depth: 3 }, { seed: 1 });
      expect(() => loadCheckpoint(file, b)).toThrow(/missing in checkpoint: blocks\.2\./);
      const c = createModel('vit-tiny-test', { depth: 1 }, { seed: 1 });
      expect(() => loadCheckpoint(file, c)).toThrow(/unexpected in checkpoint: blocks\.1\./);
      const bytes = fs.readFileSync(file);
      fs.writeFileSync(file, bytes.subarray(0, bytes.length - 10));
      expect(() => readCheckpoint(file)).toThrow(DataError);
      expect(() => readCheckpoint(file)).toThrow(/is \d[\d,]* bytes; expected [\d,]+/);
      [a, b, c].forEach((m) => m.dispose());
    },
  );

  it('evaluate gives the top-1 and top-5 of the model logits and a confusion matrix of their argmax', () => {
    // 10 classes, so top-5 is not 1 by construction; the reference ranks the logits of one plain forward pass
    const ds = tinyDataset(30, 8, 10);
    const m = createModel('vit-tiny-test', { numClasses: 10 }, { seed: 1 });
    const r = evaluate(m, ds, { confusion: true, batchSize: 7 });
    const all = Array.from({ length: 30 }, (_, i) => i);
    const b = prepareBatch(ds, Int32Array.from(all), { augment: null, targetSize: 8, rng: new Rng(0) });
    const logits = tf.tidy(() => m.forward(tf.tensor4d(b.x, b.shape), makeCtx({ training: false })).arraySync());
    const rank = (row: number[], label: number) => row.filter((v) => v > row[label]).length;
    const top1 = all.filter((i) => rank(logits[i], b.labels[i]) === 0).length;
    const top5 = all.filter((i) => rank(logits[i], b.labels[i]) < 5).length;
    expect(r.n).toBe(30);
    expect([r.top1 * 30, r.top5 * 30].map(Math.round)).toEqual([top1, top5]);
    expect(top5).toBeLessThan(30);
    expect(r.confusion!.flat().reduce((s, v) => s + v, 0)).toBe(30);
    expect(r.confusion!.reduce((s, row, i) => s + row[i], 0)).toBe(top1);
    ds.labels.forEach((y, _i) =>
      expect(r.confusion![y].reduce((s, v) => s + v, 0)).toBe(ds.labels.filter((l) => l === y).length),
    );
    m.dispose();
  });
});
