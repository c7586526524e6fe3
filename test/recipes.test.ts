import { describe, it, expect, beforeAll } from 'vitest';
import * as fs from 'node:fs';
import * as path from 'node:path';
import * as tf from '@tensorflow/tfjs';
import { initBackend } from '../src/backend';
import { createModel } from '../src/models';
import { Param, init } from '../src/nn/module';
import { Rng } from '../src/util/rng';
import { ops, randAugment, randomErasing, colorJitter, RAND_M9_MSTD05_INC1 } from '../src/data/randaugment';
import type { U8Image } from '../src/data/randaugment';
import { mixBatch, mixTargets, sampleBeta, DEIT_MIXUP } from '../src/data/mixup';
import { prepareBatch, sampleResizedCrop } from '../src/data/augment';
import { Sgd, ModelEma } from '../src/train/optim';
import { crossEntropy, softTargetCrossEntropy } from '../src/train/losses';
import { train, repeatedOrder } from '../src/train/trainer';
import { officialRecipe, defaultRecipe, OFFICIAL_RECIPES } from '../src/train/recipes';
import { tinyDataset } from './helpers/tiny-data';

beforeAll(async () => {
  await initBackend('wasm');
});

/** A 2×2 RGB image with known pixels. */
const img2 = (): U8Image => ({
  data: Uint8Array.from([10, 20, 30, 200, 100, 50, 0, 255, 128, 60, 60, 60]),
  h: 2,
  w: 2,
  c: 3,
});

