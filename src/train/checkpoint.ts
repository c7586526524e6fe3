import * as fs from 'node:fs';
import * as tf from '@tensorflow/tfjs';
import type { Module } from '../nn/module';
import { writeFileAtomic } from '../util/fsx';
import { DataError, fmtInt } from '../util/errors';
import type { Optimizer } from './optim';

/**
 * Checkpoint file: "LVCK1\n", a little-endian uint32 header length, a JSON header, then float32 tensor data.
 * Tensors are named `param:<path>` (model), `adam_m:<path>`, `adam_v:<path>` (optimiser). Written atomically.
 */
const MAGIC = 'LVCK1\n';

export interface CheckpointMeta {
  model?: string;
  config?: Record<string, unknown>;
  /** Completed epochs and steps within the current epoch (resume point). */
  epoch?: number;
  stepInEpoch?: number;
  globalStep?: number;
  history?: unknown[];
  optimizerStep?: number;
  /** What was trained (model, config, recipe, data, seed, ...): resuming with another identity is refused. */
  identity?: Record<string, unknown>;
  /** Seconds of wall time spent on this run so far (all sessions, resumed ones included). */
  wallTimeS?: number;
  [k: string]: unknown;
}

interface TensorEntry {
  name: string;
  shape: number[];
  offset: number;
  length: number;
}

export function saveCheckpoint(file: string, model: Module, meta: CheckpointMeta = {}, optimizer?: Optimizer): void {
  const entries: TensorEntry[] = [];
  const chunks: Float32Array[] = [];
  let offset = 0;
  const add = (name: string, t: tf.Tensor) => {
    const data = t.dataSync() as Float32Array;
    entries.push({ name, shape: t.shape, offset, length: data.length });
    chunks.push(data);
    offset += data.length;
  };
  for (const [path, p] of model.namedParams()) add(`param:${path}`, p.value);
  if (optimizer) {
    const st = optimizer.state();
    for (const [path, t] of st.m) add(`adam_m:${path}`, t);
    for (const [path, t] of st.v) add(`adam_v:${path}`, t);
    meta = { ...meta, optimizerStep: st.step };
  }
  const header = Buffer.from(JSON.stringify({ ...meta, tensors: entries }));
  const buf = new Uint8Array(MAGIC.length + 4 + header.length + offset * 4);
  buf.set(Buffer.from(MAGIC), 0);
  new DataView(buf.buffer).setUint32(MAGIC.length, header.length, true);
  buf.set(header, MAGIC.length + 4);
  const base = MAGIC.length + 4 + header.length;
  let pos = base;
  for (const c of chunks) {
    buf.set(new Uint8Array(c.buffer, c.byteOffset, c.byteLength), pos);
    pos += c.byteLength;
  }
  writeFileAtomic(file, buf);
}

export interface LoadedCheckpoint {
  meta: CheckpointMeta;
  tensors: Map<string, { shape: number[]; data: Float32Array }>;
}

export function readCheckpoint(file: string): LoadedCheckpoint {
  if (!fs.existsSync(file)) throw new DataError(`checkpoint ${file} does not exist`);
  const buf = fs.readFileSync(file);
  if (buf.length < MAGIC.length + 4 || buf.subarray(0, MAGIC.length).toString() !== MAGIC) {
    throw new DataError(`${file} is not a lightvit checkpoint (expected it to start with "LVCK1")`);
  }
  const hlen = buf.readUInt32LE(MAGIC.length);
  const base = MAGIC.length + 4 + hlen;
  if (base > buf.length)
    throw new DataError(
      `checkpoint ${file} is truncated: ${fmtInt(buf.length)} bytes, header alone needs ${fmtInt(base)}`,
    );
  let header: CheckpointMeta & { tensors: TensorEntry[] };
  try {
    header = JSON.parse(buf.subarray(MAGIC.length + 4, base).toString()) as CheckpointMeta & { tensors: TensorEntry[] };
  } catch (e) {
    throw new DataError(
      `${file} is not a valid lightvit checkpoint: its header is not valid JSON (${(e as Error).message}); ` +
        'expected the JSON header written by saveCheckpoint (delete the file to start fresh)',
    );
  }
  if (!header || typeof header !== 'object' || !Array.isArray(header.tensors)) {
    throw new DataError(
      `${file} is not a valid lightvit checkpoint: its header has no tensor list; expected {"tensors": [...]}`,
    );
  }
  const total = header.tensors.reduce((s, e) => s + e.length, 0);
  const expected = base + total * 4;
  if (buf.length !== expected)
    throw new DataError(
      `checkpoint ${file} is ${fmtInt(buf.length)} bytes; expected ${fmtInt(expected)} (truncated or corrupt)`,
    );
  const aligned = new Float32Array(total);
  new Uint8Array(aligned.buffer).set(buf.subarray(base, expected));
  const tensors = new Map<string, { shape: number[]; data: Float32Array }>();
  for (const e of header.tensors)
    tensors.set(e.name, { shape: e.shape, data: aligned.subarray(e.offset, e.offset + e.length) });
  const { tensors: _t, ...meta } = header;
  return { meta, tensors };
}

