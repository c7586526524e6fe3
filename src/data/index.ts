import * as fs from 'node:fs';
import * as path from 'node:path';
import { dataDir as defaultDataDir } from '../util/fsx';
import { DataError, UnknownNameError } from '../util/errors';
import { CIFAR100_DIR, CIFAR10_DIR, CIFAR10_TEST_FILES, CIFAR10_TRAIN_FILES, loadCifar10, loadCifar100 } from './cifar';
import { ensureSynth, loadSynth, synthRoot, SYNTH_VERSION, type SynthManifest } from './synth';
import { loadFashionMnist, locateFashionMnist } from './fashion-mnist';
import { loadSvhn } from './svhn';
import { loadFlowers102 } from './flowers';
import { loadImageFolder } from './folder';
import type { ImageDataset } from './types';

export * from './types';
export { prepareBatch, epochOrder, resizeBilinear } from './augment';
export type { Batch, PrepareBatchOptions } from './augment';
export { evalBatch, evalBatches } from './eval-batches';
export type { EvalBatchOptions, EvalBatchesOptions, IndexedBatch, SizedModel } from './eval-batches';
export {
  readCifar10,
  readCifar100,
  CIFAR10_MEAN,
  CIFAR10_STD,
  CIFAR100_MEAN,
  CIFAR100_STD,
} from './cifar';
export {
  generateSynth,
  ensureSynth,
  renderSynthImage,
  SYNTH_SHAPES,
  SYNTH_TEXTURES,
  SYNTH10_CLASSES,
  SYNTH_VERSION,
  SYNTH_SEED,
  SYNTH_STYLE,
  SYNTH_SPECS,
} from './synth';
export type { SynthStyle, SynthManifest } from './synth';
export { readMat, writeMat } from './mat';
export type { MatArray, MatWriteVar } from './mat';
export { loadSvhn, decodeSvhnMat, SVHN_MEAN, SVHN_STD } from './svhn';
export { loadFlowers102, FLOWERS_MEAN, FLOWERS_STD } from './flowers';
export { loadImageFolder, IMAGENET_STORE_SIZE, IMAGENET_MEAN, IMAGENET_STD } from './folder';
export type { FolderOptions } from './folder';
export { DecodePool, decodeThreads } from './decode-pool';
export { decodeImage, resizeToSquare } from './image';
export {
  readFashionMnist,
  loadFashionMnist,
  locateFashionMnist,
  padGreyToRgb32,
  FASHION_MNIST_CLASSES,
  FASHION_MNIST_MEAN,
  FASHION_MNIST_STD,
  FASHION_MNIST_FILES,
  FASHION_MNIST_ENV,
  FASHION_MNIST_SYSTEM_DIR,
} from './fashion-mnist';
export type { FashionMnistLocation } from './fashion-mnist';
export { holdoutSplit } from './split';
export type { HoldoutOptions } from './split';
export { readIdxBytes, parseIdxImages, parseIdxLabels, encodeIdxImages, encodeIdxLabels } from './idx';

/** Every dataset name loadDataset knows, besides `folder:<path>`. */
export const DATASET_NAMES = [
  'synth10',
  'synth100',
  'cifar10',
  'cifar100',
  'svhn',
  'flowers102',
  'fashion-mnist',
] as const;

export interface DataOptions {
  /** The data folder; default $LIGHTVIT_DATA_DIR, else <repo>/data. */
  dataDir?: string;
}

export interface LoadOptions extends DataOptions {
  /** Square side images are resized to, for datasets of varying image sizes (Flowers-102, folders); default 32. */
  imageSize?: number;
  /** Image folders only: decode images per batch instead of holding them (see FolderOptions). */
  stream?: boolean;
  /** Image folders only: the first `maxClasses` classes in sorted order (0: all). */
  maxClasses?: number;
}

type Downloaded = Exclude<(typeof DATASET_NAMES)[number], 'synth10' | 'synth100' | 'fashion-mnist'>;

interface DownloadedInfo {
  /**
   * The files or folders under `<dataDir>/<name>/` each split needs (`all`: every split). The dataset is present
   * only when every one of them is there; a split loads when its own are.
   */
  files: { train: string[]; test: string[]; all: string[] };
  title: string;
}

