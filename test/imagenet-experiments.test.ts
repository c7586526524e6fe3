import { describe, it, expect, beforeAll, afterAll } from 'vitest';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { PNG } from 'pngjs';
import { initBackend } from '../src/backend';
import { createModel } from '../src/models';
import { loadImageFolder } from '../src/data/folder';
import { imagesAt, isStreaming } from '../src/data/types';
import { prepareBatch } from '../src/data/augment';
import { holdoutSplit } from '../src/data/split';
import { datasetImages } from '../src/report/notebook';
import { DecodePool, decodeThreads } from '../src/data/decode-pool';
import { decodeImage, resizeToSquare } from '../src/data/image';
import { getExperiment, listExperiments } from '../src/experiments';
import {
  IMAGENET_ENV,
  imagenetFolder,
  imagenetGeometry,
  imagenetRecipe,
  imagenetStudyArms as armsOf,
} from '../src/experiments/imagenet';
import { imagenetExperts } from '../src/experiments/mobile-vmoe';
import { loadRecords } from '../src/report/store';
import type { ExperimentRunContext } from '../src/experiments/types';
import { Rng } from '../src/util/rng';
import { train } from '../src/train/trainer';
import { SCALES } from '../src/util/scale';

/**
 * The ImageNet paper scale at smoke scale: a generated ImageNet-style folder (train/ and val/, four classes of
 * non-square PNGs), streamed from disk, trained by each ImageNet paper's `<paper>.imagenet` experiment.
 */
let root = '';
let dataDir = '';
const savedData = process.env.LIGHTVIT_DATA_DIR;
const savedImagenet = process.env[IMAGENET_ENV];

function png(w: number, h: number, cls: number, rng: Rng): Buffer {
  const p = new PNG({ width: w, height: h });
  for (let i = 0; i < w * h; i++) {
    // class k is brighter in channel k % 3 and, for k ≥ 3, darker overall
    for (let c = 0; c < 3; c++) p.data[i * 4 + c] = (c === cls % 3 ? 150 : 40) - (cls >= 3 ? 30 : 0) + rng.below(90);
    p.data[i * 4 + 3] = 255;
  }
  return PNG.sync.write(p);
}

beforeAll(async () => {
  await initBackend('wasm');
  root = fs.mkdtempSync(path.join(os.tmpdir(), 'lightvit-in-'));
  dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'lightvit-in-data-'));
  process.env.LIGHTVIT_DATA_DIR = dataDir;
  delete process.env[IMAGENET_ENV];
  const rng = new Rng(3);
  for (const [split, n] of [
    ['train', 10],
    ['val', 3],
  ] as const) {
    for (const [k, cls] of ['n01', 'n02', 'n03', 'n04'].entries()) {
      const dir = path.join(root, split, cls);
      fs.mkdirSync(dir, { recursive: true });
      for (let i = 0; i < n; i++) fs.writeFileSync(path.join(dir, `img${i}.png`), png(40 + 3 * i, 30 + 2 * k, k, rng));
    }
  }
});

afterAll(() => {
  process.env.LIGHTVIT_DATA_DIR = savedData;
  if (savedImagenet === undefined) delete process.env[IMAGENET_ENV];
  else process.env[IMAGENET_ENV] = savedImagenet;
  for (const d of [root, dataDir]) if (d) fs.rmSync(d, { recursive: true, force: true });
});

