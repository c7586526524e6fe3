import * as fs from 'node:fs';
import * as path from 'node:path';
import { DataError } from '../util/errors';
import { channelStats, decodeImage, resizeToSquare } from './image';
import type { ImageDataset } from './types';

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
 * resized crop then samples within the centre square rather than the whole image, a small departure. Images are held
 * in memory (256²·3 bytes each): fine for ImageNet subsets, not for the full 1.28M images, which need a streaming
 * loader the kit does not have yet.
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

export function loadImageFolder(
  root: string,
  split: 'train' | 'test' | 'val',
  opts: { imageSize?: number; stats?: 'measured' | 'imagenet' } = {},
): ImageDataset {
  const size = opts.imageSize ?? 32;
  const abs = path.resolve(root);
  if (!fs.existsSync(abs) || !fs.statSync(abs).isDirectory()) {
    throw new DataError(`image folder ${abs} does not exist; expected a folder with one sub-folder of images per class`);
  }
  const hasSplits = fs.existsSync(path.join(abs, 'train')) && (fs.existsSync(path.join(abs, 'test')) || fs.existsSync(path.join(abs, 'val')));
  const dir = hasSplits ? path.join(abs, split) : abs;
  if (!fs.existsSync(dir)) throw new DataError(`image folder ${abs} has no '${split}' sub-folder`);
  // class names come from train/ when splits exist, so labels agree across splits
  const classes = classDirs(hasSplits ? path.join(abs, 'train') : abs);
  if (!classes.length) throw new DataError(`image folder ${dir} has no class sub-folders; expected <class>/<image>.jpg|png`);
  const items: Array<{ file: string; label: number }> = [];
  classes.forEach((cls, label) => {
    const cdir = path.join(dir, cls);
    if (!fs.existsSync(cdir)) return;
    const files = fs.readdirSync(cdir).filter((f) => IMAGE_EXT.test(f)).sort();
    files.forEach((f, k) => {
      if (!hasSplits && (split === 'test' || split === 'val') !== (k % 5 === 4)) return;
      items.push({ file: path.join(cdir, f), label });
    });
  });
  if (!items.length) throw new DataError(`image folder ${dir} has no JPEG or PNG images for split '${split}'`);
  const images = new Uint8Array(items.length * size * size * 3);
  const labels = new Int32Array(items.length);
  items.forEach((it, i) => {
    labels[i] = it.label;
    images.set(resizeToSquare(decodeImage(fs.readFileSync(it.file), it.file), size), i * size * size * 3);
  });
  const { mean, std } = opts.stats === 'imagenet' ? { mean: IMAGENET_MEAN, std: IMAGENET_STD } : channelStats(images);
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
  };
}