const DOWNLOADED: Record<Downloaded, DownloadedInfo> = {
  cifar10: {
    files: {
      train: CIFAR10_TRAIN_FILES.map((f) => path.join(CIFAR10_DIR, f)),
      test: CIFAR10_TEST_FILES.map((f) => path.join(CIFAR10_DIR, f)),
      all: [],
    },
    title: 'CIFAR-10',
  },
  cifar100: {
    files: { train: [path.join(CIFAR100_DIR, 'train.bin')], test: [path.join(CIFAR100_DIR, 'test.bin')], all: [] },
    title: 'CIFAR-100',
  },
  svhn: { files: { train: ['train_32x32.mat'], test: ['test_32x32.mat'], all: [] }, title: 'SVHN' },
  flowers102: { files: { train: [], test: [], all: ['imagelabels.mat', 'setid.mat', 'jpg'] }, title: 'Flowers-102' },
};

/** The files of a downloaded dataset (of one split, or all of them) missing under `<dir>/<name>/`. */
function missingFiles(name: Downloaded, dir: string, split?: 'train' | 'test' | 'val'): string[] {
  const f = DOWNLOADED[name].files;
  const needed = split === 'train' || split === 'test' ? [...f.all, ...f[split]] : [...f.all, ...f.train, ...f.test];
  return needed.filter((p) => !fs.existsSync(path.join(dir, name, p)));
}

/** Where each dataset lives (Fashion-MNIST: where it was found, see locateFashionMnist). */
export function datasetPath(name: string, opts: DataOptions = {}): string {
  const dir = opts.dataDir ?? defaultDataDir();
  if (name.startsWith('folder:')) return path.resolve(name.slice('folder:'.length));
  if (!(DATASET_NAMES as readonly string[]).includes(name)) {
    throw new UnknownNameError('dataset', name, [...DATASET_NAMES, 'folder:<path>']);
  }
  if (name === 'fashion-mnist') return locateFashionMnist(dir).dir;
  return path.join(dir, name);
}

function allFiles(name: Downloaded): string[] {
  const f = DOWNLOADED[name].files;
  return [...f.all, ...f.train, ...f.test];
}

/** Refuse to load `split` of a dataset whose files for it are not all there, naming the missing ones. */
function requirePresent(name: Downloaded, dir: string, split: 'train' | 'test' | 'val'): void {
  const missing = missingFiles(name, dir, split);
  if (missing.length) {
    const where = path.join(dir, name);
    const what = missingFiles(name, dir).length === allFiles(name).length ? 'is not downloaded' : 'is incomplete';
    throw new DataError(
      `${DOWNLOADED[name].title} ${what}: ${where} lacks ${missing.join(', ')}; ` +
        `run \`lightvit data download ${name}\` (or set LIGHTVIT_DATA_DIR to the folder holding it)`,
    );
  }
}

const cache = new Map<string, ImageDataset>();

/** Forget loaded datasets (they are cached per data folder, name and split). */
export function clearDatasetCache(): void {
  cache.clear();
}

/**
 * Load one split of a dataset as uint8 NHWC images. `synth10`/`synth100` are generated on first use; the real
 * datasets must have been downloaded (`lightvit data download <name>`), or, for `fashion-mnist`, be found where
 * locateFashionMnist looks (the Debian/Ubuntu package path among them); `folder:<path>` reads an image folder with
 * one sub-folder per class. Splits are cached in memory.
 *
 * Only `flowers102` and image folders have a 'val' split of their own; asking for 'val' of any other dataset
 * (CIFAR, SVHN, Fashion-MNIST, synth) is an error. The kit derives a validation split from 'train' with
 * holdoutSplit (a seeded, stratified hold-out; see src/data/split.ts), never from 'test'.
 */
export async function loadDataset(
  name: string,
  split: 'train' | 'test' | 'val',
  opts: LoadOptions = {},
): Promise<ImageDataset> {
  const dir = opts.dataDir ?? defaultDataDir();
  // Fashion-MNIST's folder depends on the environment too: key it by where it is found
  const where = name === 'fashion-mnist' ? locateFashionMnist(dir).dir : '';
  const folderOpts = `${opts.stream ? 'stream' : ''}/${opts.maxClasses ?? ''}`;
  const key = [dir, name, split, opts.imageSize ?? '', where, folderOpts].join('\u0000');
  const hit = cache.get(key);
  if (hit) return hit;
  const ds = await loadUncached(name, split, dir, opts);
  cache.set(key, ds);
  return ds;
}

function trainOrTest(name: string, split: string): 'train' | 'test' {
  if (split === 'train' || split === 'test') return split;
  throw new DataError(
    `dataset ${name} has no '${split}' split; expected 'train' or 'test' (derive a validation split from 'train' ` +
      `with holdoutSplit)`,
  );
}

