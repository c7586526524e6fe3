import * as fs from 'node:fs';
import * as path from 'node:path';
import { appendLine, dataDir } from '../util/fsx';
import { LightvitError } from '../util/errors';
import type { Scale } from '../util/scale';
import type { ResultRecord } from './types';

/**
 * The results store: one append-only JSONL file, `<dataDir()>/results/results.jsonl`, one ResultRecord per line.
 * Each append is a single write followed by fsync, so an interrupted run leaves at most one torn last line, which
 * readers skip and the next append cuts away. A line that is valid JSON but not a record (`{}`, `null`, `42`) is
 * skipped with a warning naming it. A re-run appends a new line with the same key; readers keep the newest line per
 * key.
 */
export function resultsFile(): string {
  return path.join(dataDir(), 'results', 'results.jsonl');
}

export interface RecordKeyParts {
  experiment: string;
  variant: string;
  scale: Scale | string;
  dataset: string;
  seed: number;
}

/** Identity of a run: `experiment|variant|scale|dataset|seed`. */
export function makeRecordKey(p: RecordKeyParts): string {
  for (const k of ['experiment', 'variant', 'scale', 'dataset'] as const) {
    const v = p[k];
    if (typeof v !== 'string' || v === '')
      throw new LightvitError(`record key part ${k}=${JSON.stringify(v)}; expected a non-empty string`);
    if (v.includes('|')) throw new LightvitError(`record key part ${k}='${v}' contains '|', the key separator`);
  }
  if (!Number.isInteger(p.seed))
    throw new LightvitError(`record key part seed=${JSON.stringify(p.seed)}; expected an integer`);
  return [p.experiment, p.variant, p.scale, p.dataset, p.seed].join('|');
}

const REQUIRED_STRINGS = ['experiment', 'paper', 'variant', 'scale', 'dataset', 'model', 'key'] as const;

function checkRecord(rec: ResultRecord): void {
  for (const k of REQUIRED_STRINGS) {
    const v = (rec as unknown as Record<string, unknown>)[k];
    if (typeof v !== 'string' || v === '')
      throw new LightvitError(`result record field ${k}=${JSON.stringify(v)}; expected a non-empty string`);
  }
  if (typeof rec.metrics !== 'object' || rec.metrics === null) {
    throw new LightvitError(
      `result record '${rec.key}' has metrics=${JSON.stringify(rec.metrics)}; expected an object of numbers`,
    );
  }
  for (const [k, v] of Object.entries(rec.metrics)) {
    if (typeof v !== 'number')
      throw new LightvitError(`result record '${rec.key}' metric ${k}=${JSON.stringify(v)}; expected a number`);
  }
}

/**
 * Length of the file without its torn last line (the bytes after the last newline), or -1 when it does not end
 * torn (absent, empty, or ending with a newline).
 */
function intactLength(file: string): number {
  let fd: number;
  try {
    fd = fs.openSync(file, 'r');
  } catch {
    return -1;
  }
  try {
    const size = fs.fstatSync(fd).size;
    if (size === 0) return -1;
    const chunk = Buffer.alloc(Math.min(size, 1 << 16));
    let end = size;
    let first = true;
    while (end > 0) {
      const n = Math.min(chunk.length, end);
      fs.readSync(fd, chunk, 0, n, end - n);
      if (first && chunk[n - 1] === 0x0a) return -1;
      first = false;
      const nl = chunk.subarray(0, n).lastIndexOf(0x0a);
      if (nl >= 0) return end - n + nl + 1;
      end -= n;
    }
    return 0;
  } finally {
    fs.closeSync(fd);
  }
}

/**
 * Append one record (single write + fsync). A torn last line left by an earlier crash is cut away first (it never
 * was a record), so it is not glued to the new line and not warned about forever.
 */
export function appendRecord(rec: ResultRecord, file = resultsFile()): void {
  checkRecord(rec);
  const json = JSON.stringify(rec, (_k, v) => (typeof v === 'number' && !Number.isFinite(v) ? null : v));
  const keep = intactLength(file);
  if (keep >= 0) fs.truncateSync(file, keep);
  appendLine(file, json);
}

