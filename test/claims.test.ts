import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import {
  claimEffect,
  claimRows,
  claimsJsonLines,
  formatClaims,
  listClaims,
  verdictOf,
} from '../src/experiments/claims';
import { datasetFor, standInLine, seedsFor } from '../src/experiments/common';
import { denseFfnOverrides } from '../src/experiments/mlit';
import '../src/experiments';
import { resolveConfig } from '../src/models';
import { mlitClosedFormParams, type MlitConfig } from '../src/models/mlit';
import { superClassCount, randomBalancedGroups, clusterConfusion } from '../src/analysis/superclass';
import type { ResultRecord } from '../src/report/types';

/** A stored run with just what the claims read. */
function rec(
  experiment: string,
  variant: string,
  seed: number,
  top1: number,
  extra: Partial<ResultRecord> = {},
): ResultRecord {
  return {
    experiment,
    paper: 'mlit',
    variant,
    scale: 'quick',
    dataset: 'fashion-mnist',
    synthetic: false,
    model: 'm',
    config: {},
    seed,
    backend: 'cpu',
    versions: {},
    metrics: { top1 },
    wallTimeS: 1,
    timestamp: `2026-12-03T00:00:0${seed}Z`,
    key: `${variant}|${seed}`,
    ...extra,
  };
}

describe('the verdict rule', () => {
  it('agrees or disagrees only with ≥ 3 seeds and |effect| ≥ 2 std', () => {
    expect(verdictOf(5, 1, 3)).toBe('agrees');
    expect(verdictOf(-5, 1, 3)).toBe('disagrees');
    expect(verdictOf(2, 1, 3)).toBe('agrees'); // exactly 2 std is enough
    expect(verdictOf(1.9, 1, 3)).toBe('inconclusive');
    expect(verdictOf(5, 1, 2)).toBe('inconclusive');
    expect(verdictOf(0, 0, 3)).toBe('inconclusive');
    expect(verdictOf(Number.NaN, 1, 3)).toBe('inconclusive');
  });

  it('pairs arms by seed: effect = mean of per-seed differences (points), std = their sample std', () => {
    const a = [rec('x', 'A', 0, 0.7), rec('x', 'A', 1, 0.72), rec('x', 'A', 2, 0.74)];
    const b = [rec('x', 'B', 0, 0.6), rec('x', 'B', 1, 0.64), rec('x', 'B', 2, 0.65)];
    const e = claimEffect(a, b);
    // differences 10, 8, 9 points
    expect(e.seeds).toBe(3);
    expect(e.effect).toBeCloseTo(9, 10);
    expect(e.std).toBeCloseTo(1, 10);
  });

  it('a re-run of a seed replaces the older record of that seed', () => {
    const a = [rec('x', 'A', 0, 0.1), rec('x', 'A', 0, 0.5, { timestamp: '2026-12-04T00:00:00Z' })];
    const b = [rec('x', 'B', 0, 0.4)];
    expect(claimEffect(a, b).effect).toBeCloseTo(10, 10);
  });

  it('unpaired arms: difference of means with the pooled standard error', () => {
    const a = [rec('x', 'A', 0, 0.5), rec('x', 'A', 1, 0.7)];
    const b = [rec('x', 'B', 5, 0.4), rec('x', 'B', 6, 0.4)];
    const e = claimEffect(a, b);
    expect(e.effect).toBeCloseTo(20, 10);
    expect(e.std).toBeCloseTo(Math.sqrt(200 / 2), 10); // sA² = 200 (points²), sB² = 0
    expect(e.seeds).toBe(2);
  });
});