describe('RandAugment ops on a known image (PIL semantics)', () => {
  it('invert, posterize, solarize, solarize-add', () => {
    let im = img2();
    ops.invert(im);
    expect(Array.from(im.data.slice(0, 3))).toEqual([245, 235, 225]);
    im = img2();
    ops.posterize(im, 2); // keep the top 2 bits: 200 → 192, 100 → 64, 255 → 192, 128 → 128
    expect(Array.from(im.data.slice(3, 9))).toEqual([192, 64, 0, 0, 192, 128]);
    im = img2();
    ops.solarize(im, 128); // values ≥ 128 inverted
    expect(Array.from(im.data.slice(3, 9))).toEqual([55, 100, 50, 0, 0, 127]);
    im = img2();
    ops.solarizeAdd(im, 100); // values < 128 get +100 (clipped)
    expect(Array.from(im.data.slice(0, 9))).toEqual([110, 120, 130, 200, 200, 150, 100, 255, 128]);
  });

  it('brightness, colour (towards grey), contrast (towards mean grey), autocontrast', () => {
    let im = img2();
    ops.brightness(im, 0.5);
    expect(Array.from(im.data.slice(0, 6))).toEqual([5, 10, 15, 100, 50, 25]);
    im = img2();
    ops.color(im, 0); // all grey: L = (299 R + 587 G + 114 B)/1000; pixel 0: 2.99 + 11.74 + 3.42 = 18.15 → 18
    expect(Array.from(im.data.slice(0, 3))).toEqual([18, 18, 18]);
    im = img2();
    ops.contrast(im, 0); // greys 18, 124, 164, 60: mean 91.5 → int(91.5 + 0.5) = 92
    expect(Array.from(new Set(im.data))).toEqual([92]);
    im = img2();
    ops.autoContrast(im); // R: 0..200 → ×255/200, truncated as PIL's lookup table: 12.75 → 12
    expect(im.data[0]).toBe(12);
    expect(im.data[3]).toBe(254); // 200·(255/200) = 254.99999999999997 in double: PIL gives 254 too
    expect(im.data[6]).toBe(0);
  });

  it('equalize spreads a two-level channel to 0 and 255 (identity below 256 pixels, as PIL); translate shifts', () => {
    const big: U8Image = { data: Uint8Array.from({ length: 1024 }, (_, i) => (i < 512 ? 50 : 90)), h: 32, w: 32, c: 1 };
    ops.equalize(big);
    expect([big.data[0], big.data[1023]]).toEqual([0, 255]);
    const small: U8Image = { data: Uint8Array.from([50, 50, 90, 90]), h: 2, w: 2, c: 1 };
    ops.equalize(small); // PIL: step = (4 − 2) // 255 = 0 → unchanged
    expect(Array.from(small.data)).toEqual([50, 50, 90, 90]);
    const row: U8Image = { data: Uint8Array.from([1, 2, 3, 4]), h: 1, w: 4, c: 1 };
    ops.translateX(row, 1, [9]); // PIL offset: output x samples input x + 1
    expect(Array.from(row.data)).toEqual([2, 3, 4, 9]);
  });

  it('every op equals PIL on a 32×32 image, value for value (test/fixtures/pil-ops.json, Pillow 9.4)', () => {
    const fx = JSON.parse(fs.readFileSync(path.join(__dirname, 'fixtures', 'pil-ops.json'), 'utf8')) as {
      size: number;
      fill: number[];
      input: number[];
      ops: Record<string, number[]>;
    };
    const S = fx.size;
    const fill = fx.fill;
    const run: Record<string, (im: U8Image) => void> = {
      invert: (im) => ops.invert(im),
      posterize2: (im) => ops.posterize(im, 2),
      solarize100: (im) => ops.solarize(im, 100),
      solarizeAdd60: (im) => ops.solarizeAdd(im, 60),
      autoContrast: (im) => ops.autoContrast(im),
      equalize: (im) => ops.equalize(im),
      'color0.3': (im) => ops.color(im, 0.3),
      'color1.7': (im) => ops.color(im, 1.7),
      'contrast0.4': (im) => ops.contrast(im, 0.4),
      'contrast1.8': (im) => ops.contrast(im, 1.8),
      'brightness0.5': (im) => ops.brightness(im, 0.5),
      'brightness1.6': (im) => ops.brightness(im, 1.6),
      'sharpness0.2': (im) => ops.sharpness(im, 0.2),
      'sharpness1.9': (im) => ops.sharpness(im, 1.9),
      rotate17: (im) => ops.rotate(im, 17, fill),
      'rotate-25': (im) => ops.rotate(im, -25, fill),
      'shearX0.2': (im) => ops.shearX(im, 0.2, fill),
      'shearY-0.25': (im) => ops.shearY(im, -0.25, fill),
      'translateX5.5': (im) => ops.translateX(im, 5.5, fill),
      'translateY-7': (im) => ops.translateY(im, -7, fill),
    };
    expect(Object.keys(run).sort()).toEqual(Object.keys(fx.ops).sort());
    for (const [name, f] of Object.entries(run)) {
      const im: U8Image = { data: Uint8Array.from(fx.input), h: S, w: S, c: 3 };
      f(im);
      let differ = 0;
      fx.ops[name].forEach((v, i) => (differ += v === im.data[i] ? 0 : 1));
      expect([name, differ]).toEqual([name, 0]);
    }
  });

  it('rotate by 90° turns a 3×3 image exactly', () => {
    const im: U8Image = { data: Uint8Array.from([1, 2, 3, 4, 5, 6, 7, 8, 9]), h: 3, w: 3, c: 1 };
    ops.rotate(im, 90, [0]); // counter-clockwise: the right column becomes the top row
    expect(Array.from(im.data)).toEqual([3, 6, 9, 2, 5, 8, 1, 4, 7]);
  });

  it('randAugment is deterministic given the seed and applies ops with probability ½', () => {
    const base = new Uint8Array(8 * 8 * 3).map((_, i) => (i * 37) % 256);
    const run = (seed: number) => {
      const im = { data: Uint8Array.from(base), h: 8, w: 8, c: 3 };
      const applied = randAugment(im, RAND_M9_MSTD05_INC1, new Rng(seed), [128, 128, 128]);
      return { applied, data: Array.from(im.data) };
    };
    expect(run(5)).toEqual(run(5));
    let count = 0;
    for (let s = 0; s < 200; s++) count += run(s).applied.length;
    expect(count / 400).toBeGreaterThan(0.4);
    expect(count / 400).toBeLessThan(0.6);
  });

  it('colour jitter changes the image and random erasing fills a rectangle with N(0, 1) noise', () => {
    const im = { data: new Uint8Array(4 * 4 * 3).fill(100), h: 4, w: 4, c: 3 };
    colorJitter(im, 0.4, new Rng(1));
    expect(im.data[0]).not.toBe(100);
    const x = new Float32Array(16 * 16 * 3);
    expect(randomErasing(x, 0, 16, 3, { prob: 1 }, new Rng(2))).toBe(true);
    const erased = x.filter((v) => v !== 0).length / 3;
    expect(erased).toBeGreaterThanOrEqual(0.02 * 256 * 0.5);
    expect(erased).toBeLessThanOrEqual(256 / 3 + 16);
    expect(randomErasing(new Float32Array(12), 0, 2, 3, { prob: 0 }, new Rng(2))).toBe(false);
  });
});