export interface RecordFilter {
  paper?: string;
  experiment?: string;
  scale?: Scale | string;
  dataset?: string;
  variant?: string;
  /** Keep every stored line, re-runs included (default: newest record per key). */
  allVersions?: boolean;
}

/** True when a parsed line has what readers rely on: the key fields as strings, a seed and a metrics object. */
export function isRecord(v: unknown): v is ResultRecord {
  if (!v || typeof v !== 'object' || Array.isArray(v)) return false;
  const r = v as Record<string, unknown>;
  return (
    REQUIRED_STRINGS.every((k) => typeof r[k] === 'string' && r[k] !== '') &&
    typeof r.seed === 'number' &&
    !!r.metrics &&
    typeof r.metrics === 'object' &&
    !Array.isArray(r.metrics)
  );
}

const warned = new Set<string>();

/**
 * Parse JSONL text: skips blank lines and a torn last line (silently: the next append removes it); a line elsewhere
 * that is not valid JSON, or valid JSON but not a record, is skipped with one warning naming it (once per process).
 */
export function parseRecords(text: string, source = 'results.jsonl'): ResultRecord[] {
  const lines = text.split('\n');
  const out: ResultRecord[] = [];
  const torn = !text.endsWith('\n');
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i].trim();
    if (!line) continue;
    let v: unknown;
    let why: string;
    try {
      v = JSON.parse(line);
      if (isRecord(v)) {
        out.push(v);
        continue;
      }
      why = 'is valid JSON but not a result record (expected an object with experiment, key, seed, metrics, ...)';
    } catch {
      if (torn && i === lines.length - 1) continue; // an interrupted append
      why = 'is not valid JSON';
    }
    const shown = line.length > 60 ? `${line.slice(0, 60)}...` : line;
    const msg = `${source}: line ${i + 1} ${why}: ${shown}; skipped`;
    if (!warned.has(msg)) {
      warned.add(msg);
      console.warn(msg);
    }
  }
  return out;
}

/** The newest record per key (later lines replace earlier ones), in order of each key's newest line. */
export function latestByKey(records: ResultRecord[]): ResultRecord[] {
  // the run's identity is the first five key fields; a sixth (a fingerprint of model and recipe) distinguishes
  // versions of the same run, of which the newest wins
  const identity = (r: ResultRecord) => r.key.split('|').slice(0, 5).join('|');
  const last = new Map<string, number>();
  records.forEach((r, i) => last.set(identity(r), i));
  return records.filter((r, i) => last.get(identity(r)) === i);
}

/** Stored records matching the filter, newest per key unless `allVersions`. */
export function loadRecords(filter: RecordFilter = {}, file = resultsFile()): ResultRecord[] {
  let text: string;
  try {
    text = fs.readFileSync(file, 'utf8');
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return [];
    throw e;
  }
  const all = parseRecords(text, file);
  const picked = filter.allVersions ? all : latestByKey(all);
  return picked.filter(
    (r) =>
      (filter.paper === undefined || r.paper === filter.paper) &&
      (filter.experiment === undefined || r.experiment === filter.experiment) &&
      (filter.scale === undefined || r.scale === filter.scale) &&
      (filter.dataset === undefined || r.dataset === filter.dataset) &&
      (filter.variant === undefined || r.variant === filter.variant),
  );
}

/** True when a record with this key is stored. */
export function hasRecord(key: string, file = resultsFile()): boolean {
  return loadRecords({ allVersions: true }, file).some((r) => r.key === key);
}

/** The newest stored record with this key, or undefined. */
export function getRecord(key: string, file = resultsFile()): ResultRecord | undefined {
  const all = loadRecords({ allVersions: true }, file);
  for (let i = all.length - 1; i >= 0; i--) if (all[i].key === key) return all[i];
  return undefined;
}
