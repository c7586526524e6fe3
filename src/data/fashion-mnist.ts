import * as fs from 'node:fs';
import * as path from 'node:path';
import { DataError, fmtInt } from '../util/errors';
import { parseIdxImages, parseIdxLabels, readIdxBytes } from './idx';
import type { ImageDataset } from './types';

/**
 * Fashion-MNIST (Xiao, Rasul and Vollgraf, arXiv 1708.07747): 60,000 train and 10,000 test 28×28 grey images of
 * Zalando articles in 10 balanced classes, as four IDX files. The loader maps every image to the kit's input form
 * so each model runs unchanged: the 28×28 image is zero-padded by 2 pixels on every side to 32×32, and the grey
 * channel is repeated into 3 identical channels (R = G = B). Mean and std below are of those padded images.
 *
 * It is found without copying, first match wins:
 *  1. `$LIGHTVIT_FASHION_MNIST_DIR`, when set (an explicit choice: it is not silently passed over when incomplete);
 *  2. `<dataDir>/fashion-mnist/` (where `lightvit data download fashion-mnist` puts the files);
 *  3. `/usr/share/datasets/fashion-mnist/`, where Debian's and Ubuntu's `dataset-fashion-mnist` package installs them.
 * Each file may be gzipped (`.gz`, as published) or plain (no suffix).
 */
export const FASHION_MNIST_ENV = 'LIGHTVIT_FASHION_MNIST_DIR';
export const FASHION_MNIST_SYSTEM_DIR = '/usr/share/datasets/fashion-mnist';
export const FASHION_MNIST_SIDE = 28;
/** Side of the images the loader returns (28 + 2 × 2 zero padding). */
export const FASHION_MNIST_PADDED_SIDE = 32;
export const FASHION_MNIST_COUNTS = { train: 60_000, test: 10_000 } as const;

/** Class names in label order, as the Fashion-MNIST README lists them. */
export const FASHION_MNIST_CLASSES = [
  'T-shirt/top',
  'Trouser',
  'Pullover',
  'Dress',
  'Coat',
  'Sandal',
  'Shirt',
  'Sneaker',
  'Bag',
  'Ankle boot',
];

/**
 * Per-channel mean and std (0..1 scale) of the 60,000 train images after padding to 32×32 (all three channels are
 * equal). Computed by this kit from the official train file; test/data-fashion-mnist.test.ts recomputes them when
 * the real files are present. (Unpadded 28×28 the figures are 0.2860 and 0.3530.)
 */
export const FASHION_MNIST_MEAN: [number, number, number] = [0.219, 0.219, 0.219];
export const FASHION_MNIST_STD: [number, number, number] = [0.3318, 0.3318, 0.3318];

/** The four official file names (without `.gz`) per split. */
export const FASHION_MNIST_FILES = {
  train: { images: 'train-images-idx3-ubyte', labels: 'train-labels-idx1-ubyte' },
  test: { images: 't10k-images-idx3-ubyte', labels: 't10k-labels-idx1-ubyte' },
} as const;

const ALL_FILES = [
  FASHION_MNIST_FILES.train.images,
  FASHION_MNIST_FILES.train.labels,
  FASHION_MNIST_FILES.test.images,
  FASHION_MNIST_FILES.test.labels,
];

/** `<dir>/<base>.gz` or `<dir>/<base>`, whichever exists (gzipped first); null when neither does. */
export function fashionMnistFile(dir: string, base: string): string | null {
  for (const f of [`${base}.gz`, base]) {
    const p = path.join(dir, f);
    if (fs.existsSync(p)) return p;
  }
  return null;
}

/** The official files missing from `dir` (each named without `.gz`). */
export function missingFashionMnistFiles(dir: string): string[] {
  return ALL_FILES.filter((b) => fashionMnistFile(dir, b) === null);
}

export interface FashionMnistLocation {
  /** The folder holding all four files, or the first candidate looked at when none is complete. */
  dir: string;
  present: boolean;
  /** How it was found: 'env', 'data' (the data folder) or 'system' (the Debian/Ubuntu package's path). */
  source: 'env' | 'data' | 'system' | 'none';
  detail: string;
}

export interface LocateOptions {
  /** Environment to read `LIGHTVIT_FASHION_MNIST_DIR` from (default process.env). */
  env?: NodeJS.ProcessEnv;
  /** The system path to look at last (default /usr/share/datasets/fashion-mnist; tests point it elsewhere). */
  systemDir?: string;
}

