import * as fs from 'node:fs';
import * as path from 'node:path';
import * as zlib from 'node:zlib';
import { DataError, fmtInt } from '../util/errors';

/**
 * The IDX format of MNIST and Fashion-MNIST (http://yann.lecun.com/exdb/mnist/): a 4-byte big-endian magic number
 * (two zero bytes, a type code, the number of dimensions), one 4-byte big-endian size per dimension, then the data,
 * row-major. Type 0x08 is unsigned byte, the only type these datasets use: magic 2051 (0x00000803) is a stack of
 * images N × rows × cols, magic 2049 (0x00000801) a vector of N labels. Files may be gzipped (read through
 * node:zlib) or plain; a gzip stream is recognised by its first two bytes (1f 8b), not by the file name.
 */
export const IDX_IMAGES_MAGIC = 2051;
export const IDX_LABELS_MAGIC = 2049;

export interface IdxImages {
  count: number;
  rows: number;
  cols: number;
  /** count·rows·cols bytes, image after image, each row-major. */
  pixels: Uint8Array;
}

/** A file's bytes, gunzipped when it is a gzip stream. `label` names the dataset in messages. */
export function readIdxBytes(file: string, label = 'IDX'): Buffer {
  let raw: Buffer;
  try {
    raw = fs.readFileSync(file);
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    throw new DataError(`${label} file ${file} ${code === 'ENOENT' ? 'is missing' : `cannot be read (${code})`}`);
  }
  if (raw.length >= 2 && raw[0] === 0x1f && raw[1] === 0x8b) {
    try {
      return zlib.gunzipSync(raw);
    } catch (e) {
      throw new DataError(
        `${label} file ${path.basename(file)} is not a complete gzip stream (${(e as Error).message}); ` +
          `expected a gzipped IDX file (truncated download? delete it and fetch it again)`,
      );
    }
  }
  return raw;
}

function magicOf(buf: Buffer): number {
  return buf.length >= 4 ? buf.readUInt32BE(0) : -1;
}

function describeMagic(m: number): string {
  if (m < 0) return 'no magic number (file shorter than 4 bytes)';
  return `magic number ${m} (0x${m.toString(16).padStart(8, '0')})`;
}

/**
 * Parse IDX image bytes (magic 2051). `expect` pins the image size (28×28 for Fashion-MNIST); a file holding more
 * or fewer bytes than its header announces is refused, naming both sizes.
 */
export function parseIdxImages(
  buf: Buffer,
  file: string,
  label = 'IDX',
  expect?: { rows: number; cols: number },
): IdxImages {
  const name = path.basename(file);
  const magic = magicOf(buf);
  if (magic !== IDX_IMAGES_MAGIC) {
    throw new DataError(
      `${label} file ${name} has ${describeMagic(magic)}; expected ${IDX_IMAGES_MAGIC} (0x00000803: unsigned bytes, ` +
        `3 dimensions), the magic of an IDX image file`,
    );
  }
  if (buf.length < 16) {
    throw new DataError(
      `${label} file ${name} is ${fmtInt(buf.length)} bytes; expected at least the 16-byte IDX image header`,
    );
  }
  const count = buf.readUInt32BE(4);
  const rows = buf.readUInt32BE(8);
  const cols = buf.readUInt32BE(12);
  if (expect && (rows !== expect.rows || cols !== expect.cols)) {
    throw new DataError(`${label} file ${name} holds ${rows}×${cols} images; expected ${expect.rows}×${expect.cols}`);
  }
  const want = 16 + count * rows * cols;
  if (buf.length !== want) {
    throw new DataError(
      `${label} file ${name} is ${fmtInt(buf.length)} bytes${buf.length < want ? ' (truncated)' : ''}; expected ` +
        `${fmtInt(want)} (16-byte header + ${fmtInt(count)} images of ${rows}×${cols} bytes)`,
    );
  }
  return { count, rows, cols, pixels: new Uint8Array(buf.buffer, buf.byteOffset + 16, count * rows * cols) };
}

/** Parse IDX label bytes (magic 2049), checking every label is in 0..numClasses-1. */
export function parseIdxLabels(buf: Buffer, file: string, label = 'IDX', numClasses = 256): Uint8Array {
  const name = path.basename(file);
  const magic = magicOf(buf);
  if (magic !== IDX_LABELS_MAGIC) {
    throw new DataError(
      `${label} file ${name} has ${describeMagic(magic)}; expected ${IDX_LABELS_MAGIC} (0x00000801: unsigned bytes, ` +
        `1 dimension), the magic of an IDX label file`,
    );
  }
  if (buf.length < 8) {
    throw new DataError(
      `${label} file ${name} is ${fmtInt(buf.length)} bytes; expected at least the 8-byte IDX label header`,
    );
  }
  const count = buf.readUInt32BE(4);
  const want = 8 + count;
  if (buf.length !== want) {
    throw new DataError(
      `${label} file ${name} is ${fmtInt(buf.length)} bytes${buf.length < want ? ' (truncated)' : ''}; expected ` +
        `${fmtInt(want)} (8-byte header + ${fmtInt(count)} one-byte labels)`,
    );
  }
  const labels = new Uint8Array(buf.buffer, buf.byteOffset + 8, count);
  for (let i = 0; i < count; i++) {
    if (labels[i] >= numClasses) {
      throw new DataError(`${label} file ${name} label ${fmtInt(i)} is ${labels[i]}; expected 0..${numClasses - 1}`);
    }
  }
  return labels;
}

/** Encode images as an IDX image file (magic 2051); the tests and small writers use it. */
export function encodeIdxImages(pixels: Uint8Array, count: number, rows: number, cols: number): Buffer {
  if (pixels.length !== count * rows * cols) {
    throw new DataError(
      `encodeIdxImages: ${fmtInt(pixels.length)} pixels; expected ${fmtInt(count * rows * cols)} ` +
        `(${count}×${rows}×${cols})`,
    );
  }
  const out = Buffer.alloc(16 + pixels.length);
  out.writeUInt32BE(IDX_IMAGES_MAGIC, 0);
  out.writeUInt32BE(count, 4);
  out.writeUInt32BE(rows, 8);
  out.writeUInt32BE(cols, 12);
  out.set(pixels, 16);
  return out;
}

/** Encode labels as an IDX label file (magic 2049). */
export function encodeIdxLabels(labels: ArrayLike<number>): Buffer {
  const out = Buffer.alloc(8 + labels.length);
  out.writeUInt32BE(IDX_LABELS_MAGIC, 0);
  out.writeUInt32BE(labels.length, 4);
  for (let i = 0; i < labels.length; i++) out[8 + i] = labels[i];
  return out;
}
