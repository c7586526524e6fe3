import { describe, it, expect, beforeAll, afterAll } from 'vitest';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import * as zlib from 'node:zlib';
import * as tf from '@tensorflow/tfjs';
import { initBackend } from '../src/backend';
import { encodeIdxImages, encodeIdxLabels, parseIdxImages, parseIdxLabels, readIdxBytes } from '../src/data/idx';
import {
  FASHION_MNIST_CLASSES,
  FASHION_MNIST_ENV,
  FASHION_MNIST_MEAN,
  FASHION_MNIST_STD,
  FASHION_MNIST_SYSTEM_DIR,
  locateFashionMnist,
  missingFashionMnistFiles,
  readFashionMnist,
} from '../src/data/fashion-mnist';
import { clearDatasetCache, datasetStatus, epochOrder, loadDataset, prepareBatch } from '../src/data';
import type { ImageDataset } from '../src/data/types';
import { DataError } from '../src/util/errors';
import { Rng } from '../src/util/rng';

let tmp: string;
beforeAll(() => {
  tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'lv-fmnist-'));
});
afterAll(() => fs.rmSync(tmp, { recursive: true, force: true }));

/** n 28×28 images whose pixel (y, x) of image i is (i·7 + y·3 + x) mod 256, and labels i mod 10. */
function fakeImages(n: number): Uint8Array {
  const px = new Uint8Array(n * 784);
  for (let i = 0; i < n; i++) {
    for (let y = 0; y < 28; y++) for (let x = 0; x < 28; x++) px[i * 784 + y * 28 + x] = (i * 7 + y * 3 + x) % 256;
  }
  return px;
}

/** Write a full set of four files into `dir` (gzipped unless `plain`), with optional overrides per file. */
interface SetOptions {
  nTrain?: number;
  nTest?: number;
  plain?: boolean;
  over?: Record<string, Buffer>;
}

function writeSet(dir: string, opts: SetOptions = {}): void {
  fs.mkdirSync(dir, { recursive: true });
  const nTrain = opts.nTrain ?? 20;
  const nTest = opts.nTest ?? 10;
  const bodies: Record<string, Buffer> = {
    'train-images-idx3-ubyte': encodeIdxImages(fakeImages(nTrain), nTrain, 28, 28),
    'train-labels-idx1-ubyte': encodeIdxLabels(Array.from({ length: nTrain }, (_, i) => i % 10)),
    't10k-images-idx3-ubyte': encodeIdxImages(fakeImages(nTest), nTest, 28, 28),
    't10k-labels-idx1-ubyte': encodeIdxLabels(Array.from({ length: nTest }, (_, i) => (i * 3) % 10)),
    ...opts.over,
  };
  for (const [base, body] of Object.entries(bodies)) {
    if (opts.plain) fs.writeFileSync(path.join(dir, base), body);
    else fs.writeFileSync(path.join(dir, `${base}.gz`), zlib.gzipSync(body));
  }
}

