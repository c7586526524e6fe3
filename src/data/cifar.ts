import * as fs from 'node:fs';
import * as path from 'node:path';
import { DataError, fmtInt } from '../util/errors';
import type { ImageDataset } from './types';

/**
 * CIFAR-10 / CIFAR-100 binary versions (https://www.cs.toronto.edu/~kriz/cifar.html). A record is the label
 * byte(s) then 3,072 pixel bytes: 1,024 red values of the 32×32 image row-major, then 1,024 green, then 1,024 blue.
 * The readers also load the embedded `synth` datasets, which are written in the same layout.
 */
export const CIFAR_SIDE = 32;
export const CIFAR_PIXELS = CIFAR_SIDE * CIFAR_SIDE * 3;
/** Records per file in the official archives. */
export const CIFAR_RECORDS_PER_FILE = 10_000;

export const CIFAR10_MEAN: [number, number, number] = [0.4914, 0.4822, 0.4465];
export const CIFAR10_STD: [number, number, number] = [0.247, 0.2435, 0.2616];
export const CIFAR100_MEAN: [number, number, number] = [0.5071, 0.4865, 0.4409];
export const CIFAR100_STD: [number, number, number] = [0.2673, 0.2564, 0.2762];

export const CIFAR10_DIR = 'cifar-10-batches-bin';
export const CIFAR100_DIR = 'cifar-100-binary';
export const CIFAR10_TRAIN_FILES = [1, 2, 3, 4, 5].map((i) => `data_batch_${i}.bin`);
export const CIFAR10_TEST_FILES = ['test_batch.bin'];

export interface CifarFileSpec {
  file: string;
  /** Records the file must hold (10,000 for the real CIFAR-10 batches). */
  records: number;
}

export interface CifarReadOptions {
  /** Dataset label in messages: 'CIFAR-10', 'synth10', ... */
  label?: string;
  name?: string;
  mean?: [number, number, number];
  std?: [number, number, number];
  synthetic?: boolean;
}

/** Channel-planar record pixels (R plane, G plane, B plane) → interleaved HWC, written at out[offset..]. */
export function planarToHwc(src: Uint8Array, srcOffset: number, out: Uint8Array, outOffset: number): void {
  const plane = CIFAR_SIDE * CIFAR_SIDE;
  for (let p = 0; p < plane; p++) {
    const o = outOffset + p * 3;
    out[o] = src[srcOffset + p];
    out[o + 1] = src[srcOffset + plane + p];
    out[o + 2] = src[srcOffset + 2 * plane + p];
  }
}

/** Interleaved HWC → channel-planar (the inverse of planarToHwc), for writers. */
export function hwcToPlanar(src: Uint8Array, srcOffset: number, out: Uint8Array, outOffset: number): void {
  const plane = CIFAR_SIDE * CIFAR_SIDE;
  for (let p = 0; p < plane; p++) {
    const i = srcOffset + p * 3;
    out[outOffset + p] = src[i];
    out[outOffset + plane + p] = src[i + 1];
    out[outOffset + 2 * plane + p] = src[i + 2];
  }
}

function readBinFile(file: string, label: string): Buffer {
  if (!fs.existsSync(file)) throw new DataError(`${label} file ${file} is missing`);
  return fs.readFileSync(file);
}

function checkSize(buf: Buffer, file: string, label: string, records: number, recordBytes: number): void {
  const expected = records * recordBytes;
  if (buf.length !== expected) {
    const whole = buf.length % recordBytes === 0 ? '' : ` (not a whole number of ${fmtInt(recordBytes)}-byte records)`;
    throw new DataError(
      `${label} file ${path.basename(file)} is ${fmtInt(buf.length)} bytes${whole}; expected ${fmtInt(expected)} ` +
        `(${fmtInt(records)} records of ${fmtInt(recordBytes)} bytes)`,
    );
  }
}

function readLines(file: string): string[] {
  return fs
    .readFileSync(file, 'utf8')
    .split(/\r?\n/)
    .map((s) => s.trim())
    .filter((s) => s.length > 0);
}

/**
 * Read CIFAR-10-format files from `dir` (each with its expected record count) into one NHWC dataset. Class names
 * come from `batches.meta.txt` when present.
 */
export function readCifar10(
  dir: string,
  files: CifarFileSpec[],
  split: 'train' | 'test',
  opts: CifarReadOptions = {},
): ImageDataset {
  const label = opts.label ?? 'CIFAR-10';
  const recordBytes = 1 + CIFAR_PIXELS;
  const total = files.reduce((s, f) => s + f.records, 0);
  const images = new Uint8Array(total * CIFAR_PIXELS);
  const labels = new Int32Array(total);
  let n = 0;
  const metaFile = path.join(dir, 'batches.meta.txt');
  const classNames = fs.existsSync(metaFile) ? readLines(metaFile) : [];
  const numClasses = classNames.length || 10;
  for (const f of files) {
    const file = path.join(dir, f.file);
    const buf = readBinFile(file, label);
    checkSize(buf, file, label, f.records, recordBytes);
    for (let r = 0; r < f.records; r++, n++) {
      const off = r * recordBytes;
      const y = buf[off];
      if (y >= numClasses) {
        throw new DataError(
          `${label} file ${f.file} record ${fmtInt(r)} has label ${y}; expected 0..${numClasses - 1}`,
        );
      }
      labels[n] = y;
      planarToHwc(buf, off + 1, images, n * CIFAR_PIXELS);
    }
  }
  return {
    name: opts.name ?? 'cifar10',
    split,
    images,
    labels,
    numClasses,
    imageSize: CIFAR_SIDE,
    channels: 3,
    classNames: classNames.length ? classNames : Array.from({ length: 10 }, (_, i) => `class_${i}`),
    synthetic: opts.synthetic ?? false,
    mean: opts.mean ?? CIFAR10_MEAN,
    std: opts.std ?? CIFAR10_STD,
  };
}

