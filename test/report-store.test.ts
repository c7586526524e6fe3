import { describe, it, expect, beforeEach } from 'vitest';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import {
  appendRecord,
  hasRecord,
  latestByKey,
  loadRecords,
  makeRecordKey,
  resultsFile,
  getRecord,
} from '../src/report/store';
import { fakeRecord } from './helpers/records';

let dir: string;
beforeEach(() => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'lv-store-'));
  process.env.LIGHTVIT_DATA_DIR = dir;
});

describe('results store', () => {
  it('lives at <dataDir>/results/results.jsonl, one JSON object per line', () => {
    appendRecord(fakeRecord({ variant: 'a', metrics: { top1: 0.5 } }));
    appendRecord(fakeRecord({ variant: 'b', metrics: { top1: 0.6 } }));
    expect(resultsFile()).toBe(path.join(dir, 'results', 'results.jsonl'));
    const lines = fs.readFileSync(resultsFile(), 'utf8').split('\n');
    expect(lines).toHaveLength(3);
    expect(lines[2]).toBe('');
    expect(JSON.parse(lines[1]).variant).toBe('b');
  });

  it('makeRecordKey joins experiment|variant|scale|dataset|seed and rejects bad parts', () => {
    expect(
      makeRecordKey({ experiment: 'mlit.scratch', variant: 'mlit-xxs', scale: 'quick', dataset: 'synth100', seed: 2 }),
    ).toBe('mlit.scratch|mlit-xxs|quick|synth100|2');
    expect(() => makeRecordKey({ experiment: 'x', variant: 'a|b', scale: 'quick', dataset: 'd', seed: 0 })).toThrow(
      /variant='a\|b'/,
    );
    expect(() => makeRecordKey({ experiment: 'x', variant: 'a', scale: 'quick', dataset: 'd', seed: 0.5 })).toThrow(
      /seed=0.5/,
    );
  });

  it('skips a torn last line silently, and the next append cuts it away (no warning forever after)', () => {
    appendRecord(fakeRecord({ variant: 'a', metrics: { top1: 0.5 } }));
    const whole = JSON.stringify(fakeRecord({ variant: 'torn', metrics: { top1: 0.9 } }));
    fs.appendFileSync(resultsFile(), whole.slice(0, 40)); // a crash in the middle of a write
    const warn = console.warn;
    const warnings: string[] = [];
    console.warn = (m: string) => warnings.push(m);
    try {
      expect(loadRecords().map((r) => r.variant)).toEqual(['a']);
      appendRecord(fakeRecord({ variant: 'c', metrics: { top1: 0.7 } }));
      expect(loadRecords().map((r) => r.variant)).toEqual(['a', 'c']);
    } finally {
      console.warn = warn;
    }
    expect(warnings).toEqual([]);
    const lines = fs.readFileSync(resultsFile(), 'utf8').split('\n');
    expect(lines).toHaveLength(3); // two records and the final newline: the fragment is gone
    expect(lines.every((l) => l === '' || JSON.parse(l).variant)).toBe(true);
  });

  it('a valid-JSON line that is not a record ({}, null, 42) is skipped with one warning naming the line', () => {
    appendRecord(fakeRecord({ variant: 'a', metrics: { top1: 0.5 } }));
    fs.appendFileSync(resultsFile(), '{}\nnull\n42\n');
    appendRecord(fakeRecord({ variant: 'b', metrics: { top1: 0.6 } }));
    const warn = console.warn;
    const warnings: string[] = [];
    console.warn = (m: string) => warnings.push(m);
    try {
      expect(loadRecords().map((r) => r.variant)).toEqual(['a', 'b']);
      expect(loadRecords({ allVersions: true }).map((r) => r.variant)).toEqual(['a', 'b']); // warned once only
    } finally {
      console.warn = warn;
    }
    expect(warnings).toHaveLength(3);
    expect(warnings[0]).toMatch(/line 2 is valid JSON but not a result record.*\{\}; skipped/);
    expect(warnings[1]).toMatch(/line 3 .*null/);
    expect(warnings[2]).toMatch(/line 4 .*42/);
  });

  it('filters by paper, experiment, scale and dataset', () => {
    appendRecord(fakeRecord({ variant: 'a', paper: 'mlit', experiment: 'mlit.scratch', metrics: { top1: 0.1 } }));
    appendRecord(
      fakeRecord({ variant: 'b', paper: 'mlit', experiment: 'mlit.ablation', scale: 'quick', metrics: { top1: 0.2 } }),
    );
    appendRecord(
      fakeRecord({ variant: 'c', paper: 'eit', experiment: 'eit.main', dataset: 'synth100', metrics: { top1: 0.3 } }),
    );
    expect(loadRecords({ paper: 'mlit' }).map((r) => r.variant)).toEqual(['a', 'b']);
    expect(loadRecords({ experiment: 'mlit.ablation' }).map((r) => r.variant)).toEqual(['b']);
    expect(loadRecords({ scale: 'smoke' }).map((r) => r.variant)).toEqual(['a', 'c']);
    expect(loadRecords({ dataset: 'synth100' }).map((r) => r.variant)).toEqual(['c']);
    expect(loadRecords({ paper: 'mlit', scale: 'quick' }).map((r) => r.variant)).toEqual(['b']);
    expect(loadRecords({ paper: 'mae' })).toEqual([]);
  });

  it('a re-run replaces the earlier record with the same key (newest wins)', () => {
    const old = fakeRecord({ variant: 'a', metrics: { top1: 0.5 }, timestamp: '2024-01-01T00:00:00Z' });
    appendRecord(old);
    appendRecord(fakeRecord({ variant: 'b', metrics: { top1: 0.6 } }));
    appendRecord(fakeRecord({ variant: 'a', metrics: { top1: 0.8 }, timestamp: '2024-02-01T00:00:00Z' }));
    const latest = loadRecords();
    expect(latest.map((r) => [r.variant, r.metrics.top1])).toEqual([
      ['b', 0.6],
      ['a', 0.8],
    ]);
    expect(loadRecords({ allVersions: true })).toHaveLength(3);
    expect(latestByKey([old, { ...old, metrics: { top1: 1 } }])[0].metrics.top1).toBe(1);
    expect(hasRecord(old.key)).toBe(true);
    expect(hasRecord('kit.test|zzz|smoke|synth10|0')).toBe(false);
    expect(getRecord(old.key)!.metrics.top1).toBe(0.8);
  });

  it('a missing store is empty; malformed records are refused before writing', () => {
    expect(loadRecords()).toEqual([]);
    expect(hasRecord('x')).toBe(false);
    expect(() => appendRecord(fakeRecord({ variant: 'a', metrics: { top1: 'high' as unknown as number } }))).toThrow(
      /metric top1="high"/,
    );
    expect(() => appendRecord({ ...fakeRecord({ variant: 'a', metrics: {} }), dataset: '' })).toThrow(/dataset=""/);
    expect(fs.existsSync(resultsFile())).toBe(false);
  });
});

describe('run versions', () => {
  it(
    'a re-run of the same run with another model/recipe fingerprint replaces the old one; different seeds both ' +
      'stay',
    async () => {
      const base = { experiment: 'e', paper: 'kit', variant: 'v', scale: 'quick', dataset: 'synth10' } as const;
      const mk = (seed: number, fp: string, top1: number) =>
        ({ ...base, seed, key: `e|v|quick|synth10|${seed}|${fp}`, metrics: { top1 } }) as never;
      const out = latestByKey([mk(0, 'aaaa', 0.1), mk(1, 'aaaa', 0.2), mk(0, 'bbbb', 0.3)]);
      expect(out.map((r) => [r.seed, r.metrics.top1])).toEqual([
        [1, 0.2],
        [0, 0.3],
      ]);
    },
  );
});
