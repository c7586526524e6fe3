import { describe, it, expect, beforeAll, afterAll } from 'vitest';
import * as crypto from 'node:crypto';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import * as tf from '@tensorflow/tfjs';
import { initBackend } from '../src/backend';
import { generateSynth, ensureSynth, SYNTH_SHAPES, SYNTH_TEXTURES, SYNTH_SEED, SYNTH_STYLE } from '../src/data/synth';
import { encodeCifar10Records } from '../src/data/cifar';
import { loadDataset, clearDatasetCache, prepareBatch, epochOrder } from '../src/data';
import type { ImageDataset } from '../src/data/types';
import { Rng } from '../src/util/rng';

const GOLDEN_SYNTH10_8 = 'afb45e74124073b0bb69dc64a8203b26';
const md5 = (b: Uint8Array) => crypto.createHash('md5').update(b).digest('hex');

let tmp: string;
beforeAll(async () => {
  tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'lv-synth-'));
  await initBackend('wasm');
});
afterAll(() => fs.rmSync(tmp, { recursive: true, force: true }));

describe('synth generator', () => {
  it('is deterministic: same seed, same bytes; another seed, other bytes', () => {
    const a = generateSynth('synth10', 'train', 64);
    const b = generateSynth('synth10', 'train', 64);
    const c = generateSynth('synth10', 'train', 64, SYNTH_SEED + 1);
    const t = generateSynth('synth10', 'test', 64);
    expect(md5(a.images)).toBe(md5(b.images));
    expect(Array.from(a.labels)).toEqual(Array.from(b.labels));
    expect(md5(c.images)).not.toBe(md5(a.images));
    expect(md5(t.images)).not.toBe(md5(a.images));
    // pinned: a change of these bytes is a new generator version (bump SYNTH_VERSION so stored data regenerate)
    expect(md5(generateSynth('synth10', 'train', 8).images)).toBe(GOLDEN_SYNTH10_8);
  });

  it('writes CIFAR-format files once, atomically, that the CIFAR readers load', async () => {
    const dataDir = path.join(tmp, 'data');
    const { root, manifest } = ensureSynth(dataDir, 'synth10');
    expect(manifest.files.train.map((f) => f.records)).toEqual([2000, 2000, 2000, 2000, 2000]);
    expect(fs.readdirSync(dataDir).filter((n) => n.startsWith('.'))).toEqual([]); // no temp folder left
    const first = fs.statSync(path.join(root, 'manifest.json')).mtimeMs;
    ensureSynth(dataDir, 'synth10'); // second call: nothing rewritten
    expect(fs.statSync(path.join(root, 'manifest.json')).mtimeMs).toBe(first);
    // the stored bytes are exactly the generator's, in CIFAR-10 record layout
    const gen = generateSynth('synth10', 'train', 10_000, SYNTH_SEED, SYNTH_STYLE, [4000, 6000]);
    const batch3 = fs.readFileSync(path.join(root, 'cifar-10-batches-bin', 'data_batch_3.bin'));
    expect(md5(batch3)).toBe(md5(encodeCifar10Records(gen.images, gen.labels, 4000, 2000)));

    clearDatasetCache();
    const train = await loadDataset('synth10', 'train', { dataDir });
    const test = await loadDataset('synth10', 'test', { dataDir });
    expect(train.labels.length).toBe(10_000);
    expect(test.labels.length).toBe(2_000);
    expect(train.synthetic).toBe(true);
    expect(md5(train.images.subarray(4000 * 3072, 6000 * 3072))).toBe(
      md5(gen.images.subarray(4000 * 3072, 6000 * 3072)),
    );
    expect(Array.from(train.labels)).toEqual(Array.from(gen.labels));
    expect(train.classNames).toEqual([
      'striped disk',
      'dotted square',
      'plain triangle',
      'checkered plus',
      'grid star',
      'plain ring',
      'striped heart',
      'checkered crescent',
      'dotted bar',
      'grid hourglass',
    ]);
    // class balance: exactly 1,000 train and 200 test images per class
    for (const [ds, per] of [
      [train, 1000],
      [test, 200],
    ] as const) {
      const counts = new Array(10).fill(0);
      ds.labels.forEach((y) => counts[y]++);
      expect(counts).toEqual(new Array(10).fill(per));
    }
    // normalisation constants are the train split's own statistics
    for (let c = 0; c < 3; c++) {
      let s = 0;
      for (let i = c; i < train.images.length; i += 3) s += train.images[i];
      expect(train.mean[c]).toBeCloseTo(s / (train.images.length / 3) / 255, 3);
    }
  });

  it('synth100: 20 shape super-classes × 5 textures, balanced, with coarse labels and names', async () => {
    const dataDir = path.join(tmp, 'data');
    clearDatasetCache();
    const ds = await loadDataset('synth100', 'test', { dataDir });
    expect(ds.labels.length).toBe(4_000);
    expect(ds.numClasses).toBe(100);
    expect(ds.numCoarse).toBe(20);
    expect(ds.coarseNames).toEqual(SYNTH_SHAPES.map((s) => s.name));
    expect(ds.classNames[0]).toBe(`${SYNTH_TEXTURES[0].name} ${SYNTH_SHAPES[0].name}`);
    expect(ds.classNames[99]).toBe('grid c-shape');
    expect(Array.from(ds.fineToCoarse!)).toEqual(Array.from({ length: 100 }, (_, y) => Math.floor(y / 5)));
    const fine = new Array(100).fill(0);
    const coarse = new Array(20).fill(0);
    ds.labels.forEach((y, i) => {
      fine[y]++;
      coarse[ds.coarseLabels![i]]++;
      expect(ds.coarseLabels![i]).toBe(Math.floor(y / 5));
    });
    expect(fine).toEqual(new Array(100).fill(40));
    expect(coarse).toEqual(new Array(20).fill(200));
    const train = await loadDataset('synth100', 'train', { dataDir });
    expect(train.labels.length).toBe(20_000);
  });

  it('colour does not predict the class: per-class mean colours are all close to the global mean', () => {
    const s = generateSynth('synth10', 'train', 2000);
    const sums = Array.from({ length: 10 }, () => [0, 0, 0]);
    const counts = new Array(10).fill(0);
    for (let i = 0; i < 2000; i++) {
      counts[s.labels[i]]++;
      for (let p = 0; p < 1024; p++) for (let c = 0; c < 3; c++) sums[s.labels[i]][c] += s.images[i * 3072 + p * 3 + c];
    }
    const means = sums.map((v, k) => v.map((x) => x / counts[k] / 1024));
    for (const m of means) for (let c = 0; c < 3; c++) expect(Math.abs(m[c] - 127.5)).toBeLessThan(12);
  });
});

