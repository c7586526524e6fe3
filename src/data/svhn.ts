import * as fs from 'node:fs';
import * as path from 'node:path';
import { DataError, fmtInt } from '../util/errors';
import { matVar, readMat } from './mat';
import type { ImageDataset } from './types';

/**
 * SVHN, cropped digits (http://ufldl.stanford.edu/housenumbers/): `train_32x32.mat` / `test_32x32.mat` hold `X`
 * (32×32×3×N uint8, MATLAB column-major: X(row, col, channel, n)) and `y` (N×1, digits 1–10 where 10 means 0).
 */
export const SVHN_MEAN: [number, number, number] = [0.4377, 0.4438, 0.4728];
export const SVHN_STD: [number, number, number] = [0.198, 0.201, 0.197];
export const SVHN_COUNTS = { train: 73_257, test: 26_032 };

/** Decode SVHN's X and y from a MAT-file buffer into NHWC images and 0–9 labels. */
export function decodeSvhnMat(buf: Buffer, file: string): { images: Uint8Array; labels: Int32Array } {
  const vars = readMat(buf, file);
  const X = matVar(vars, 'X', file);
  const y = matVar(vars, 'y', file);
  const [H, W, C, N] = X.dims.length === 4 ? X.dims : [...X.dims, 1];
  if (H !== 32 || W !== 32 || C !== 3) {
    throw new DataError(`SVHN file ${file}: X is [${X.dims.join('×')}]; expected [32×32×3×N]`);
  }
  if (y.data.length !== N)
    throw new DataError(`SVHN file ${file}: y has ${fmtInt(y.data.length)} labels; X has ${fmtInt(N)} images`);
  const images = new Uint8Array(N * H * W * C);
  const src = X.data;
  const plane = H * W;
  for (let n = 0; n < N; n++) {
    const base = n * plane * C;
    for (let r = 0; r < H; r++) {
      for (let c = 0; c < W; c++) {
        const o = base + (r * W + c) * C;
        const s = base + c * H + r;
        images[o] = src[s];
        images[o + 1] = src[s + plane];
        images[o + 2] = src[s + 2 * plane];
      }
    }
  }
  const labels = new Int32Array(N);
  for (let i = 0; i < N; i++) {
    const v = Number(y.data[i]);
    if (!Number.isInteger(v) || v < 1 || v > 10)
      throw new DataError(`SVHN file ${file}: label ${i} is ${v}; expected 1..10`);
    labels[i] = v % 10;
  }
  return { images, labels };
}

export function loadSvhn(
  root: string,
  split: 'train' | 'test',
  opts: { expectCount?: number | null } = {},
): ImageDataset {
  const name = `${split}_32x32.mat`;
  const file = path.join(root, name);
  if (!fs.existsSync(file)) throw new DataError(`SVHN file ${file} is missing; run \`lightvit data download svhn\``);
  const { images, labels } = decodeSvhnMat(fs.readFileSync(file), name);
  const expect = opts.expectCount === undefined ? SVHN_COUNTS[split] : opts.expectCount;
  if (expect !== null && labels.length !== expect) {
    throw new DataError(`SVHN file ${name} holds ${fmtInt(labels.length)} images; expected ${fmtInt(expect)}`);
  }
  return {
    name: 'svhn',
    split,
    images,
    labels,
    numClasses: 10,
    imageSize: 32,
    channels: 3,
    classNames: ['0', '1', '2', '3', '4', '5', '6', '7', '8', '9'],
    synthetic: false,
    mean: SVHN_MEAN,
    std: SVHN_STD,
  };
}