describe('mixup / cutmix (timm batch mode)', () => {
  it('soft targets: λ·smooth(y_i) + (1 − λ)·smooth(y_{B−1−i}), rows sum to 1', () => {
    const t = mixTargets(Int32Array.from([0, 2]), 4, 0.7, 0.1);
    // off = 0.025, on = 0.925; row 0 = 0.7·smooth(0) + 0.3·smooth(2): 0.025 + 0.7·0.9, 0.025 + 0.3·0.9
    expect(Array.from(t.slice(0, 4)).map((v) => +v.toFixed(4))).toEqual([0.655, 0.025, 0.295, 0.025]);
    expect(Array.from(t.slice(4, 8)).map((v) => +v.toFixed(4))).toEqual([0.295, 0.025, 0.655, 0.025]);
    expect(t.slice(0, 4).reduce((a, b) => a + b)).toBeCloseTo(1, 6);
  });

  it('mixup blends each image with its mirror; cutmix pastes a box and corrects λ to the box area', () => {
    const n = 3;
    const shape = [n, 4, 4, 1] as const;
    const x0 = Float32Array.from({ length: n * 16 }, (_, i) => Math.floor(i / 16) + 1); // image i is all (i + 1)
    const labels = Int32Array.from([0, 1, 2]);
    const xm = Float32Array.from(x0);
    const mixOnly = { mixupAlpha: 0.8, cutmixAlpha: 0, switchProb: 0, prob: 1 };
    const m = mixBatch(xm, shape, labels, 3, 0, mixOnly, new Rng(3));
    expect(m.kind).toBe('mixup');
    expect(xm[0]).toBeCloseTo(m.lam * 1 + (1 - m.lam) * 3, 5);
    expect(xm[16]).toBeCloseTo(2, 5);
    expect(m.targets[0]).toBeCloseTo(m.lam, 5);
    expect(m.targets[2]).toBeCloseTo(1 - m.lam, 5);
    const xc = Float32Array.from(x0);
    const c = mixBatch(xc, shape, labels, 3, 0, { mixupAlpha: 0, cutmixAlpha: 1, switchProb: 0, prob: 1 }, new Rng(4));
    expect(c.kind).toBe('cutmix');
    const [y0, y1, x0b, x1] = c.box!;
    const pasted = xc.slice(0, 16).filter((v) => v === 3).length;
    expect(pasted).toBe((y1 - y0) * (x1 - x0b));
    expect(c.lam).toBeCloseTo(1 - pasted / 16, 6);
    expect(c.targets[0]).toBeCloseTo(c.lam, 5);
  });

  it('Beta(0.8, 0.8) samples have the right mean and variance (1/(4(2α+1)))', () => {
    const rng = new Rng(9);
    const xs = Array.from({ length: 20000 }, () => sampleBeta(0.8, 0.8, rng));
    const mean = xs.reduce((a, b) => a + b) / xs.length;
    const v = xs.reduce((a, b) => a + (b - mean) ** 2, 0) / xs.length;
    expect(mean).toBeCloseTo(0.5, 1);
    expect(v).toBeGreaterThan(0.0962 * 0.93);
    expect(v).toBeLessThan(0.0962 * 1.07);
  });

  it('soft-target cross-entropy equals label-smoothed cross-entropy on unmixed targets', () => {
    const logits = tf.tensor2d([
      [1, 2, 0.5],
      [0.1, -1, 2],
    ]);
    const t = tf.tensor2d(mixTargets(Int32Array.from([1, 2]), 3, 1, 0.1), [2, 3]);
    const a = softTargetCrossEntropy(logits, t).dataSync()[0];
    const b = crossEntropy(logits, tf.tensor1d([1, 2], 'int32'), 0.1).dataSync()[0];
    expect(a).toBeCloseTo(b, 6);
  });
});