// ---------------------------------------------------------------------------------------------------------------
// The property the quick-scale experiments rely on: locality and translation priors matter. A linear softmax
// classifier on raw pixels and a tiny CNN get the same data, optimiser and number of steps.

const N_TRAIN = 2000;
const N_TEST = 500;
const EPOCHS = 3;
const BATCH = 16;

function asDataset(split: 'train' | 'test', n: number): ImageDataset {
  const s = generateSynth('synth10', split, n);
  return {
    name: 'synth10',
    split,
    images: s.images,
    labels: s.labels,
    numClasses: 10,
    imageSize: 32,
    channels: 3,
    classNames: [],
    synthetic: true,
    mean: [0.5, 0.5, 0.5],
    std: [0.28, 0.28, 0.28],
  };
}

function glorot(rng: Rng, fanIn: number, fanOut: number, shape: number[]): tf.Variable {
  const a = Math.sqrt(6 / (fanIn + fanOut));
  const n = shape.reduce((x, y) => x * y, 1);
  return tf.variable(
    tf.tensor(
      Float32Array.from({ length: n }, () => rng.uniform(-a, a)),
      shape,
    ),
  );
}

interface Classifier {
  vars: tf.Variable[];
  forward(x: tf.Tensor4D): tf.Tensor2D;
}

function linearClassifier(rng: Rng): Classifier {
  const w = glorot(rng, 3072, 10, [3072, 10]);
  const b = tf.variable(tf.zeros([10]));
  return { vars: [w, b], forward: (x) => tf.add(tf.matMul(x.reshape([x.shape[0], 3072]), w), b) as tf.Tensor2D };
}