describe('streaming image folder', () => {
  it('holds no pixels, decodes on demand the same bytes the in-memory folder holds, and maps test to val/', () => {
    const mem = loadImageFolder(root, 'test', { imageSize: 32 });
    const st = loadImageFolder(root, 'test', { imageSize: 32, stream: true });
    expect(mem.labels.length).toBe(12);
    expect(isStreaming(st)).toBe(true);
    expect(isStreaming(mem)).toBe(false);
    expect(st.images.length).toBe(0);
    expect(Array.from(st.labels)).toEqual(Array.from(mem.labels));
    const idx = [11, 0, 5];
    expect(Array.from(imagesAt(st, idx))).toEqual(Array.from(imagesAt(mem, idx)));
    // streaming folders normalise with ImageNet's statistics unless asked to measure (on a sample)
    expect(st.mean).toEqual([0.485, 0.456, 0.406]);
    const measured = loadImageFolder(root, 'test', { imageSize: 32, stream: true, stats: 'measured' });
    expect(measured.mean[0]).toBeCloseTo(mem.mean[0], 6);
    expect(() => imagesAt(st, [12])).toThrow('image index 12 is outside folder:');
  });

  it('batches, hold-outs and notebook previews read through the stream exactly as from memory', () => {
    const mem = loadImageFolder(root, 'train', { imageSize: 32 });
    const st = loadImageFolder(root, 'train', { imageSize: 32, stream: true });
    const aug = {
      cropPadding: 0,
      flip: true,
      randomResizedCrop: { scale: [0.3, 1] as [number, number], ratio: [0.75, 4 / 3] as [number, number] },
    };
    const batch = (ds: typeof mem) => prepareBatch(ds, [3, 17, 39], { augment: aug, targetSize: 28, rng: new Rng(9) });
    const a = batch(mem);
    const b = batch({ ...st, mean: mem.mean, std: mem.std });
    expect(Array.from(b.labels)).toEqual([0, 1, 3]);
    expect(Array.from(b.x)).toEqual(Array.from(a.x));
    const hm = holdoutSplit(mem, { fraction: 0.2 });
    const hs = holdoutSplit(st, { fraction: 0.2 });
    expect(isStreaming(hs.val)).toBe(true);
    expect(Array.from(hs.val.labels)).toEqual(Array.from(hm.val.labels));
    expect(Array.from(imagesAt(hs.val, [0, 7]))).toEqual(Array.from(imagesAt(hm.val, [0, 7])));
    expect(datasetImages(hs.train, [1])[0].pixels).toEqual(datasetImages(hm.train, [1])[0].pixels);
  });

  it('keeps the first classes in sorted order with maxClasses, and names bad options', () => {
    const two = loadImageFolder(root, 'train', { imageSize: 16, stream: true, maxClasses: 2 });
    expect([two.numClasses, two.labels.length, two.classNames.join()]).toEqual([2, 20, 'n01,n02']);
    expect(() => loadImageFolder(root, 'train', { maxClasses: -1 })).toThrow(
      'maxClasses -1; expected a non-negative integer',
    );
    expect(() => loadImageFolder(root, 'train', { imageSize: 0 })).toThrow('imageSize 0; expected a positive integer');
  });
});

describe('background decoding (DecodePool)', () => {
  const files = () =>
    fs
      .readdirSync(path.join(root, 'train', 'n02'))
      .sort()
      .map((f) => path.join(root, 'train', 'n02', f));
  const sync = (f: string) => resizeToSquare(decodeImage(fs.readFileSync(f), f), 24);

  it('worker threads give the bytes the main thread decodes; unprefetched images are left to the caller', () => {
    const fl = files();
    const pool = DecodePool.open(fl, 24, 16, 2);
    expect(pool).not.toBeNull();
    try {
      pool!.prefetch([0, 3, 7, 3]);
      expect(pool!.pending).toBe(3);
      for (const i of [7, 0, 3]) expect(Array.from(pool!.take(i)!)).toEqual(Array.from(sync(fl[i])));
      expect(pool!.pending).toBe(0);
      expect(pool!.take(5)).toBeNull();
    } finally {
      pool!.close();
    }
  });

  it('when every slot is taken, decoded images nobody asked for are reclaimed for the next prefetch', async () => {
    const fl = files();
    const pool = DecodePool.open(fl, 24, 1, 1)!;
    try {
      pool.prefetch([0]);
      const t0 = Date.now();
      while (!pool.ready(0) && Date.now() - t0 < 10_000) await new Promise((r) => setTimeout(r, 5));
      expect(pool.pending).toBe(1);
      pool.prefetch([2]); // image 0 is done and untaken: its slot goes to image 2
      expect(pool.ready(0)).toBe(false);
      expect(pool.take(0)).toBeNull();
      expect(Array.from(pool.take(2)!)).toEqual(Array.from(sync(fl[2])));
    } finally {
      pool!.close();
    }
  });

  it("a file that fails to decode in a worker is handed back, so the caller raises the decoder's error", () => {
    const bad = path.join(root, 'not-an-image.png');
    fs.writeFileSync(bad, 'hello');
    const pool = DecodePool.open([bad], 8, 16, 1)!;
    try {
      pool.prefetch([0]);
      expect(pool.take(0)).toBeNull();
      expect(() => decodeImage(fs.readFileSync(bad), bad)).toThrow(/neither JPEG nor PNG|could not be decoded/);
    } finally {
      pool.close();
      fs.rmSync(bad);
    }
  });

  it('threads from LIGHTVIT_DECODE_THREADS (0: none), else cores − 1 within 1..8; bad values are named', () => {
    expect(decodeThreads({ LIGHTVIT_DECODE_THREADS: '3' })).toBe(3);
    expect(decodeThreads({ LIGHTVIT_DECODE_THREADS: '0' })).toBe(0);
    expect(DecodePool.open(['x'], 8, 16, 0)).toBeNull();
    const d = decodeThreads({});
    expect(d >= 1 && d <= 8).toBe(true);
    expect(() => decodeThreads({ LIGHTVIT_DECODE_THREADS: 'two' })).toThrow(
      'LIGHTVIT_DECODE_THREADS=two; expected a non-negative integer',
    );
  });

  it('a streaming folder reads the same bytes whether its batches were prefetched or not', () => {
    const st = loadImageFolder(root, 'train', { imageSize: 24, stream: true });
    const cold = imagesAt(st, [1, 2, 30]);
    st.prefetch!([1, 2, 30]);
    expect(Array.from(imagesAt(st, [1, 2, 30]))).toEqual(Array.from(cold));
    const hs = holdoutSplit(st, { fraction: 0.2 }).train;
    hs.prefetch!([0, 4]);
    expect(Array.from(imagesAt(hs, [0, 4]))).toEqual(
      Array.from(imagesAt(holdoutSplit(st, { fraction: 0.2 }).train, [0, 4])),
    );
  });
});