describe('IDX reader', () => {
  it('reads gzipped and plain files alike', () => {
    const body = encodeIdxLabels([3, 1, 4]);
    fs.writeFileSync(path.join(tmp, 'l.gz'), zlib.gzipSync(body));
    fs.writeFileSync(path.join(tmp, 'l'), body);
    expect(readIdxBytes(path.join(tmp, 'l.gz')).equals(body)).toBe(true);
    expect(readIdxBytes(path.join(tmp, 'l')).equals(body)).toBe(true);
    expect(Array.from(parseIdxLabels(body, 'l', 'X', 10))).toEqual([3, 1, 4]);
    const img = parseIdxImages(encodeIdxImages(fakeImages(2), 2, 28, 28), 'i', 'X', { rows: 28, cols: 28 });
    expect([img.count, img.rows, img.cols, img.pixels[784 + 28 + 1]]).toEqual([2, 28, 28, 7 + 3 + 1]);
  });

  it('refuses a wrong magic number, naming the file, the value and the expected magic', () => {
    const labels = encodeIdxLabels([1, 2]);
    expect(() => parseIdxImages(labels, '/x/train-images-idx3-ubyte.gz', 'Fashion-MNIST')).toThrow(
      'Fashion-MNIST file train-images-idx3-ubyte.gz has magic number 2049 (0x00000801); expected 2051 (0x00000803',
    );
    const images = encodeIdxImages(fakeImages(1), 1, 28, 28);
    expect(() => parseIdxLabels(images, 'lab.gz', 'Fashion-MNIST')).toThrow(
      'Fashion-MNIST file lab.gz has magic number 2051 (0x00000803); expected 2049 (0x00000801',
    );
    expect(() => parseIdxLabels(Buffer.from([0, 0]), 'tiny', 'F')).toThrow(
      'F file tiny has no magic number (file shorter than 4 bytes)',
    );
  });

  it('refuses truncated files: plain (size named) and gzipped (incomplete stream)', () => {
    const images = encodeIdxImages(fakeImages(3), 3, 28, 28);
    expect(() => parseIdxImages(images.subarray(0, images.length - 100), 'imgs', 'F')).toThrow(
      'F file imgs is 2,268 bytes (truncated); expected 2,368 (16-byte header + 3 images of 28×28 bytes)',
    );
    const labels = encodeIdxLabels([1, 2, 3]);
    expect(() => parseIdxLabels(labels.subarray(0, 9), 'labs', 'F')).toThrow(
      'F file labs is 9 bytes (truncated); expected 11 (8-byte header + 3 one-byte labels)',
    );
    const gz = zlib.gzipSync(images);
    const cut = path.join(tmp, 'cut-images-idx3-ubyte.gz');
    fs.writeFileSync(cut, gz.subarray(0, Math.floor(gz.length / 2)));
    expect(() => readIdxBytes(cut, 'Fashion-MNIST')).toThrow(
      /Fashion-MNIST file cut-images-idx3-ubyte.gz is not a complete gzip stream .*expected a gzipped IDX file/,
    );
  });

  it('refuses a label out of range, naming its index and the range', () => {
    expect(() => parseIdxLabels(encodeIdxLabels([0, 9, 10]), 'labs', 'Fashion-MNIST', 10)).toThrow(
      'Fashion-MNIST file labs label 2 is 10; expected 0..9',
    );
  });

  it('refuses images of the wrong size', () => {
    const img = encodeIdxImages(new Uint8Array(2 * 27 * 28), 2, 27, 28);
    expect(() => parseIdxImages(img, 'imgs', 'Fashion-MNIST', { rows: 28, cols: 28 })).toThrow(
      'Fashion-MNIST file imgs holds 27×28 images; expected 28×28',
    );
  });
});