/**
 * Read one CIFAR-100-format file (`train.bin` / `test.bin`): coarse label byte (0–19), fine label byte (0–99),
 * then the planar pixels. Keeps the coarse labels and derives the fine → coarse map, checking it is a function.
 */
export function readCifar100(
  dir: string,
  file: CifarFileSpec,
  split: 'train' | 'test',
  opts: CifarReadOptions = {},
): ImageDataset {
  const label = opts.label ?? 'CIFAR-100';
  const recordBytes = 2 + CIFAR_PIXELS;
  const full = path.join(dir, file.file);
  const buf = readBinFile(full, label);
  checkSize(buf, full, label, file.records, recordBytes);
  const coarseFile = path.join(dir, 'coarse_label_names.txt');
  const fineFile = path.join(dir, 'fine_label_names.txt');
  const coarseNames = fs.existsSync(coarseFile) ? readLines(coarseFile) : [];
  const fineNames = fs.existsSync(fineFile) ? readLines(fineFile) : [];
  const numCoarse = coarseNames.length || 20;
  const numClasses = fineNames.length || 100;
  const n = file.records;
  const images = new Uint8Array(n * CIFAR_PIXELS);
  const labels = new Int32Array(n);
  const coarseLabels = new Int32Array(n);
  const fineToCoarse = new Int32Array(numClasses).fill(-1);
  for (let r = 0; r < n; r++) {
    const off = r * recordBytes;
    const c = buf[off];
    const y = buf[off + 1];
    if (c >= numCoarse || y >= numClasses) {
      throw new DataError(
        `${label} file ${file.file} record ${fmtInt(r)} has coarse label ${c} and fine label ${y}; ` +
          `expected 0..${numCoarse - 1} and 0..${numClasses - 1}`,
      );
    }
    if (fineToCoarse[y] === -1) fineToCoarse[y] = c;
    else if (fineToCoarse[y] !== c) {
      throw new DataError(
        `${label} file ${file.file} record ${fmtInt(r)} puts fine class ${y} in super-class ${c}; ` +
          `earlier records put it in ${fineToCoarse[y]}`,
      );
    }
    labels[r] = y;
    coarseLabels[r] = c;
    planarToHwc(buf, off + 2, images, r * CIFAR_PIXELS);
  }
  return {
    name: opts.name ?? 'cifar100',
    split,
    images,
    labels,
    coarseLabels,
    numClasses,
    numCoarse,
    imageSize: CIFAR_SIDE,
    channels: 3,
    classNames: fineNames.length ? fineNames : Array.from({ length: numClasses }, (_, i) => `class_${i}`),
    coarseNames: coarseNames.length ? coarseNames : Array.from({ length: numCoarse }, (_, i) => `superclass_${i}`),
    fineToCoarse,
    synthetic: opts.synthetic ?? false,
    mean: opts.mean ?? CIFAR100_MEAN,
    std: opts.std ?? CIFAR100_STD,
  };
}

/** Encode NHWC images + labels as CIFAR-10 records (used by the synth writer and the tests). */
export function encodeCifar10Records(
  images: Uint8Array,
  labels: ArrayLike<number>,
  start = 0,
  count = labels.length,
): Uint8Array {
  const recordBytes = 1 + CIFAR_PIXELS;
  const out = new Uint8Array(count * recordBytes);
  for (let r = 0; r < count; r++) {
    out[r * recordBytes] = labels[start + r];
    hwcToPlanar(images, (start + r) * CIFAR_PIXELS, out, r * recordBytes + 1);
  }
  return out;
}

/** Encode NHWC images + coarse/fine labels as CIFAR-100 records. */
export function encodeCifar100Records(
  images: Uint8Array,
  coarse: ArrayLike<number>,
  fine: ArrayLike<number>,
): Uint8Array {
  const recordBytes = 2 + CIFAR_PIXELS;
  const n = fine.length;
  const out = new Uint8Array(n * recordBytes);
  for (let r = 0; r < n; r++) {
    out[r * recordBytes] = coarse[r];
    out[r * recordBytes + 1] = fine[r];
    hwcToPlanar(images, r * CIFAR_PIXELS, out, r * recordBytes + 2);
  }
  return out;
}

/** The official CIFAR-10 layout under `root` (the folder holding cifar-10-batches-bin). */
export function loadCifar10(root: string, split: 'train' | 'test'): ImageDataset {
  const dir = path.join(root, CIFAR10_DIR);
  const files = (split === 'train' ? CIFAR10_TRAIN_FILES : CIFAR10_TEST_FILES).map((file) => ({
    file,
    records: CIFAR_RECORDS_PER_FILE,
  }));
  return readCifar10(dir, files, split, { name: 'cifar10' });
}

/** The official CIFAR-100 layout under `root` (the folder holding cifar-100-binary). */
export function loadCifar100(root: string, split: 'train' | 'test'): ImageDataset {
  const dir = path.join(root, CIFAR100_DIR);
  const spec = split === 'train' ? { file: 'train.bin', records: 50_000 } : { file: 'test.bin', records: 10_000 };
  return readCifar100(dir, spec, split, { name: 'cifar100' });
}