describe('claims table', () => {
  it('every paper registers at least one claim', () => {
    const papers = new Set(listClaims().map((c) => c.paper));
    expect([...papers].sort()).toEqual(['dwnet', 'eit', 'mae', 'mlit', 'mobile-vmoe']);
  });

  it('one row per claim and (dataset, scale), from stored records only', () => {
    const c = listClaims('mlit')[0];
    const records = [0, 1, 2].flatMap((s) => [
      rec(c.experiment, c.a, s, 0.7 + s / 100),
      rec(c.experiment, c.b, s, 0.6),
    ]);
    records.push(
      rec(c.experiment, c.a, 0, 0.5, { scale: 'smoke' }),
      rec(c.experiment, c.b, 0, 0.4, { scale: 'smoke' }),
    );
    const rows = claimRows(records, { paper: 'mlit' });
    expect(rows.map((r) => [r.scale, r.seeds, r.verdict])).toEqual([
      ['quick', 3, 'agrees'],
      ['smoke', 1, 'inconclusive'],
    ]);
    expect(rows[0].effect).toBeCloseTo(11, 10);
    expect(claimRows(records, { paper: 'mlit', scale: 'smoke' })).toHaveLength(1);
    expect(claimRows(records, { paper: 'eit' })).toEqual([]);
  });

  it('arms can be found by extra.claimArm when labels change with the scale', () => {
    const c = listClaims('mobile-vmoe').find((x) => x.id === 'vmoe.moe-vs-dense')!;
    const records = [0, 1, 2].flatMap((s) => [
      rec(c.experiment, 'MoE 6x64/p8', s, 0.5, { extra: { claimArm: c.a } }),
      rec(c.experiment, 'dense 6x64/p8', s, 0.55 + s / 100, { extra: { claimArm: c.b } }),
    ]);
    const [row] = claimRows(records, { paper: 'mobile-vmoe' });
    expect(row.verdict).toBe('disagrees');
    expect(row.effect).toBeCloseTo(-6, 10);
  });

  it('--json lines carry exactly the documented fields; the text table has a header and a row per claim', () => {
    const c = listClaims('dwnet')[0];
    const records = [0, 1, 2].flatMap((s) => [rec(c.experiment, c.a, s, 0.8), rec(c.experiment, c.b, s, 0.8)]);
    const rows = claimRows(records, { paper: 'dwnet' });
    const lines = claimsJsonLines(rows)
      .split('\n')
      .map((l) => JSON.parse(l));
    expect(Object.keys(lines[0])).toEqual(['paper', 'claim', 'dataset', 'scale', 'seeds', 'effect', 'std', 'verdict']);
    expect(lines[0]).toMatchObject({
      paper: 'dwnet',
      dataset: 'fashion-mnist',
      scale: 'quick',
      seeds: 3,
      effect: 0,
      std: 0,
      verdict: 'inconclusive',
    });
    const text = formatClaims(rows).split('\n');
    expect(text[0]).toMatch(/^paper\s+claim\s+dataset\s+scale\s+seeds\s+effect\s+std\s+verdict$/);
    expect(text).toHaveLength(2 + rows.length);
    expect(formatClaims([])).toMatch(/no claims can be evaluated yet/);
  });
});

describe('which data a run uses', () => {
  let dir: string;
  const saved = { data: process.env.LIGHTVIT_DATA_DIR, fm: process.env.LIGHTVIT_FASHION_MNIST_DIR };
  beforeEach(() => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'lightvit-choice-'));
    process.env.LIGHTVIT_DATA_DIR = dir;
    process.env.LIGHTVIT_FASHION_MNIST_DIR = path.join(dir, 'no-fashion-here');
  });
  afterEach(() => {
    for (const [k, v] of [
      ['LIGHTVIT_DATA_DIR', saved.data],
      ['LIGHTVIT_FASHION_MNIST_DIR', saved.fm],
    ] as const) {
      if (v === undefined) delete process.env[k];
      else process.env[k] = v;
    }
    fs.rmSync(dir, { recursive: true, force: true });
  });
  const real = { preferReal: true };

  it('CIFAR-10 slot: synth10 when no real data is present, and the stand-in is said', () => {
    expect(datasetFor(real, 'cifar10')).toBe('synth10');
    expect(standInLine(real, 'cifar10')).toMatch(
      /synth10 \(synthetic data\) stands in for cifar10: cifar10 is not downloaded/,
    );
    expect(datasetFor(real, 'cifar100')).toBe('synth100');
    expect(datasetFor(real, 'svhn')).toBe('');
  });

  it('CIFAR-10 slot: Fashion-MNIST when found, unless --synth; CIFAR-10 itself when downloaded', () => {
    const fm = path.join(dir, 'fm');
    fs.mkdirSync(fm);
    for (const f of [
      'train-images-idx3-ubyte',
      'train-labels-idx1-ubyte',
      't10k-images-idx3-ubyte',
      't10k-labels-idx1-ubyte',
    ]) {
      fs.writeFileSync(path.join(fm, `${f}.gz`), '');
    }
    process.env.LIGHTVIT_FASHION_MNIST_DIR = fm;
    expect(datasetFor(real, 'cifar10')).toBe('fashion-mnist');
    expect(standInLine(real, 'cifar10')).toMatch(/fashion-mnist \(real data\) stands in for cifar10/);
    expect(datasetFor({ preferReal: false }, 'cifar10')).toBe('synth10');
    expect(datasetFor(real, 'cifar100')).toBe('synth100'); // no 100-class real set offline
    const batches = path.join(dir, 'cifar10', 'cifar-10-batches-bin');
    fs.mkdirSync(batches, { recursive: true });
    for (const f of ['data_batch_1', 'data_batch_2', 'data_batch_3', 'data_batch_4', 'data_batch_5', 'test_batch']) {
      fs.writeFileSync(path.join(batches, `${f}.bin`), '');
    }
    expect(datasetFor(real, 'cifar10')).toBe('cifar10');
    expect(standInLine(real, 'cifar10')).toBe('');
  });

  it('--data forces one dataset for every slot, and says so', () => {
    const forced = { preferReal: true, data: 'synth100' };
    expect(datasetFor(forced, 'cifar10')).toBe('synth100');
    expect(datasetFor(forced, 'svhn')).toBe('synth100');
    expect(standInLine(forced, 'cifar10')).toMatch(/forced by --data/);
  });

  it('headline comparisons run 3 seeds at quick and paper scale, one at smoke', () => {
    expect(seedsFor({ scale: 'quick', seed: 0 })).toEqual([0, 1, 2]);
    expect(seedsFor({ scale: 'paper', seed: 5 })).toEqual([5, 6, 7]);
    expect(seedsFor({ scale: 'smoke', seed: 0 })).toEqual([0]);
  });
});

