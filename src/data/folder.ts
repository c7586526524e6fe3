import * as fs from 'node:fs';
import * as path from 'node:path';
import { DataError } from '../util/errors';
import { channelStats, decodeImage, resizeToSquare } from './image';
import type { ImageDataset } from './types';
import { DecodePool } from './decode-pool';

/**
 * A generic image folder, `folder:<path>`: one sub-folder per class (names sorted alphabetically give the label
 * order), JPEG and PNG files inside, resized to a square (default 32). When `<path>` has `train/` and `test/` (or
 * `val/`) sub-folders, each split reads its own; otherwise every fifth image of each class (in file-name order) is
 * the test split and the rest the train split. Mean/std are measured on the images loaded, or ImageNet's
 * (`stats: 'imagenet'`, what the official recipes normalise with).
 *
 * ImageNet-style use (DWNet, EIT, Mobile V-MoE at 224²): a folder with `train/` and `val/`, loaded at
 * `imageSize: IMAGENET_STORE_SIZE` (256: shorter side resized to 256, centre 256² kept) and trained with an
 * `officialRecipe(..., { input: 'imagenet' })`, whose random-resized crop makes the 224² training inputs and whose
 * evaluation crop (224/256) the centre 224² of the stored 256² (the papers' resize-256 + centre-crop-224). The random-
 * resized crop then samples within the centre square rather than the whole image, a small departure. With
 * `stream: true` only the file list is held and each batch's images are decoded when the batch is made, so the full
 * 1.28M images fit (the default holds every image in memory, 256²·3 bytes each: fine for subsets). Decoding is JS;
 * worker threads decode the batch the trainer prefetches (src/data/decode-pool.ts) while the current one trains.
 */
export const IMAGENET_STORE_SIZE = 256;
/** ImageNet's per-channel mean and std (0..1 scale), as torchvision and timm normalise. */
export const IMAGENET_MEAN: [number, number, number] = [0.485, 0.456, 0.406];
export const IMAGENET_STD: [number, number, number] = [0.229, 0.224, 0.225];

const IMAGE_EXT = /\.(jpe?g|png)$/i;

function classDirs(dir: string): string[] {
  return fs
    .readdirSync(dir, { withFileTypes: true })
    .filter((d) => d.isDirectory() && !d.name.startsWith('.'))
    .map((d) => d.name)
    .sort();
}

export interface FolderOptions {
  /** Square side the images are stored at (default 32; ImageNet recipes: IMAGENET_STORE_SIZE). */
  imageSize?: number;
  /** Normalisation statistics: measured on the images (default in memory) or ImageNet's (default streaming). */
  stats?: 'measured' | 'imagenet';
  /** Keep only the file list and decode each batch's images on demand (for folders too large for memory). */
  stream?: boolean;
  /** Use only the first `maxClasses` class folders in sorted order (0, the default: all), e.g. a 10-class subset. */
  maxClasses?: number;
}

export function loadImageFolder(root: string, split: 'train' | 'test' | 'val', opts: FolderOptions = {}): ImageDataset {
  const size = opts.imageSize ?? 32;
  if (!Number.isInteger(size) || size < 1) throw new DataError(`imageSize ${size}; expected a positive integer`);
  const maxClasses = opts.maxClasses ?? 0;
  if (!Number.isInteger(maxClasses) || maxClasses < 0) {
    throw new DataError(`maxClasses ${maxClasses}; expected a non-negative integer (0: every class)`);
  }
  const abs = path.resolve(root);
  if (!fs.existsSync(abs) || !fs.statSync(abs).isDirectory()) {
    throw new DataError(
      `image folder ${abs} does not exist; expected a folder with one sub-folder of images per class`,
    );
  }
  const hasSplits =
    fs.existsSync(path.join(abs, 'train')) &&
    (fs.existsSync(path.join(abs, 'test')) || fs.existsSync(path.join(abs, 'val')));
  // ImageNet ships train/ and val/ only: its val/ is the test split
  const splitDir = split === 'test' && !fs.existsSync(path.join(abs, 'test')) ? 'val' : split;
  const dir = hasSplits ? path.join(abs, splitDir) : abs;
  if (!fs.existsSync(dir)) throw new DataError(`image folder ${abs} has no '${split}' sub-folder`);
  // class names come from train/ when splits exist, so labels agree across splits
  const all = classDirs(hasSplits ? path.join(abs, 'train') : abs);
  const classes = maxClasses > 0 ? all.slice(0, maxClasses) : all;
  if (!classes.length)
    throw new DataError(`image folder ${dir} has no class sub-folders; expected <class>/<image>.jpg|png`);
  const items: Array<{ file: string; label: number }> = [];
  classes.forEach((cls, label) => {
    const cdir = path.join(dir, cls);
    if (!fs.existsSync(cdir)) return;
    const files = fs
      .readdirSync(cdir)
      .filter((f) => IMAGE_EXT.test(f))
      .sort();
    files.forEach((f, k) => {
      if (!hasSplits && (split === 'test' || split === 'val') !== (k % 5 === 4)) return;
      items.push({ file: path.join(cdir, f), label });
    });
  });
  if (!items.length) throw new DataError(`image folder ${dir} has no JPEG or PNG images for split '${split}'`);
  const per = size * size * 3;
  const labels = Int32Array.from(items, (it) => it.label);
  const decode = (k: number) => resizeToSquare(decodeImage(fs.readFileSync(items[k].file), items[k].file), size);
  let images: Uint8Array;
  let readImages: ImageDataset['readImages'];
  let prefetch: ImageDataset['prefetch'];
  if (opts.stream) {
    images = new Uint8Array(0);
    // worker threads decode prefetched batches (src/data/decode-pool.ts); opened on the first prefetch, sized to
    // hold two of its batches
    let pool: DecodePool | null | undefined;
    prefetch = (indices) => {
      if (pool === undefined) {
        const slots = Math.max(16, Math.min(2048, 2 * indices.length));
        pool = DecodePool.open(
          items.map((it) => it.file),
          size,
          slots,
        );
      }
      pool?.prefetch(indices);
    };
    readImages = (indices) => {
      const out = new Uint8Array(indices.length * per);
      for (let k = 0; k < indices.length; k++) out.set(pool?.take(indices[k]) ?? decode(indices[k]), k * per);
      return out;
    };
  } else {
    images = new Uint8Array(items.length * per);
    items.forEach((_, i) => images.set(decode(i), i * per));
  }
  const stats = opts.stats ?? (opts.stream ? 'imagenet' : 'measured');
  let mean = IMAGENET_MEAN;
  let std = IMAGENET_STD;
  if (stats === 'measured') {
    // a streaming folder measures an evenly spaced sample of at most STATS_SAMPLE images
    const pick = opts.stream ? evenSample(items.length, STATS_SAMPLE) : null;
    ({ mean, std } = channelStats(pick ? readImages!(pick) : images));
  }
  return {
    name: `folder:${root}`,
    split,
    images,
    labels,
    numClasses: classes.length,
    imageSize: size,
    channels: 3,
    classNames: classes,
    synthetic: false,
    mean,
    std,
    ...(readImages ? { readImages, prefetch } : {}),
  };
}

/** Images a streaming folder measures its mean/std on (`stats: 'measured'`). */
export const STATS_SAMPLE = 512;

function evenSample(n: number, k: number): Int32Array {
  const m = Math.min(n, k);
  return Int32Array.from({ length: m }, (_, i) => Math.floor((i * n) / m));
}
