import * as fs from 'node:fs';
import * as path from 'node:path';
import { appendLine, dataDir } from '../util/fsx';
import { LightvitError } from '../util/errors';
import type { Scale } from '../util/scale';
import type { ResultRecord } from './types';

/**
 * The results store: one append-only JSONL file, `<dataDir()>/results/results.jsonl`, one ResultRecord per line.
 * Each append is a single write followed by fsync, so an interrupted run leaves at most one torn last line, which
 * readers skip. A re-run appends a new line with the same key; readers keep the newest line per key.
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
    if (typeof v !== 'string' || v === '') throw new LightvitError(`record key part ${k}=${JSON.stringify(v)}; expected a non-empty string`);
    if (v.includes('|')) throw new LightvitError(`record key part ${k}='${v}' contains '|', the key separator`);
  }
  if (!Number.isInteger(p.seed)) throw new LightvitError(`record key part seed=${JSON.stringify(p.seed)}; expected an integer`);
  return [p.experiment, p.variant, p.scale, p.dataset, p.seed].join('|');
}

const REQUIRED_STRINGS = ['experiment', 'paper', 'variant', 'scale', 'dataset', 'model', 'key'] as const;

function checkRecord(rec: ResultRecord): void {
  for (const k of REQUIRED_STRINGS) {
    const v = (rec as unknown as Record<string, unknown>)[k];
    if (typeof v !== 'string' || v === '') throw new LightvitError(`result record field ${k}=${JSON.stringify(v)}; expected a non-empty string`);
  }
  if (typeof rec.metrics !== 'object' || rec.metrics === null) {
    throw new LightvitError(`result record '${rec.key}' has metrics=${JSON.stringify(rec.metrics)}; expected an object of numbers`);
  }
  for (const [k, v] of Object.entries(rec.metrics)) {
    if (typeof v !== 'number') throw new LightvitError(`result record '${rec.key}' metric ${k}=${JSON.stringify(v)}; expected a number`);
  }
}

/** True when the file exists, is non-empty and does not end with a newline (a torn last line). */
function endsTorn(file: string): boolean {
  let fd: number;
  try {
    fd = fs.openSync(file, 'r');
  } catch {
    return false;
  }
  try {
    const size = fs.fstatSync(fd).size;
    if (size === 0) return false;
    const b = Buffer.alloc(1);
    fs.readSync(fd, b, 0, 1, size - 1);
    return b[0] !== 0x0a;
  } finally {
    fs.closeSync(fd);
  }
}

/**
 * Append one record (single write + fsync). If an earlier crash left a torn last line, the new record starts on a
 * fresh line so that it is not glued to the fragment.
 */
export function appendRecord(rec: ResultRecord, file = resultsFile()): void {
  checkRecord(rec);
  const json = JSON.stringify(rec, (_k, v) => (typeof v === 'number' && !Number.isFinite(v) ? null : v));
  appendLine(file, (endsTorn(file) ? '\n' : '') + json);
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

/** Parse JSONL text: skips blank lines and a torn last line; a corrupt line elsewhere is skipped with a warning. */
export function parseRecords(text: string, source = 'results.jsonl'): ResultRecord[] {
  const lines = text.split('\n');
  const out: ResultRecord[] = [];
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i].trim();
    if (!line) continue;
    try {
      out.push(JSON.parse(line) as ResultRecord);
    } catch {
      const isLast = lines.slice(i + 1).every((l) => l.trim() === '');
      if (!isLast) console.warn(`${source}: line ${i + 1} is not valid JSON (${line.slice(0, 60)}...); skipped`);
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
