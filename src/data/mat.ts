import * as zlib from 'node:zlib';
import { DataError, fmtInt } from '../util/errors';

/**
 * A reader (and a small writer, for tests) of MATLAB level-5 MAT-files, covering what SVHN and Flowers-102 use:
 * numeric matrices (miMATRIX) of any real class, stored plainly or inside zlib-compressed elements (miCOMPRESSED).
 * Data stay in MATLAB's column-major order; `dims` are MATLAB's (rows first).
 * Format: "MAT-File Format", The MathWorks (level 5: 128-byte header, then tagged data elements, 8-byte aligned).
 */

const MI = {
  INT8: 1,
  UINT8: 2,
  INT16: 3,
  UINT16: 4,
  INT32: 5,
  UINT32: 6,
  SINGLE: 7,
  DOUBLE: 9,
  INT64: 12,
  UINT64: 13,
  MATRIX: 14,
  COMPRESSED: 15,
  UTF8: 16,
} as const;

/** mxClass codes of numeric arrays → names. */
const MX_CLASS: Record<number, string> = {
  6: 'double',
  7: 'single',
  8: 'int8',
  9: 'uint8',
  10: 'int16',
  11: 'uint16',
  12: 'int32',
  13: 'uint32',
  14: 'int64',
  15: 'uint64',
};

export type MatData =
  | Uint8Array
  | Int8Array
  | Int16Array
  | Uint16Array
  | Int32Array
  | Uint32Array
  | Float32Array
  | Float64Array;

export interface MatArray {
  name: string;
  /** MATLAB class: 'double', 'uint8', ... */
  className: string;
  dims: number[];
  /** Real part, column-major, in its storage type (MATLAB may store a double array as uint8 when values fit). */
  data: MatData;
}

interface Element {
  type: number;
  /** Payload bytes. */
  body: Buffer;
  /** Offset just after the element, padding included. */
  next: number;
}

function readElement(buf: Buffer, off: number, le: boolean, file: string): Element {
  if (off + 8 > buf.length)
    throw new DataError(`MAT-file ${file} ends inside a data element tag at byte ${fmtInt(off)}`);
  const u32 = (o: number) => (le ? buf.readUInt32LE(o) : buf.readUInt32BE(o));
  const first = u32(off);
  // small data element: size in the upper 16 bits, type in the lower 16, payload in the next 4 bytes
  if (first >>> 16 !== 0) {
    const type = first & 0xffff;
    const n = first >>> 16;
    if (n > 4)
      throw new DataError(
        `MAT-file ${file} has a small data element of ${n} bytes at byte ${fmtInt(off)}; expected at most 4`,
      );
    return { type, body: buf.subarray(off + 4, off + 4 + n), next: off + 8 };
  }
  const n = u32(off + 4);
  const start = off + 8;
  if (start + n > buf.length) {
    throw new DataError(
      `MAT-file ${file} is truncated: an element at byte ${fmtInt(off)} needs ${fmtInt(n)} bytes, ` +
        `${fmtInt(buf.length - start)} remain`,
    );
  }
  // compressed elements are not padded; everything else is 8-byte aligned
  const next = first === MI.COMPRESSED ? start + n : start + Math.ceil(n / 8) * 8;
  return { type: first, body: buf.subarray(start, start + n), next };
}

function typed(type: number, body: Buffer, le: boolean, file: string): MatData {
  const copy = (bytesPer: number) => {
    if (body.length % bytesPer)
      throw new DataError(`MAT-file ${file}: ${body.length} bytes is not a whole number of ${bytesPer}-byte values`);
    const b = Buffer.from(body); // aligned copy
    if (!le && bytesPer > 1) {
      if (bytesPer === 2) b.swap16();
      else if (bytesPer === 4) b.swap32();
      else b.swap64();
    }
    return b.buffer.slice(b.byteOffset, b.byteOffset + b.length);
  };
  switch (type) {
    case MI.INT8:
      return new Int8Array(copy(1));
    case MI.UINT8:
    case MI.UTF8:
      return new Uint8Array(copy(1));
    case MI.INT16:
      return new Int16Array(copy(2));
    case MI.UINT16:
      return new Uint16Array(copy(2));
    case MI.INT32:
      return new Int32Array(copy(4));
    case MI.UINT32:
      return new Uint32Array(copy(4));
    case MI.SINGLE:
      return new Float32Array(copy(4));
    case MI.DOUBLE:
      return new Float64Array(copy(8));
    case MI.INT64:
    case MI.UINT64: {
      const big = type === MI.INT64 ? new BigInt64Array(copy(8)) : new BigUint64Array(copy(8));
      return Float64Array.from(big, (v) => Number(v));
    }
    default:
      throw new DataError(`MAT-file ${file} has data of type ${type}; expected a numeric type (1–7, 9, 12, 13)`);
  }
}

function readMatrix(body: Buffer, le: boolean, file: string): MatArray | null {
  let off = 0;
  const flags = readElement(body, off, le, file);
  off = flags.next;
  const cls = (le ? flags.body.readUInt32LE(0) : flags.body.readUInt32BE(0)) & 0xff;
  const complex = ((le ? flags.body.readUInt32LE(0) : flags.body.readUInt32BE(0)) >>> 11) & 1;
  const className = MX_CLASS[cls];
  const dimsEl = readElement(body, off, le, file);
  off = dimsEl.next;
  const dims = Array.from(typed(dimsEl.type, dimsEl.body, le, file));
  const nameEl = readElement(body, off, le, file);
  off = nameEl.next;
  const name = nameEl.body.toString('latin1');
  // cells, structs, objects, sparse and char arrays are not used by these datasets: skip them
  if (!className) return null;
  if (complex) throw new DataError(`MAT-file ${file} variable '${name}' is complex; expected a real array`);
  const real = readElement(body, off, le, file);
  const data = typed(real.type, real.body, le, file);
  const count = dims.reduce((a, b) => a * b, 1);
  if (data.length !== count) {
    throw new DataError(
      `MAT-file ${file} variable '${name}' holds ${fmtInt(data.length)} values; its dims [${dims.join('×')}] ` +
        `need ${fmtInt(count)}`,
    );
  }
  return { name, className, dims, data };
}