describe('confound-free arms and fitted super-classes', () => {
  it("mLiT's dense arm has the MoE arm's parameter count within 0.5% and one expert per block", () => {
    for (const size of ['xxs', 'xs', 's']) {
      const c = resolveConfig<MlitConfig>(`mlit-${size}`, { imageSize: 32, patchSize: 4, depth: 3, numClasses: 10 });
      const dense = resolveConfig<MlitConfig>(`mlit-${size}`, {
        imageSize: 32,
        patchSize: 4,
        depth: 3,
        numClasses: 10,
        ...denseFfnOverrides(c),
      });
      expect(dense.expertsPerBlock).toEqual([1, 1, 1]);
      const [pm, pd] = [mlitClosedFormParams(c), mlitClosedFormParams(dense)];
      expect(Math.abs(pd - pm) / pm).toBeLessThan(0.005);
      expect(pd).not.toBe(mlitClosedFormParams({ ...dense, hiddenSizes: [] } as MlitConfig));
    }
  });

  /** A confusion matrix of n classes confused only within the given blocks. */
  const blocky = (blocks: number[][], n: number) => {
    const m: number[][] = Array.from({ length: n }, (_, i) => Array.from({ length: n }, (_, j) => (i === j ? 100 : 0)));
    for (const b of blocks) for (const i of b) for (const j of b) if (i !== j) m[i][j] = 10 + ((i * 7 + j * 3) % 5);
    return m;
  };

  it('the eigengap finds the number of confusion groups', () => {
    const two = blocky(
      [
        [0, 1, 2, 3, 4],
        [5, 6, 7, 8, 9],
      ],
      10,
    );
    expect(superClassCount(two, { minK: 2, maxK: 5 })).toBe(2);
    const five = blocky(
      [
        [0, 1],
        [2, 3],
        [4, 5],
        [6, 7],
        [8, 9],
      ],
      10,
    );
    expect(superClassCount(five, { minK: 2, maxK: 5 })).toBe(5);
    const a = clusterConfusion(two, 2, { seed: 0 }).assignment;
    expect(a).toEqual([0, 0, 0, 0, 0, 1, 1, 1, 1, 1]);
  });

  it('random balanced groups: balanced, seeded, different from the identity order', () => {
    const g = randomBalancedGroups(10, 3, 0);
    expect(g).toEqual(randomBalancedGroups(10, 3, 0));
    expect([0, 1, 2].map((k) => g.filter((x) => x === k).length).sort()).toEqual([3, 3, 4]);
    expect(g).not.toEqual(randomBalancedGroups(10, 3, 1));
  });
});