/** conv3×3(16) → relu → maxpool2 → conv3×3(32) → relu → maxpool2 → conv3×3(32) → relu → global mean → linear. */
function tinyCnn(rng: Rng): Classifier {
  const ch = [3, 16, 32, 32];
  const ws = [1, 2, 3].map((k) => glorot(rng, 9 * ch[k - 1], ch[k], [3, 3, ch[k - 1], ch[k]]));
  const bs = [1, 2, 3].map((k) => tf.variable(tf.zeros([ch[k]])));
  const wo = glorot(rng, ch[3], 10, [ch[3], 10]);
  const bo = tf.variable(tf.zeros([10]));
  const conv = (h: tf.Tensor4D, k: number) =>
    tf.relu(tf.add(tf.conv2d(h, ws[k] as tf.Tensor4D, 1, 'same'), bs[k])) as tf.Tensor4D;
  return {
    vars: [...ws, ...bs, wo, bo],
    forward: (x) => {
      let h = tf.maxPool(conv(x, 0), 2, 2, 'valid');
      h = tf.maxPool(conv(h, 1), 2, 2, 'valid');
      h = conv(h, 2);
      return tf.add(tf.matMul(tf.mean(h, [1, 2]) as tf.Tensor2D, wo), bo) as tf.Tensor2D;
    },
  };
}

async function trainAndScore(
  model: Classifier,
  lr: number,
  train: ImageDataset,
  test: ImageDataset,
): Promise<{ top1: number; tensorsGrew: number }> {
  const rng = new Rng(11);
  const opt = tf.train.adam(lr);
  let start = -1;
  for (let e = 0; e < EPOCHS; e++) {
    const order = epochOrder(train.labels.length, rng);
    for (let s = 0; s + BATCH <= order.length; s += BATCH) {
      const b = prepareBatch(train, order.subarray(s, s + BATCH), { augment: null, targetSize: 32, rng });
      tf.tidy(() => {
        const x = tf.tensor4d(b.x, b.shape);
        const y = tf.oneHot(tf.tensor1d(b.labels, 'int32'), 10);
        opt.minimize(() => tf.losses.softmaxCrossEntropy(y, model.forward(x)) as tf.Scalar, false, model.vars);
      });
      if (start < 0) start = tf.memory().numTensors;
      // let the test runner's messages through during the long synchronous loop
      if ((s / BATCH) % 5 === 0) await new Promise((r) => setImmediate(r));
    }
  }
  const tensorsGrew = tf.memory().numTensors - start;
  let correct = 0;
  for (let s = 0; s < test.labels.length; s += 100) {
    const idx = Int32Array.from({ length: Math.min(100, test.labels.length - s) }, (_, i) => s + i);
    const b = prepareBatch(test, idx, { augment: null, targetSize: 32, rng });
    const pred = tf.tidy(() => model.forward(tf.tensor4d(b.x, b.shape)).argMax(1).dataSync());
    pred.forEach((p, i) => (correct += p === b.labels[i] ? 1 : 0));
  }
  model.vars.forEach((v) => v.dispose());
  opt.dispose();
  return { top1: correct / test.labels.length, tensorsGrew };
}

describe('synth10 learnability (wasm)', () => {
  it('a tiny CNN beats a linear classifier on raw pixels by a wide margin', async () => {
    const train = asDataset('train', N_TRAIN);
    const test = asDataset('test', N_TEST);
    const linear = await trainAndScore(linearClassifier(new Rng(5)), 0.001, train, test);
    const cnn = await trainAndScore(tinyCnn(new Rng(5)), 0.003, train, test);
    console.log(
      `synth10, ${N_TRAIN} train images × ${EPOCHS} epochs, ${N_TEST} held out: linear top-1 ` +
        `${linear.top1.toFixed(3)}, tiny CNN top-1 ${cnn.top1.toFixed(3)}`,
    );
    expect(linear.tensorsGrew).toBe(0);
    expect(cnn.tensorsGrew).toBe(0);
    expect(cnn.top1).toBeGreaterThanOrEqual(0.3);
    expect(cnn.top1 - linear.top1).toBeGreaterThanOrEqual(0.15);
  });
});