describe('<paper>.imagenet experiments', () => {
  const logs: string[] = [];
  const ctx = (data?: string): ExperimentRunContext => ({
    scale: 'smoke',
    preferReal: false,
    force: false,
    seed: 0,
    log: (m) => logs.push(m),
    ...(data ? { data } : {}),
  });
  const ids = ['mobile-vmoe.imagenet', 'dwnet.imagenet', 'eit.imagenet'];

  it('one per ImageNet paper; the folder comes from --data folder:<path> or the environment', () => {
    expect(
      listExperiments()
        .filter((e) => e.id.endsWith('.imagenet'))
        .map((e) => e.id),
    ).toEqual(ids);
    expect(imagenetFolder({ data: 'folder:/x' }, {})).toBe('folder:/x');
    expect(imagenetFolder({ data: 'fashion-mnist' }, { [IMAGENET_ENV]: '/y' })).toBe('');
    expect(imagenetFolder({}, { [IMAGENET_ENV]: '/y' })).toBe('folder:/y');
    expect(imagenetFolder({}, {})).toBe('');
    expect(imagenetGeometry('paper')).toEqual({ store: 256, crop: 224, maxClasses: 0 });
    expect(imagenetGeometry('quick')).toEqual({ store: 64, crop: 56, maxClasses: 10 });
    // paper scale is the official ImageNet recipe, uncapped; below it the scale's caps
    const paper = imagenetRecipe('dwnet', 'paper');
    expect([paper.epochs, paper.batchSize, paper.clipNorm, paper.augment.evalCropFraction]).toEqual([
      300, 1024, 5, 0.875,
    ]);
    expect(paper.augment.randomResizedCrop).toEqual({ scale: [0.08, 1], ratio: [3 / 4, 4 / 3] });
    expect(imagenetRecipe('eit', 'quick')).toMatchObject({
      epochs: 3,
      batchSize: 32,
      trainSubset: 3000,
      emaDecay: 0.99,
    });
    expect(imagenetRecipe('eit', 'paper').emaDecay).toBe(0.99996);
    expect(imagenetExperts(1000)).toBe(10);
    expect(imagenetExperts(4)).toBe(2);
  });

  it("every arm is a valid model at every scale (the paper scale: the papers' ImageNet-1k models at 224²)", () => {
    for (const id of ids) {
      const e = getExperiment(id);
      for (const scale of SCALES) {
        const g = imagenetGeometry(scale);
        expect(e.plan(scale).runs, `${id} ${scale}`).toBeGreaterThanOrEqual(2);
        expect(e.plan(scale).description).toMatch(/ on an ImageNet-style folder$/);
        const numClasses = scale === 'paper' ? 1000 : 10;
        // the models the experiment builds (the MoE's super-classes, fitted at run time: any map of the right length)
        const moe = {
          numExperts: scale === 'paper' ? 10 : 2,
          moeLayers: 2,
          topK: 1,
          superClassOf: Array.from({ length: numClasses }, (_, c) => c % 2),
        };
        const models = armsOf(id, scale).map((a) =>
          createModel(
            a.model,
            { imageSize: g.crop, ...a.overrides, numClasses, ...(a.model.startsWith('vmoe') ? moe : {}) },
            { build: false },
          ),
        );
        for (const m of models) expect(m.config.imageSize).toBe(g.crop);
        if (scale !== 'paper') continue;
        const millions = models.map((m) => Math.round(m.paramCount() / 1e5) / 10);
        // the papers' ImageNet-1k models (M): Swin-T 28.3, DWNet-T 24.2, D-DWNet-T 51.1, I-D-DWNet-T 26.2 (docs/dwnet.md
        // gives 28, 24, 51); DeiT-Ti sizes 5.7, EIT-Mini 3.5, EIT-Tiny 8.9 (docs/eit.md: 3.5, 8.9); ViT-Tiny at patch 32
        const want: Record<string, number[]> = {
          'dwnet.imagenet': [28.3, 24.2, 51.1, 26.2],
          'eit.imagenet': [5.7, 3.5, 8.9],
          'mobile-vmoe.imagenet': [6.1, 11.5],
        };
        expect(millions, id).toEqual(want[id]);
        if (id === 'mobile-vmoe.imagenet') {
          // 9 more expert MLPs (192 → 768 → 192) in each of the last 2 blocks, and the 10-way router
          expect(models[1].paramCount() - models[0].paramCount()).toBe(
            2 * 9 * (2 * 192 * 768 + 768 + 192) + 192 * 10 + 10,
          );
        }
      }
    }
  });

  it('without a folder: one line each, nothing trained, the progress count still advances', async () => {
    for (const id of ids) {
      let done = 0;
      const before = logs.length;
      await getExperiment(id).run({ ...ctx(), onRunDone: () => done++ });
      expect(logs.slice(before)).toEqual([
        `  ${id}: skipped, no ImageNet-style folder (pass --data folder:<path> with train/ and val/, or set ${IMAGENET_ENV}=<path>)`,
      ]);
      expect(done).toBe(getExperiment(id).plan('smoke').runs);
    }
    const flat = fs.mkdtempSync(path.join(os.tmpdir(), 'lightvit-flat-'));
    try {
      const before = logs.length;
      await getExperiment('eit.imagenet').run(ctx(`folder:${flat}`));
      expect(logs.slice(before)[0]).toMatch(/eit\.imagenet: skipped, .* has no train\/ and val\/ sub-folders/);
    } finally {
      fs.rmSync(flat, { recursive: true, force: true });
    }
    expect(loadRecords({}).filter((r) => r.experiment.endsWith('.imagenet'))).toEqual([]);
  });

  it('trains every arm on the streamed folder at smoke scale: 4 classes, 28² crops, records and a figure', async () => {
    for (const id of ids) {
      await getExperiment(id).run(ctx(`folder:${root}`));
      const recs = loadRecords({ experiment: id });
      expect(
        recs.map((r) => r.variant),
        id,
      ).toEqual(armsOf(id, 'smoke').map((a) => a.variant));
      for (const r of recs) {
        expect(r.dataset).toBe(`folder:${root}`);
        expect(r.synthetic).toBe(false);
        expect(r.config.imageSize).toBe(28);
        expect(r.config.numClasses).toBe(4);
        expect(r.metrics.top1).toBeGreaterThanOrEqual(0);
        expect(r.metrics.top1).toBeLessThanOrEqual(1);
      }
      const figs = getExperiment(id).figures(recs);
      expect(figs.map((f) => f.id)).toEqual([`${id.replace('.', '-')}-top1`]);
      expect(figs[0].caption).toContain('smoke scale');
    }
    // Mobile V-MoE: the MoE's super-classes were clustered from the dense arm's confusion on the hold-out
    const [dense, moe] = loadRecords({ experiment: 'mobile-vmoe.imagenet' });
    expect((dense.extra!.confusion as number[][]).length).toBe(4);
    expect(dense.extra?.confusionOn).toBe('validation hold-out (4 images)');
    const sc = moe.config.superClassOf as number[];
    expect([sc.length, moe.config.numExperts, new Set(sc).size]).toEqual([4, 2, 2]);
    // a re-run finds every run stored
    const before = logs.length;
    await getExperiment('dwnet.imagenet').run(ctx(`folder:${root}`));
    expect(logs.slice(before).every((l) => l.includes('stored (skip'))).toBe(true);
  });

  it("paper geometry: the paper's DWNet-T trains a step on 224² crops of the folder streamed at 256²", async () => {
    const tr = loadImageFolder(root, 'train', { imageSize: 256, stream: true });
    const va = loadImageFolder(root, 'val', { imageSize: 256, stream: true });
    const arm = armsOf('dwnet.imagenet', 'paper')[1];
    const model = createModel(arm.model, { numClasses: 4 }, { seed: 0 });
    try {
      expect([arm.model, model.config.imageSize]).toEqual(['dwnet-tiny', 224]);
      const recipe = {
        ...imagenetRecipe('dwnet', 'paper'),
        batchSize: 2,
        epochs: 1,
        maxStepsPerEpoch: 1,
        maxEvalImages: 2,
      };
      const r = await train({ model, train: tr, test: va, recipe: { ...recipe, warmupEpochs: 0 }, seed: 0 });
      // 4 classes: an untrained model's loss is near ln 4 (label smoothing and mixup keep it there)
      expect(r.history[0].trainLoss).toBeGreaterThan(0.5);
      expect(r.history[0].trainLoss).toBeLessThan(3);
      expect(r.history[0].testTop1! * 2).toSatisfy((v: number) => [0, 1, 2].includes(Math.round(v)));
    } finally {
      model.dispose();
    }
  });
});