/**
 * Load parameters into a built model. Names must match: a checkpoint that does not fit is an error listing what is
 * missing and what is unexpected (and shape mismatches). `map` renames checkpoint paths (e.g. strip 'encoder.');
 * `allowMissing` / `ignoreUnexpected` select the paths a partial load (fine-tuning) may skip.
 */
export function loadCheckpoint(
  file: string,
  model: Module,
  opts: {
    map?: (path: string) => string | null;
    allowMissing?: (path: string) => boolean;
    ignoreUnexpected?: boolean;
    optimizer?: Optimizer;
  } = {},
): CheckpointMeta {
  const ck = readCheckpoint(file);
  const params = new Map(model.namedParams());
  const incoming = new Map<string, { shape: number[]; data: Float32Array }>();
  for (const [name, t] of ck.tensors) {
    if (!name.startsWith('param:')) continue;
    const mapped = opts.map ? opts.map(name.slice(6)) : name.slice(6);
    if (mapped !== null) incoming.set(mapped, t);
  }
  const missing = [...params.keys()].filter((k) => !incoming.has(k) && !(opts.allowMissing?.(k) ?? false));
  const unexpected = opts.ignoreUnexpected ? [] : [...incoming.keys()].filter((k) => !params.has(k));
  const badShape = [...incoming.entries()]
    .filter(([k, t]) => params.has(k) && params.get(k)!.shape.join('x') !== t.shape.join('x'))
    .map(([k, t]) => `${k}: checkpoint [${t.shape.join(', ')}] vs model [${params.get(k)!.shape.join(', ')}]`);
  if (missing.length || unexpected.length || badShape.length) {
    const parts = [];
    if (missing.length) parts.push(`missing in checkpoint: ${missing.join(', ')}`);
    if (unexpected.length) parts.push(`unexpected in checkpoint: ${unexpected.join(', ')}`);
    if (badShape.length) parts.push(`shape mismatch: ${badShape.join('; ')}`);
    throw new DataError(`checkpoint ${file} does not fit the model — ${parts.join(' | ')}`);
  }
  for (const [k, p] of params) {
    const t = incoming.get(k);
    if (t) tf.tidy(() => p.value.assign(tf.tensor(t.data, t.shape)));
  }
  if (opts.optimizer) {
    const m = new Map<string, Float32Array>();
    const v = new Map<string, Float32Array>();
    for (const [name, t] of ck.tensors) {
      if (name.startsWith('adam_m:')) m.set(name.slice(7), t.data);
      if (name.startsWith('adam_v:')) v.set(name.slice(7), t.data);
    }
    opts.optimizer.loadState(ck.meta.optimizerStep ?? 0, m, v);
  }
  return ck.meta;
}

/**
 * The dotted keys whose values differ between two identities (`recipe.lr: 0.001 → 0.002`), for the message that
 * refuses to resume a checkpoint of another configuration.
 */
export function identityDiff(stored: Record<string, unknown>, wanted: Record<string, unknown>): string[] {
  const out: string[] = [];
  const show = (v: unknown) => (v === undefined ? 'unset' : JSON.stringify(v));
  const walk = (a: unknown, b: unknown, at: string) => {
    const isObj = (v: unknown): v is Record<string, unknown> => !!v && typeof v === 'object' && !Array.isArray(v);
    if (isObj(a) && isObj(b)) {
      for (const k of [...new Set([...Object.keys(a), ...Object.keys(b)])].sort())
        walk(a[k], b[k], at ? `${at}.${k}` : k);
    } else if (JSON.stringify(a) !== JSON.stringify(b)) out.push(`${at}: ${show(a)} → ${show(b)}`);
  };
  walk(stored, wanted, '');
  return out;
}
