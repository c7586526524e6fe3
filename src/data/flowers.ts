import * as fs from 'node:fs';
import * as path from 'node:path';
import { writeFileAtomic } from '../util/fsx';
import { DataError, fmtInt } from '../util/errors';
import { decodeImage, resizeToSquare } from './image';
import { matVar, readMat } from './mat';
import type { ImageDataset } from './types';

/**
 * Oxford Flowers-102 (https://www.robots.ox.ac.uk/~vgg/data/flowers/102/): `jpg/image_00001.jpg` …, labels
 * 1–102 in `imagelabels.mat` (`labels`), splits in `setid.mat` (`trnid`, `valid`, `tstid`: 1-based image ids;
 * 1,020 / 1,020 / 6,149 images). Images are centre-cropped and resized to a square once, then cached as a uint8
 * file under `<root>/cache/`, so later loads skip JPEG decoding.
 */
export const FLOWERS_CLASSES = 102;
/** ImageNet statistics, the usual choice for Flowers-102 transfer. */
export const FLOWERS_MEAN: [number, number, number] = [0.485, 0.456, 0.406];
export const FLOWERS_STD: [number, number, number] = [0.229, 0.224, 0.225];

const SPLIT_VAR = { train: 'trnid', val: 'valid', test: 'tstid' } as const;
const MAGIC = 'LVIMG1\n\0';

/** Cache layout: 8-byte magic, uint32 N, uint32 size, N int32 labels, N·size·size·3 image bytes. */
export function writeImageCache(file: string, images: Uint8Array, labels: Int32Array, size: number): void {
  const head = Buffer.alloc(16);
  head.write(MAGIC, 0, 'latin1');
  head.writeUInt32LE(labels.length, 8);
  head.writeUInt32LE(size, 12);
  writeFileAtomic(
    file,
    Buffer.concat([head, Buffer.from(labels.buffer, labels.byteOffset, labels.byteLength), Buffer.from(images)]),
  );
}

export function readImageCache(file: string, size: number): { images: Uint8Array; labels: Int32Array } | null {
  if (!fs.existsSync(file)) return null;
  const buf = fs.readFileSync(file);
  if (buf.length < 16 || buf.subarray(0, 8).toString('latin1') !== MAGIC) return null;
  const n = buf.readUInt32LE(8);
  if (buf.readUInt32LE(12) !== size || buf.length !== 16 + 4 * n + n * size * size * 3) return null;
  const labels = new Int32Array(n);
  for (let i = 0; i < n; i++) labels[i] = buf.readInt32LE(16 + 4 * i);
  return { images: new Uint8Array(buf.subarray(16 + 4 * n)), labels };
}

export function loadFlowers102(
  root: string,
  split: 'train' | 'test' | 'val',
  opts: { imageSize?: number } = {},
): ImageDataset {
  const size = opts.imageSize ?? 32;
  if (!Number.isInteger(size) || size < 1)
    throw new DataError(`Flowers-102 imageSize ${size} is not a positive integer`);
  const cacheFile = path.join(root, 'cache', `${split}_${size}.bin`);
  let data = readImageCache(cacheFile, size);
  if (!data) {
    const need = (f: string) => {
      const p = path.join(root, f);
      if (!fs.existsSync(p))
        throw new DataError(`Flowers-102 file ${p} is missing; run \`lightvit data download flowers102\``);
      return p;
    };
    const labelsAll = matVar(
      readMat(fs.readFileSync(need('imagelabels.mat')), 'imagelabels.mat'),
      'labels',
      'imagelabels.mat',
    ).data;
    const ids = matVar(readMat(fs.readFileSync(need('setid.mat')), 'setid.mat'), SPLIT_VAR[split], 'setid.mat').data;
    const n = ids.length;
    const images = new Uint8Array(n * size * size * 3);
    const labels = new Int32Array(n);
    for (let i = 0; i < n; i++) {
      const id = Number(ids[i]);
      if (!Number.isInteger(id) || id < 1 || id > labelsAll.length) {
        throw new DataError(
          `Flowers-102 setid.mat ${SPLIT_VAR[split]}[${i}] is ${id}; expected an image id in ` +
            `1..${fmtInt(labelsAll.length)}`,
        );
      }
      const y = Number(labelsAll[id - 1]);
      if (!Number.isInteger(y) || y < 1 || y > FLOWERS_CLASSES) {
        throw new DataError(`Flowers-102 label of image ${id} is ${y}; expected 1..${FLOWERS_CLASSES}`);
      }
      labels[i] = y - 1;
      const name = `image_${String(id).padStart(5, '0')}.jpg`;
      const img = decodeImage(fs.readFileSync(need(path.join('jpg', name))), name);
      images.set(resizeToSquare(img, size), i * size * size * 3);
    }
    writeImageCache(cacheFile, images, labels, size);
    data = { images, labels };
  }
  return {
    name: 'flowers102',
    split,
    images: data.images,
    labels: data.labels,
    numClasses: FLOWERS_CLASSES,
    imageSize: size,
    channels: 3,
    classNames: Array.from({ length: FLOWERS_CLASSES }, (_, i) => `flower_${i + 1}`),
    synthetic: false,
    mean: FLOWERS_MEAN,
    std: FLOWERS_STD,
  };
}