/** Parse a level-5 MAT-file; returns its numeric variables by name. */
export function readMat(buf: Buffer, file = 'file'): Map<string, MatArray> {
  if (buf.length < 128)
    throw new DataError(`MAT-file ${file} is ${fmtInt(buf.length)} bytes; expected a 128-byte header and data`);
  const head = buf.subarray(0, 116).toString('latin1');
  if (head.startsWith('\x89HDF') || buf.subarray(512, 516).toString('latin1') === '\x89HDF') {
    throw new DataError(`MAT-file ${file} is MATLAB v7.3 (HDF5); expected a level-5 MAT-file (save with -v7)`);
  }
  const endian = buf.subarray(126, 128).toString('latin1');
  if (endian !== 'IM' && endian !== 'MI') {
    throw new DataError(`${file} is not a level-5 MAT-file: endian indicator is '${endian}'; expected 'IM' or 'MI'`);
  }
  const le = endian === 'IM';
  const out = new Map<string, MatArray>();
  const walk = (b: Buffer) => {
    let off = 0;
    while (off + 8 <= b.length) {
      const el = readElement(b, off, le, file);
      off = el.next;
      if (el.type === MI.COMPRESSED) {
        let inner: Buffer;
        try {
          inner = zlib.inflateSync(el.body);
        } catch (e) {
          throw new DataError(
            `MAT-file ${file} has a compressed element that does not inflate: ${(e as Error).message}`,
          );
        }
        walk(inner);
      } else if (el.type === MI.MATRIX) {
        if (el.body.length === 0) continue;
        const m = readMatrix(el.body, le, file);
        if (m) out.set(m.name, m);
      }
    }
  };
  walk(buf.subarray(128));
  return out;
}

/** One variable, with a clear error when it is absent. */
export function matVar(vars: Map<string, MatArray>, name: string, file: string): MatArray {
  const v = vars.get(name);
  if (!v)
    throw new DataError(
      `MAT-file ${file} has no variable '${name}'; it holds: ${[...vars.keys()].join(', ') || 'nothing numeric'}`,
    );
  return v;
}

// ---------------------------------------------------------------------------------------------------------------
// Writer (tests and tools): uint8 and double arrays, optionally compressed.

function tag(type: number, n: number): Buffer {
  const b = Buffer.alloc(8);
  b.writeUInt32LE(type, 0);
  b.writeUInt32LE(n, 4);
  return b;
}

function padded(type: number, body: Buffer): Buffer {
  return Buffer.concat([tag(type, body.length), body, Buffer.alloc((8 - (body.length % 8)) % 8)]);
}

export interface MatWriteVar {
  name: string;
  className: 'uint8' | 'double';
  dims: number[];
  /** Column-major values. */
  data: ArrayLike<number>;
  /** Store this type instead of the class's own (MATLAB stores small doubles as uint8, for instance). */
  storeAs?: 'uint8' | 'uint16' | 'double';
}

export function writeMat(vars: MatWriteVar[], opts: { compress?: boolean } = {}): Buffer {
  const header = Buffer.alloc(128, 0x20);
  header.write('MATLAB 5.0 MAT-file, written by lightvit-lab', 0, 'latin1');
  header.fill(0, 116, 124);
  header.writeUInt16LE(0x0100, 124);
  header.write('IM', 126, 'latin1');
  const parts: Buffer[] = [header];
  for (const v of vars) {
    const flags = Buffer.alloc(8);
    flags.writeUInt32LE(v.className === 'uint8' ? 9 : 6, 0);
    const dims = Buffer.alloc(4 * v.dims.length);
    v.dims.forEach((d, i) => dims.writeInt32LE(d, 4 * i));
    const store = v.storeAs ?? v.className;
    let real: Buffer;
    if (store === 'uint8') real = padded(MI.UINT8, Buffer.from(Uint8Array.from(v.data)));
    else if (store === 'uint16') real = padded(MI.UINT16, Buffer.from(Uint16Array.from(v.data).buffer));
    else real = padded(MI.DOUBLE, Buffer.from(Float64Array.from(v.data).buffer));
    const name = Buffer.from(v.name, 'latin1');
    // names of up to 4 bytes use the small data element form
    const nameEl =
      name.length <= 4
        ? (() => {
            const b = Buffer.alloc(8);
            b.writeUInt32LE((name.length << 16) | MI.INT8, 0);
            name.copy(b, 4);
            return b;
          })()
        : padded(MI.INT8, name);
    const body = Buffer.concat([padded(MI.UINT32, flags), padded(MI.INT32, dims), nameEl, real]);
    const matrix = Buffer.concat([tag(MI.MATRIX, body.length), body]);
    if (opts.compress) {
      const z = zlib.deflateSync(matrix);
      parts.push(tag(MI.COMPRESSED, z.length), z);
    } else parts.push(matrix);
  }
  return Buffer.concat(parts);
}