describe('Fashion-MNIST loader', () => {
  it('pads 28×28 grey to 32×32, repeats the channel 3 times, keeps labels, names the classes', () => {
    const dir = path.join(tmp, 'ok');
    writeSet(dir);
    const ds = readFashionMnist(dir, 'train');
    expect([ds.name, ds.split, ds.imageSize, ds.channels, ds.numClasses, ds.labels.length]).toEqual([
      'fashion-mnist',
      'train',
      32,
      3,
      10,
      20,
    ]);
    expect(ds.images.length).toBe(20 * 32 * 32 * 3);
    expect(Array.from(ds.labels.subarray(0, 12))).toEqual([0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 0, 1]);
    expect(ds.classNames).toEqual(FASHION_MNIST_CLASSES);
    expect(ds.classNames[0]).toBe('T-shirt/top');
    expect(ds.classNames[9]).toBe('Ankle boot');
    expect(ds.synthetic).toBe(false);
    expect(ds.mean).toEqual(FASHION_MNIST_MEAN);
    expect(ds.std).toEqual(FASHION_MNIST_STD);
    const px = (i: number, y: number, x: number, c: number) => ds.images[((i * 32 + y) * 32 + x) * 3 + c];
    // image 5, source pixel (y=10, x=20) lands at (12, 22) in all three channels
    for (let c = 0; c < 3; c++) expect(px(5, 12, 22, c)).toBe((5 * 7 + 10 * 3 + 20) % 256);
    expect(px(5, 2, 2, 0)).toBe(35);
    expect(px(5, 29, 29, 2)).toBe((35 + 27 * 3 + 27) % 256);
    // the 2-pixel border is zero
    let border = 0;
    for (let i = 0; i < 20; i++) {
      for (let y = 0; y < 32; y++) {
        for (let x = 0; x < 32; x++) {
          if (y >= 2 && y < 30 && x >= 2 && x < 30) continue;
          for (let c = 0; c < 3; c++) border += px(i, y, x, c);
        }
      }
    }
    expect(border).toBe(0);
    const test = readFashionMnist(dir, 'test');
    expect(Array.from(test.labels.subarray(0, 4))).toEqual([0, 3, 6, 9]);
  });

  it('reads un-gzipped files too', () => {
    const dir = path.join(tmp, 'plain');
    writeSet(dir, { plain: true });
    expect(readFashionMnist(dir, 'test').labels.length).toBe(10);
  });

  it('refuses an image/label count mismatch, naming both files and counts', () => {
    const dir = path.join(tmp, 'mismatch');
    writeSet(dir, { over: { 'train-labels-idx1-ubyte': encodeIdxLabels(new Array(19).fill(1)) } });
    expect(() => readFashionMnist(dir, 'train')).toThrow(
      'Fashion-MNIST files train-images-idx3-ubyte.gz and train-labels-idx1-ubyte.gz disagree: 20 images but 19 labels',
    );
  });

  it('refuses wrong dims, wrong magic and a label of 10 in real file layouts', () => {
    const dir = path.join(tmp, 'bad');
    writeSet(dir, {
      over: {
        'train-images-idx3-ubyte': encodeIdxImages(new Uint8Array(20 * 32 * 32), 20, 32, 32),
        't10k-labels-idx1-ubyte': encodeIdxLabels([...new Array(9).fill(0), 10]),
      },
    });
    expect(() => readFashionMnist(dir, 'train')).toThrow(
      'Fashion-MNIST file train-images-idx3-ubyte.gz holds 32×32 images; expected 28×28',
    );
    expect(() => readFashionMnist(dir, 'test')).toThrow(
      'Fashion-MNIST file t10k-labels-idx1-ubyte.gz label 9 is 10; expected 0..9',
    );
    const swapped = path.join(tmp, 'swapped');
    writeSet(swapped, { over: { 't10k-images-idx3-ubyte': encodeIdxLabels([1]) } });
    expect(() => readFashionMnist(swapped, 'test')).toThrow(DataError);
    expect(() => readFashionMnist(swapped, 'test')).toThrow('has magic number 2049 (0x00000801); expected 2051');
  });

  it('is found through the env variable, then the data folder, then the system path', () => {
    const none = path.join(tmp, 'nowhere');
    const data = path.join(tmp, 'data');
    const sys = path.join(tmp, 'sys');
    const envDir = path.join(tmp, 'envdir');
    writeSet(sys);
    writeSet(envDir, { plain: true });
    expect(locateFashionMnist(data, { env: {}, systemDir: none })).toMatchObject({ present: false, source: 'none' });
    const nowhere = locateFashionMnist(data, { env: {}, systemDir: none });
    expect(nowhere.detail).toMatch(/lightvit data download fashion-mnist/);
    const fromSystem = locateFashionMnist(data, { env: {}, systemDir: sys });
    expect(fromSystem).toMatchObject({ present: true, source: 'system', dir: sys });
    writeSet(path.join(data, 'fashion-mnist'));
    expect(locateFashionMnist(data, { env: {}, systemDir: sys })).toMatchObject({
      present: true,
      source: 'data',
      dir: path.join(data, 'fashion-mnist'),
    });
    expect(locateFashionMnist(data, { env: { [FASHION_MNIST_ENV]: envDir }, systemDir: sys })).toMatchObject({
      present: true,
      source: 'env',
      dir: envDir,
    });
    // an env folder that is incomplete is reported, not silently passed over
    fs.rmSync(path.join(envDir, 't10k-labels-idx1-ubyte'));
    const bad = locateFashionMnist(data, { env: { [FASHION_MNIST_ENV]: envDir }, systemDir: sys });
    expect(bad).toMatchObject({ present: false, source: 'env' });
    expect(bad.detail).toBe(`${FASHION_MNIST_ENV}=${envDir} lacks t10k-labels-idx1-ubyte (.gz or plain)`);
    expect(missingFashionMnistFiles(envDir)).toEqual(['t10k-labels-idx1-ubyte']);
  });

  it('loadDataset and datasetStatus use the env folder; no val split of its own', async () => {
    const envDir = path.join(tmp, 'env2');
    writeSet(envDir, { nTrain: 30 });
    const prev = process.env[FASHION_MNIST_ENV];
    process.env[FASHION_MNIST_ENV] = envDir;
    try {
      clearDatasetCache();
      const ds = await loadDataset('fashion-mnist', 'train', { dataDir: path.join(tmp, 'nodata') });
      expect(ds.labels.length).toBe(30);
      expect(await loadDataset('fashion-mnist', 'train', { dataDir: path.join(tmp, 'nodata') })).toBe(ds); // cached
      await expect(loadDataset('fashion-mnist', 'val', { dataDir: path.join(tmp, 'nodata') })).rejects.toThrow(
        "dataset fashion-mnist has no 'val' split; expected 'train' or 'test' " +
          "(derive a validation split from 'train' with holdoutSplit)",
      );
      const row = datasetStatus({ dataDir: path.join(tmp, 'nodata') }).find((d) => d.name === 'fashion-mnist')!;
      expect(row).toMatchObject({ present: true, path: envDir, synthetic: false });
      expect(row.detail).toContain(`found at ${envDir}`);
      // an empty env folder: absent, and loading says why
      process.env[FASHION_MNIST_ENV] = path.join(tmp, 'empty-env');
      const gone = datasetStatus({ dataDir: path.join(tmp, 'nodata') }).find((d) => d.name === 'fashion-mnist')!;
      expect(gone.present).toBe(false);
      await expect(loadDataset('fashion-mnist', 'test', { dataDir: path.join(tmp, 'nodata') })).rejects.toThrow(
        /Fashion-MNIST is not available: LIGHTVIT_FASHION_MNIST_DIR=.*empty-env lacks train-images-idx3-ubyte/,
      );
    } finally {
      if (prev === undefined) delete process.env[FASHION_MNIST_ENV];
      else process.env[FASHION_MNIST_ENV] = prev;
      clearDatasetCache();
    }
  });
});