async function loadUncached(
  name: string,
  split: 'train' | 'test' | 'val',
  dir: string,
  opts: LoadOptions,
): Promise<ImageDataset> {
  if (name.startsWith('folder:')) {
    return loadImageFolder(name.slice('folder:'.length), split, {
      imageSize: opts.imageSize,
      stream: opts.stream,
      maxClasses: opts.maxClasses,
    });
  }
  switch (name) {
    case 'synth10':
    case 'synth100':
      return loadSynth(dir, name, trainOrTest(name, split));
    case 'cifar10':
      requirePresent(name, dir, split);
      return loadCifar10(path.join(dir, 'cifar10'), trainOrTest(name, split));
    case 'cifar100':
      requirePresent(name, dir, split);
      return loadCifar100(path.join(dir, 'cifar100'), trainOrTest(name, split));
    case 'svhn':
      requirePresent(name, dir, split);
      return loadSvhn(path.join(dir, 'svhn'), trainOrTest(name, split));
    case 'flowers102':
      requirePresent(name, dir, split);
      return loadFlowers102(path.join(dir, 'flowers102'), split, { imageSize: opts.imageSize });
    case 'fashion-mnist':
      return loadFashionMnist(dir, trainOrTest(name, split));
    default:
      throw new UnknownNameError('dataset', name, [...DATASET_NAMES, 'folder:<path>']);
  }
}

export interface DatasetStatus {
  name: string;
  /** True only when every file of the dataset is on disk (synth: generated at the current version). */
  present: boolean;
  /** Its folder (Fashion-MNIST: the folder it was found in). */
  path: string;
  synthetic: boolean;
  detail: string;
}

function synthStatus(dir: string, name: 'synth10' | 'synth100'): DatasetStatus {
  const root = synthRoot(dir, name);
  let manifest: SynthManifest | null = null;
  try {
    manifest = JSON.parse(fs.readFileSync(path.join(root, 'manifest.json'), 'utf8')) as SynthManifest;
  } catch {
    manifest = null;
  }
  const sub = name === 'synth10' ? CIFAR10_DIR : CIFAR100_DIR;
  const files = manifest?.files ? [...manifest.files.train, ...manifest.files.test].map((f) => f.file) : [];
  const complete = files.length > 0 && files.every((f) => fs.existsSync(path.join(root, sub, f)));
  let detail: string;
  if (!manifest) detail = 'synthetic data, not generated yet, made on first use (results on it are synthetic)';
  else if (manifest.version !== SYNTH_VERSION || !complete) {
    detail = `synthetic data, ${complete ? 'an older version' : 'incomplete'}; regenerated on first use`;
  } else detail = 'synthetic data, generated (results on it are synthetic)';
  const present = !!manifest && manifest.version === SYNTH_VERSION && complete;
  return { name, present, path: root, synthetic: true, detail };
}

/**
 * What is on disk: one row per known dataset. A dataset is present only when all its files are there; the synth
 * sets count once generated (before that they say they are made on first use); Fashion-MNIST's row gives the
 * folder it was found in.
 */
export function datasetStatus(opts: DataOptions = {}): DatasetStatus[] {
  const dir = opts.dataDir ?? defaultDataDir();
  return DATASET_NAMES.map((name): DatasetStatus => {
    if (name === 'synth10' || name === 'synth100') return synthStatus(dir, name);
    if (name === 'fashion-mnist') {
      const at = locateFashionMnist(dir);
      return { name, present: at.present, path: at.dir, synthetic: false, detail: at.detail };
    }
    const missing = missingFiles(name, dir);
    const all = missing.length === allFiles(name).length;
    const detail = !missing.length
      ? 'downloaded'
      : `${all ? 'not downloaded' : `incomplete: lacks ${missing.join(', ')}`}; run \`lightvit data download ${name}\``;
    return { name, present: !missing.length, path: path.join(dir, name), synthetic: false, detail };
  });
}

/** Generate both synth datasets now (they are otherwise generated on first use). */
export function prepareSynth(opts: DataOptions = {}): string[] {
  const dir = opts.dataDir ?? defaultDataDir();
  return (['synth10', 'synth100'] as const).map((n) => ensureSynth(dir, n).root);
}

export { downloadDataset, extractArchive, DOWNLOADS } from './download';
export type { DownloadOptions, DownloadSource } from './download';
