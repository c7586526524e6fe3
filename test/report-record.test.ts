import { describe, it, expect } from 'vitest';
import { buildRecord, configurationId, fingerprint, runFingerprint } from '../src/report/record';
import { fingerprint as experimentsFingerprint } from '../src/experiments/common';
import { summarize, toText } from '../src/report/table';
import { defaultRecipe } from '../src/train/recipes';
import type { TrainResult } from '../src/train/trainer';
import { fakeRecord } from './helpers/records';

const result: TrainResult = {
  history: [{ epoch: 1, step: 2, lr: 1e-3, trainLoss: 2, aux: {}, trainTop1: 0.2, testTop1: 0.3, seconds: 1 }],
  final: { top1: 0.3, top5: 0.8, loss: 1.9 },
  steps: 2,
  wallTimeS: 12,
  imgPerS: 50,
};

describe('run identity and the one record builder', () => {
  it('fingerprints are stable, key-order free, and the experiments use the same function', () => {
    expect(fingerprint({ a: 1, b: [1, { c: 2, d: 3 }] })).toBe(fingerprint({ b: [1, { d: 3, c: 2 }], a: 1 }));
    expect(fingerprint({ a: 1 })).not.toBe(fingerprint({ a: 2 }));
    expect(experimentsFingerprint).toBe(fingerprint);
    const id = { model: 'vit', config: { depth: 2 }, recipe: defaultRecipe('smoke') };
    expect(runFingerprint(id)).toBe(runFingerprint({ ...id, holdout: 0, initFrom: null }));
    expect(runFingerprint(id)).not.toBe(runFingerprint({ ...id, recipe: { ...id.recipe, lr: 2e-3 } }));
    expect(runFingerprint(id)).not.toBe(runFingerprint({ ...id, config: { depth: 3 } }));
  });

  it("buildRecord: standard metrics from result and counts, then the caller's; fields kept; identity wins", () => {
    const rec = buildRecord({
      experiment: 'train',
      paper: 'kit',
      variant: 'vit',
      scale: 'smoke',
      dataset: 'synth10',
      synthetic: true,
      model: 'vit',
      config: { depth: 2 },
      seed: 4,
      backend: 'wasm',
      versions: { tfjs: '4.22.0' },
      result,
      counts: { params: 10, activeParams: 8, macs: 100, macsWithoutAttention: 90 },
      metrics: { routerTop1: 0.5, top5: 0.9 },
      key: 'train|vit|smoke|synth10|4|abcd',
      fields: { recipe: { lr: 1 }, key: 'ignored' },
    });
    expect(rec.metrics).toEqual({
      top1: 0.3,
      top5: 0.9,
      loss: 1.9,
      params: 10,
      activeParams: 8,
      macs: 100,
      macsWithoutAttention: 90,
      imgPerS: 50,
      steps: 2,
      routerTop1: 0.5,
    });
    expect(rec.key).toBe('train|vit|smoke|synth10|4|abcd');
    expect((rec as unknown as { recipe: unknown }).recipe).toEqual({ lr: 1 });
    expect(rec.wallTimeS).toBe(12);
    expect(rec.history).toBe(result.history);
    expect(rec.config).toEqual({ depth: 2 });
  });
});

describe('tables group by configuration, never by name alone', () => {
  it(
    'two configurations of one name are two rows (with a config ' + 'column); seeds of one configuration are averaged',
    () => {
      const recs = [
        fakeRecord({ variant: 'vit', seed: 0, config: { depth: 2 }, metrics: { top1: 0.5 } }),
        fakeRecord({ variant: 'vit', seed: 1, config: { depth: 2 }, metrics: { top1: 0.7 } }),
        fakeRecord({ variant: 'vit', seed: 0, config: { depth: 6 }, metrics: { top1: 0.9 } }),
      ];
      const rows = summarize(recs, { groupBy: ['variant'], metrics: ['top1'] });
      expect(rows).toHaveLength(2);
      expect(rows.map((r) => r.n)).toEqual([2, 1]);
      expect(rows[0].metrics.top1.mean).toBeCloseTo(0.6, 10);
      expect(rows[0].group.config).toBe(configurationId(recs[0]));
      expect(rows[1].group.config).toBe(configurationId(recs[2]));
      expect(toText(rows)).toMatch(/config/);
      // one configuration: no extra column
      const one = summarize(recs.slice(0, 2), { groupBy: ['variant'], metrics: ['top1'] });
      expect(one).toHaveLength(1);
      expect(one[0].group).toEqual({ variant: 'vit' });
    },
  );

  it('configurationId: the recipe counts, the seed does not', () => {
    const a = fakeRecord({ variant: 'v', seed: 0, config: { d: 1 }, metrics: {} });
    const b = fakeRecord({ variant: 'v', seed: 9, config: { d: 1 }, metrics: {} });
    expect(configurationId(a)).toBe(configurationId(b));
    expect(configurationId({ ...a, recipe: { lr: 1 } })).not.toBe(configurationId({ ...a, recipe: { lr: 2 } }));
  });
});
