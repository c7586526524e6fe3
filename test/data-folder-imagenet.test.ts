import { describe, it, expect, beforeAll, afterAll } from 'vitest';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { PNG } from 'pngjs';
import { initBackend } from '../src/backend';
import { createModel } from '../src/models';
import { loadImageFolder, IMAGENET_MEAN } from '../src/data/folder';
import { train } from '../src/train/trainer';
import { officialRecipe } from '../src/train/recipes';
import { Rng } from '../src/util/rng';

/**
 * The ImageNet-style folder path at smoke scale: a generated folder with train/ and val/ (one sub-folder per class,
 * non-square PNGs), stored at a square size, trained with an official recipe's ImageNet pipeline (random-resized
 * crop, RandAugment, mixup/cutmix, erasing) and evaluated with the centre crop. The real thing stores 256² and
 * trains at 224²; here 32² and 28² (the same 0.875 ratio).
 */
let root = '';

function png(w: number, h: number, cls: number, rng: Rng): Buffer {
  const p = new PNG({ width: w, height: h });
  for (let i = 0; i < w * h; i++) {
    for (let c = 0; c < 3; c++) p.data[i * 4 + c] = (c === cls ? 150 : 40) + rng.below(90);
    p.data[i * 4 + 3] = 255;
  }
  return PNG.sync.write(p);
}

beforeAll(async () => {
  await initBackend('wasm');
  root = fs.mkdtempSync(path.join(os.tmpdir(), 'lightvit-imagenet-'));
  const rng = new Rng(1);
  for (const [split, n] of [
    ['train', 6],
    ['val', 2],
  ] as const) {
    for (const [k, cls] of ['n01', 'n02', 'n03'].entries()) {
      const dir = path.join(root, split, cls);
      fs.mkdirSync(dir, { recursive: true });
      for (let i = 0; i < n; i++) fs.writeFileSync(path.join(dir, `img${i}.png`), png(40 + 4 * i, 30 + 2 * k, k, rng));
    }
  }
});

afterAll(() => {
  if (root) fs.rmSync(root, { recursive: true, force: true });
});

describe('ImageNet-style folder (train/ + val/)', () => {
  it('loads both splits at the stored square size, labels from the class folders, ImageNet stats on request', () => {
    const tr = loadImageFolder(root, 'train', { imageSize: 32 });
    const va = loadImageFolder(root, 'val', { imageSize: 32, stats: 'imagenet' });
    expect([tr.labels.length, va.labels.length, tr.imageSize, tr.numClasses]).toEqual([18, 6, 32, 3]);
    expect(tr.classNames).toEqual(['n01', 'n02', 'n03']);
    expect(Array.from(va.labels)).toEqual([0, 0, 1, 1, 2, 2]);
    expect(va.mean).toEqual(IMAGENET_MEAN);
    // class k images are brighter in channel k: the stored pixels keep that
    const px = (i: number, c: number) => tr.images[i * 32 * 32 * 3 + (16 * 32 + 16) * 3 + c];
    expect(px(0, 0)).toBeGreaterThan(px(0, 1));
    expect(px(17, 2)).toBeGreaterThan(px(17, 0));
  });

  it('trains with the DWNet ImageNet recipe at smoke scale, deterministically, evaluating a centre crop', async () => {
    const tr = loadImageFolder(root, 'train', { imageSize: 32 });
    const va = loadImageFolder(root, 'val', { imageSize: 32 });
    const recipe = {
      ...officialRecipe('dwnet', { input: 'imagenet', batchSize: 6 }),
      epochs: 1,
      maxStepsPerEpoch: 2,
      maxEvalImages: 6,
      warmupEpochs: 0,
    };
    expect(recipe.augment.randomResizedCrop).toBeDefined();
    expect(recipe.augment.evalCropFraction).toBeCloseTo(0.875, 6);
    const run = async () => {
      const model = createModel('vit-tiny-test', { imageSize: 28, patchSize: 7, numClasses: 3 }, { seed: 2 });
      const r = await train({ model, train: tr, test: va, recipe, seed: 5 });
      model.dispose();
      return r.history[0];
    };
    const a = await run();
    const b = await run();
    expect(Number.isFinite(a.trainLoss)).toBe(true);
    expect(a.testTop1).toBeTypeOf('number');
    expect([a.trainLoss, a.testLoss]).toEqual([b.trainLoss, b.testLoss]);
  });
});