describe('SGD and the model EMA', () => {
  it('SGD with momentum matches torch.optim.SGD (coupled weight decay, buffer = g at step 1)', () => {
    const w = new Param([2, 2], init.constant(1));
    w.materialize(null as never);
    const opt = new Sgd([['w', w]], { momentum: 0.9, weightDecay: 0.1 });
    tf.tidy(() => opt.apply(new Map([['w', tf.fill([2, 2], 0.5)]]), 0.1));
    // g = 0.5 + 0.1·1 = 0.6; b = 0.6; w = 1 − 0.06 = 0.94
    expect(w.value.dataSync()[0]).toBeCloseTo(0.94, 6);
    tf.tidy(() => opt.apply(new Map([['w', tf.fill([2, 2], 0.5)]]), 0.1));
    // g = 0.5 + 0.094 = 0.594; b = 0.54 + 0.594 = 1.134; w = 0.94 − 0.1134 = 0.8266
    expect(w.value.dataSync()[0]).toBeCloseTo(0.8266, 6);
    opt.dispose();
    w.dispose();
  });

  it('EMA update e ← d·e + (1 − d)·p; evaluateWith swaps the average in and restores the weights', () => {
    const p = new Param([3], init.constant(2));
    p.materialize(null as never);
    const ema = new ModelEma([['p', p]], 0.9);
    tf.tidy(() => p.value.assign(tf.fill([3], 4)));
    ema.update();
    expect(ema.value('p')!.dataSync()[0]).toBeCloseTo(0.9 * 2 + 0.1 * 4, 6);
    const seen = ema.evaluateWith(() => p.value.dataSync()[0]);
    expect(seen).toBeCloseTo(2.2, 6);
    expect(p.value.dataSync()[0]).toBe(4);
    expect(() => new ModelEma([], 1)).toThrow(/expected 0 < decay < 1/);
    ema.dispose();
    p.dispose();
  });
});