// ---------------------------------------------------------------------------------------------------------------
// The real files, when this machine has them (apt-get install dataset-fashion-mnist, or the env variable).

const realDir = (() => {
  const at = locateFashionMnist(path.join(os.tmpdir(), 'lv-fmnist-no-data-dir'));
  return at.present ? at.dir : null;
})();
if (!realDir) {
  console.log(
    `data-fashion-mnist: real Fashion-MNIST not found (${FASHION_MNIST_SYSTEM_DIR} or ${FASHION_MNIST_ENV}); ` +
      'skipped the real-data tests',
  );
}

describe.skipIf(!realDir)('Fashion-MNIST, the real files', () => {
  let train: ImageDataset;
  let test: ImageDataset;
  beforeAll(() => {
    const t0 = performance.now();
    train = readFashionMnist(realDir!, 'train');
    const ms = performance.now() - t0;
    test = readFashionMnist(realDir!, 'test');
    console.log(`Fashion-MNIST from ${realDir}: 60,000 train images read, padded and checked in ${ms.toFixed(0)} ms`);
  });

  it("has 60,000 + 10,000 balanced images, and the hard-coded mean/std are the padded train set's", () => {
    expect(train.labels.length).toBe(60_000);
    expect(test.labels.length).toBe(10_000);
    const counts = new Array(10).fill(0);
    for (const y of train.labels) counts[y]++;
    expect(counts).toEqual(new Array(10).fill(6000));
    let s = 0;
    let s2 = 0;
    for (let i = 0; i < train.images.length; i += 3) {
      const v = train.images[i] / 255;
      s += v;
      s2 += v * v;
    }
    const n = train.images.length / 3;
    const mean = s / n;
    const std = Math.sqrt(s2 / n - mean * mean);
    for (let c = 0; c < 3; c++) {
      expect(Math.abs(FASHION_MNIST_MEAN[c] - mean)).toBeLessThan(1e-4);
      expect(Math.abs(FASHION_MNIST_STD[c] - std)).toBeLessThan(1e-4);
    }
  });

  it('a linear classifier on 2,000 real images trains clearly above chance (> 60% on 1,000 test images)', async () => {
    await initBackend('wasm');
    const rng = new Rng(3);
    const nTrain = 2000;
    const nTest = 1000;
    const w = tf.variable(tf.zeros([3072, 10]));
    const b = tf.variable(tf.zeros([10]));
    const forward = (x: tf.Tensor4D) => tf.add(tf.matMul(x.reshape([x.shape[0], 3072]), w), b) as tf.Tensor2D;
    const opt = tf.train.adam(0.001);
    let steps = 0;
    for (let epoch = 0; epoch < 5; epoch++) {
      const order = epochOrder(nTrain, rng);
      for (let s = 0; s + 32 <= nTrain; s += 32, steps++) {
        const batch = prepareBatch(train, order.subarray(s, s + 32), { augment: null, targetSize: 32, rng });
        tf.tidy(() => {
          const x = tf.tensor4d(batch.x, batch.shape);
          const y = tf.oneHot(tf.tensor1d(batch.labels, 'int32'), 10);
          opt.minimize(() => tf.losses.softmaxCrossEntropy(y, forward(x)) as tf.Scalar, false, [w, b]);
        });
        if (steps % 10 === 0) await new Promise((r) => setImmediate(r));
      }
    }
    let correct = 0;
    for (let s = 0; s < nTest; s += 200) {
      const idx = Int32Array.from({ length: 200 }, (_, i) => s + i);
      const batch = prepareBatch(test, idx, { augment: null, targetSize: 32, rng });
      const pred = tf.tidy(() => forward(tf.tensor4d(batch.x, batch.shape)).argMax(1).dataSync());
      pred.forEach((p, i) => (correct += p === batch.labels[i] ? 1 : 0));
    }
    w.dispose();
    b.dispose();
    opt.dispose();
    const acc = correct / nTest;
    console.log(
      `Fashion-MNIST: linear classifier, ${nTrain} train images, ${steps} steps of 32: ${(acc * 100).toFixed(1)}% ` +
        `on ${nTest} test images (chance 10%)`,
    );
    expect(acc).toBeGreaterThan(0.6);
  });
});