/** Where Fashion-MNIST is, following the order in this file's header. */
export function locateFashionMnist(dataDir: string, opts: LocateOptions = {}): FashionMnistLocation {
  const env = opts.env ?? process.env;
  const fromEnv = env[FASHION_MNIST_ENV];
  if (fromEnv) {
    const dir = path.resolve(fromEnv);
    const missing = missingFashionMnistFiles(dir);
    if (missing.length) {
      const detail = `${FASHION_MNIST_ENV}=${dir} lacks ${missing.join(', ')} (.gz or plain)`;
      return { dir, present: false, source: 'env', detail };
    }
    return { dir, present: true, source: 'env', detail: `found at ${dir} (${FASHION_MNIST_ENV})` };
  }
  const local = path.join(dataDir, 'fashion-mnist');
  if (!missingFashionMnistFiles(local).length) {
    return { dir: local, present: true, source: 'data', detail: `found at ${local} (data folder)` };
  }
  const system = opts.systemDir ?? FASHION_MNIST_SYSTEM_DIR;
  if (!missingFashionMnistFiles(system).length) {
    const detail = `found at ${system} (package dataset-fashion-mnist)`;
    return { dir: system, present: true, source: 'system', detail };
  }
  const partial = fs.existsSync(local) ? `${local} lacks ${missingFashionMnistFiles(local).join(', ')}; ` : '';
  return {
    dir: local,
    present: false,
    source: 'none',
    detail:
      `not found: ${partial}run \`lightvit data download fashion-mnist\`, \`apt-get install dataset-fashion-mnist\` ` +
      `(files at ${system}) or set ${FASHION_MNIST_ENV}`,
  };
}

/**
 * 28×28 grey images (N·784 bytes) → N × 32 × 32 × 3 NHWC: zero border of 2 pixels, grey repeated into R, G, B.
 */
export function padGreyToRgb32(grey: Uint8Array, count: number): Uint8Array {
  const S = FASHION_MNIST_SIDE;
  const P = FASHION_MNIST_PADDED_SIDE;
  const off = (P - S) / 2;
  const out = new Uint8Array(count * P * P * 3);
  for (let n = 0; n < count; n++) {
    const src = n * S * S;
    const dst = n * P * P * 3;
    for (let y = 0; y < S; y++) {
      let o = dst + ((y + off) * P + off) * 3;
      let i = src + y * S;
      for (let x = 0; x < S; x++, i++, o += 3) {
        const v = grey[i];
        out[o] = v;
        out[o + 1] = v;
        out[o + 2] = v;
      }
    }
  }
  return out;
}

/**
 * Read one split from `dir` (the four IDX files, gzipped or plain), checking magic numbers, 28×28 dimensions,
 * equal image and label counts, the label range 0..9 and truncation; every error names the file.
 */
export function readFashionMnist(dir: string, split: 'train' | 'test'): ImageDataset {
  const label = 'Fashion-MNIST';
  const names = FASHION_MNIST_FILES[split];
  const imgFile = fashionMnistFile(dir, names.images);
  const lblFile = fashionMnistFile(dir, names.labels);
  if (!imgFile || !lblFile) {
    const missing = [imgFile ? '' : names.images, lblFile ? '' : names.labels].filter(Boolean);
    throw new DataError(`${label} ${split} split: ${missing.join(' and ')} (.gz or plain) missing from ${dir}`);
  }
  const img = parseIdxImages(readIdxBytes(imgFile, label), imgFile, label, {
    rows: FASHION_MNIST_SIDE,
    cols: FASHION_MNIST_SIDE,
  });
  const lbl = parseIdxLabels(readIdxBytes(lblFile, label), lblFile, label, FASHION_MNIST_CLASSES.length);
  if (img.count !== lbl.length) {
    throw new DataError(
      `${label} files ${path.basename(imgFile)} and ${path.basename(lblFile)} disagree: ${fmtInt(img.count)} images ` +
        `but ${fmtInt(lbl.length)} labels; expected one label per image`,
    );
  }
  return {
    name: 'fashion-mnist',
    split,
    images: padGreyToRgb32(img.pixels, img.count),
    labels: Int32Array.from(lbl),
    numClasses: FASHION_MNIST_CLASSES.length,
    imageSize: FASHION_MNIST_PADDED_SIDE,
    channels: 3,
    classNames: [...FASHION_MNIST_CLASSES],
    synthetic: false,
    mean: [...FASHION_MNIST_MEAN],
    std: [...FASHION_MNIST_STD],
  };
}

/** Load a split from wherever locateFashionMnist finds the files; a clear error when it finds none. */
export function loadFashionMnist(dataDir: string, split: 'train' | 'test', opts: LocateOptions = {}): ImageDataset {
  const where = locateFashionMnist(dataDir, opts);
  if (!where.present) throw new DataError(`Fashion-MNIST is not available: ${where.detail}`);
  return readFashionMnist(where.dir, split);
}