describe('recipe pipeline and official recipes', () => {
  it('repeated augmentation repeats each index r times and keeps the epoch length', () => {
    expect(Array.from(repeatedOrder(Int32Array.from([4, 2, 0, 1, 3]), 3))).toEqual([4, 4, 4, 2, 2]);
    expect(Array.from(repeatedOrder(Int32Array.from([1, 0]), 1))).toEqual([1, 0]);
  });

  it('random-resized crop stays inside the image; the ImageNet pipeline is deterministic given the seed', () => {
    const rng = new Rng(1);
    for (let i = 0; i < 100; i++) {
      const [y, x, h, w] = sampleResizedCrop(32, [0.08, 1], [3 / 4, 4 / 3], rng);
      expect(y + h).toBeLessThanOrEqual(32);
      expect(x + w).toBeLessThanOrEqual(32);
      expect(h * w).toBeGreaterThanOrEqual(0.08 * 1024 * 0.8);
    }
    const ds = tinyDataset(8, 16);
    const aug = officialRecipe('dwnet', { input: 'imagenet' }).augment;
    const a = prepareBatch(ds, [0, 1, 2], { augment: aug, targetSize: 12, rng: new Rng(7) });
    const b = prepareBatch(ds, [0, 1, 2], { augment: aug, targetSize: 12, rng: new Rng(7) });
    expect(a.shape).toEqual([3, 12, 12, 3]);
    expect(Array.from(a.x)).toEqual(Array.from(b.x));
    // evaluation: centre crop 0.875 then resize; differs from a plain resize
    const evalAug = { cropPadding: 0, flip: false, evalCropFraction: 0.875 };
    const e = prepareBatch(ds, [0], { augment: evalAug, targetSize: 12, rng: new Rng(0) });
    const p = prepareBatch(ds, [0], { augment: null, targetSize: 12, rng: new Rng(0) });
    expect(Array.from(e.x)).not.toEqual(Array.from(p.x));
  });

  it("official recipes carry each paper's settings (lr scaling, clipping, EMA, repeated augmentation)", () => {
    const eit = officialRecipe('eit', { batchSize: 512 });
    expect([eit.lr, eit.clipNorm, eit.emaDecay, eit.repeatedAugment, eit.warmupEpochs]).toEqual([
      1e-3, 0, 0.99996, 3, 5,
    ]);
    expect(eit.augment.colorJitter).toBe(0.3);
    const dw = officialRecipe('dwnet');
    expect([dw.batchSize, dw.lr, dw.clipNorm, dw.warmupEpochs, dw.emaDecay, dw.repeatedAugment]).toEqual([
      1024,
      1e-3,
      5,
      20,
      undefined,
      undefined,
    ]);
    expect(dw.mixup).toEqual(DEIT_MIXUP);
    expect(dw.augment.randAugment).toEqual(RAND_M9_MSTD05_INC1);
    const rn = officialRecipe('resnet-cifar');
    expect([rn.optimizer, rn.lr, rn.momentum, rn.weightDecay]).toEqual(['sgd', 0.1, 0.9, 5e-4]);
    for (const n of OFFICIAL_RECIPES) expect(officialRecipe(n).source).toBeTruthy();
    // quick/smoke defaults untouched
    expect(defaultRecipe('quick').augment).toEqual({ cropPadding: 4, flip: true });
    expect(defaultRecipe('quick').mixup).toBeUndefined();
  });

  it('trainer runs the EIT recipe (mixup, RandAugment, erasing, repeated aug, EMA) deterministically', async () => {
    const ds = tinyDataset(32, 8);
    const short = { epochs: 1, maxStepsPerEpoch: 2, maxEvalImages: 16, warmupEpochs: 0 };
    const recipe = { ...officialRecipe('eit', { batchSize: 8 }), ...short };
    const run = async () => {
      const model = createModel('vit-tiny-test', { numClasses: 4 }, { seed: 1 });
      const before = tf.memory().numTensors;
      const r = await train({ model, train: ds, test: ds, recipe, seed: 3 });
      model.dispose();
      return { r, leaked: tf.memory().numTensors - before };
    };
    const a = await run();
    const b = await run();
    expect(a.r.history[0].extra?.emaTop1).toBeTypeOf('number');
    expect(a.r.history[0].trainLoss).toBe(b.r.history[0].trainLoss);
    expect(Number.isFinite(a.r.history[0].trainLoss)).toBe(true);
    expect(a.leaked).toBeLessThanOrEqual(0);
    const sgd = await train({
      model: createModel('vit-tiny-test', { numClasses: 4 }, { seed: 1 }),
      train: ds,
      test: ds,
      seed: 3,
      recipe: { ...officialRecipe('resnet-cifar', { batchSize: 8 }), ...short },
    });
    // the SGD recipe ran its capped steps and one epoch, with a finite loss
    expect([sgd.steps, sgd.history.length]).toEqual([2, 1]);
    expect(Number.isFinite(sgd.history[0].trainLoss)).toBe(true);
  });
});
