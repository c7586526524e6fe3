import * as fs from 'node:fs';
import * as path from 'node:path';
import { dataDir as defaultDataDir } from '../util/fsx';
import { DataError, UnknownNameError } from '../util/errors';
import { CIFAR100_DIR, CIFAR10_DIR, loadCifar10, loadCifar100 } from './cifar';
import { ensureSynth, loadSynth, synthRoot } from './synth';
import { loadSvhn } from './svhn';
import { loadFlowers102 } from './flowers';
import { loadImageFolder } from './folder';
import type { ImageDataset } from './types';

export * from './types';
export { prepareBatch, epochOrder, resizeBilinear } from './augment';
export type { Batch, PrepareBatchOptions } from './augment';
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
export { loadImageFolder } from './folder';
export { decodeImage, resizeToSquare } from './image';

/** Every dataset name loadDataset knows, besides `folder:<path>`. */
export const DATASET_NAMES = ['synth10', 'synth100', 'cifar10', 'cifar100', 'svhn', 'flowers102'] as const;

export interface DataOptions {
  /** The data folder; default $LIGHTVIT_DATA_DIR, else <repo>/data. */
  dataDir?: string;
}

export interface LoadOptions extends DataOptions {
  /** Square side images are resized to, for datasets of varying image sizes (Flowers-102, folders); default 32. */
  imageSize?: number;
}

interface DatasetInfo {
  /** Folder (or file) whose presence means "downloaded". */
  marker: (dir: string) => string;
  synthetic: boolean;
  title: string;
}

const INFO: Record<(typeof DATASET_NAMES)[number], DatasetInfo> = {
  synth10: { marker: (d) => path.join(synthRoot(d, 'synth10'), 'manifest.json'), synthetic: true, title: 'synth10' },
  synth100: { marker: (d) => path.join(synthRoot(d, 'synth100'), 'manifest.json'), synthetic: true, title: 'synth100' },
  cifar10: { marker: (d) => path.join(d, 'cifar10', CIFAR10_DIR), synthetic: false, title: 'CIFAR-10' },
  cifar100: { marker: (d) => path.join(d, 'cifar100', CIFAR100_DIR), synthetic: false, title: 'CIFAR-100' },
  svhn: { marker: (d) => path.join(d, 'svhn', 'train_32x32.mat'), synthetic: false, title: 'SVHN' },
  flowers102: { marker: (d) => path.join(d, 'flowers102', 'jpg'), synthetic: false, title: 'Flowers-102' },
};

/** Where each dataset lives under the data folder. */
export function datasetPath(name: string, opts: DataOptions = {}): string {
  const dir = opts.dataDir ?? defaultDataDir();
  if (name.startsWith('folder:')) return path.resolve(name.slice('folder:'.length));
  if (!(name in INFO)) throw new UnknownNameError('dataset', name, [...DATASET_NAMES, 'folder:<path>']);
  return path.join(dir, name);
}

function requirePresent(name: (typeof DATASET_NAMES)[number], dir: string): void {
  const marker = INFO[name].marker(dir);
  if (!fs.existsSync(marker)) {
    throw new DataError(
      `${INFO[name].title} is not downloaded: expected ${marker}; run \`lightvit data download ${name}\` ` +
        `(or set LIGHTVIT_DATA_DIR to the folder holding it)`,
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
 * datasets must have been downloaded (`lightvit data download <name>`); `folder:<path>` reads an image folder with
 * one sub-folder per class. Splits are cached in memory.
 */
export async function loadDataset(
  name: string,
  split: 'train' | 'test' | 'val',
  opts: LoadOptions = {},
): Promise<ImageDataset> {
  const dir = opts.dataDir ?? defaultDataDir();
  const key = `${dir}\u0000${name}\u0000${split}\u0000${opts.imageSize ?? ''}`;
  const hit = cache.get(key);
  if (hit) return hit;
  const ds = await loadUncached(name, split, dir, opts);
  cache.set(key, ds);
  return ds;
}

function trainOrTest(name: string, split: string): 'train' | 'test' {
  if (split === 'train' || split === 'test') return split;
  throw new DataError(`dataset ${name} has no '${split}' split; expected 'train' or 'test'`);
}

async function loadUncached(name: string, split: 'train' | 'test' | 'val', dir: string, opts: LoadOptions): Promise<ImageDataset> {
  if (name.startsWith('folder:')) {
    return loadImageFolder(name.slice('folder:'.length), split, { imageSize: opts.imageSize });
  }
  switch (name) {
    case 'synth10':
    case 'synth100':
      return loadSynth(dir, name, trainOrTest(name, split));
    case 'cifar10':
      requirePresent(name, dir);
      return loadCifar10(path.join(dir, 'cifar10'), trainOrTest(name, split));
    case 'cifar100':
      requirePresent(name, dir);
      return loadCifar100(path.join(dir, 'cifar100'), trainOrTest(name, split));
    case 'svhn':
      requirePresent(name, dir);
      return loadSvhn(path.join(dir, 'svhn'), trainOrTest(name, split));
    case 'flowers102':
      requirePresent(name, dir);
      return loadFlowers102(path.join(dir, 'flowers102'), split, { imageSize: opts.imageSize });
    default:
      throw new UnknownNameError('dataset', name, [...DATASET_NAMES, 'folder:<path>']);
  }
}

export interface DatasetStatus {
  name: string;
  present: boolean;
  path: string;
  synthetic: boolean;
  detail: string;
}

/** What is on disk: one row per known dataset (synth datasets count as present: they are made on first use). */
export function datasetStatus(opts: DataOptions = {}): DatasetStatus[] {
  const dir = opts.dataDir ?? defaultDataDir();
  return DATASET_NAMES.map((name) => {
    const info = INFO[name];
    const p = path.join(dir, name);
    const onDisk = fs.existsSync(info.marker(dir));
    let detail: string;
    if (info.synthetic) {
      detail = onDisk
        ? 'synthetic data, generated (results on it are synthetic)'
        : 'synthetic data, generated on first use (results on it are synthetic)';
    } else {
      detail = onDisk ? 'downloaded' : `not downloaded; run \`lightvit data download ${name}\``;
    }
    return { name, present: info.synthetic || onDisk, path: p, synthetic: info.synthetic, detail };
  });
}

/** Generate both synth datasets now (they are otherwise generated on first use). */
export function prepareSynth(opts: DataOptions = {}): string[] {
  const dir = opts.dataDir ?? defaultDataDir();
  return (['synth10', 'synth100'] as const).map((n) => ensureSynth(dir, n).root);
}

export { downloadDataset, extractArchive, DOWNLOADS } from './download';
export type { DownloadOptions, DownloadSource } from './download';
