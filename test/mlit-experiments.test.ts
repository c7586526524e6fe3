import { describe, it, expect, beforeAll } from 'vitest';
import * as tf from '@tensorflow/tfjs';
import { initBackend } from '../src/backend';
import { cvSquared } from '../src/nn/moe';
import { createModel, resolveConfig } from '../src/models';
import type { MlitConfig } from '../src/models/mlit';
import {
  analyseRouting,
  constantHiddenAtEqualParams,
  loadImbalance,
  matchedVitOverrides,
  mlitAblationArms,
  mlitScaleOverrides,
  routingFigures,
} from '../src/experiments/mlit';
import { getExperiment } from '../src/experiments/registry';
import '../src/experiments';
import { tinyDataset } from './helpers/tiny-data';
import type { ResultRecord } from '../src/report/types';

beforeAll(async () => {
  await initBackend('wasm');
});

describe('mLiT experiment helpers', () => {
  it(
    'the dense ViT baseline has the same depth and within 7% of ' + 'the mLiT parameter count, at every scale and size',
    () => {
      for (const scale of ['smoke', 'quick', 'paper'] as const)
        for (const size of ['xxs', 'xs', 's']) {
          const c = resolveConfig<MlitConfig>(`mlit-${size}`, { ...mlitScaleOverrides(scale), numClasses: 100 });
          const v = matchedVitOverrides(c);
          const pv = createModel('vit', v, { build: false }).paramCount();
          const pm = createModel(
            `mlit-${size}`,
            { ...mlitScaleOverrides(scale), numClasses: 100 },
            { build: false },
          ).paramCount();
          expect(v.depth).toBe(c.depth);
          expect(v.mlpRatio).toBe(2);
          expect(Math.abs(pv - pm) / pm, `${scale} ${size}: ViT ${pv} vs mLiT ${pm}`).toBeLessThan(0.07);
        }
    },
  );

  it('constant hidden size at equal parameters: within 0.5% of the depth-wise XXS', () => {
    const c = resolveConfig<MlitConfig>('mlit-xxs', {});
    const h = constantHiddenAtEqualParams(c);
    const flat = createModel('mlit-xxs', { hiddenSizes: new Array(9).fill(h) }, { build: false }).paramCount();
    expect(Math.abs(flat - 649_547) / 649_547).toBeLessThan(0.005);
    // one unit more or less is farther from the target
    for (const d of [-1, 1]) {
      const other = createModel('mlit-xxs', { hiddenSizes: new Array(9).fill(h + d) }, { build: false }).paramCount();
      expect(Math.abs(other - 649_547)).toBeGreaterThan(Math.abs(flat - 649_547));
    }
  });

  it('every ablation arm builds a valid config at every scale', () => {
    for (const scale of ['smoke', 'quick', 'paper'] as const) {
      const arms = mlitAblationArms(scale);
      expect(arms.map((a) => a.variant)).toContain('default');
      for (const a of arms) createModel('mlit-xxs', { ...mlitScaleOverrides(scale), ...a.overrides }, { build: false });
    }
  });

  it('router statistics: loads and class rows are distributions; figures build', () => {
    const data = tinyDataset(12, 8, 4);
    const m = createModel('mlit-test', { numClasses: 4 }, { seed: 1 });
    const r = analyseRouting(m, data, { maxImages: 12, batchSize: 5 });
    expect(r.images).toBe(12);
    expect(r.tokensPerImage).toBe(5);
    expect(r.layers.map((l) => l.experts)).toEqual([3, 4, 5]);
    for (const l of r.layers) {
      expect(l.load.reduce((a, b) => a + b, 0)).toBeCloseTo(1, 6);
      expect(l.importance.reduce((a, b) => a + b, 0)).toBeCloseTo(1, 4);
      for (const row of l.classExpert) expect(row.reduce((a, b) => a + b, 0)).toBeCloseTo(1, 6);
      expect(l.entropyNorm).toBeGreaterThanOrEqual(0);
      expect(l.entropyNorm).toBeLessThanOrEqual(1 + 1e-9);
      expect(l.gateEntropy).toBeLessThanOrEqual(Math.log(2) + 1e-6);
    }
    // loadImbalance is CV² of each layer's load: the MoE loss's own cvSquared on the same loads; 0 when balanced, E
    // when every token goes to one expert
    const cv2 = (load: number[]) => tf.tidy(() => cvSquared(tf.tensor1d(load)).dataSync()[0]);
    loadImbalance(r).forEach((v, i) => expect(v).toBeCloseTo(cv2(r.layers[i].load), 4));
    const withLoad = (load: number[]): typeof r => ({ ...r, layers: [{ ...r.layers[0], experts: load.length, load }] });
    expect(loadImbalance(withLoad([0.25, 0.25, 0.25, 0.25]))).toEqual([0]);
    expect(loadImbalance(withLoad([1, 0, 0, 0]))[0]).toBeCloseTo(4, 9);
    expect(loadImbalance(withLoad([0.5, 0.5, 0, 0]))[0]).toBeCloseTo(4 / 3, 9);
    const rec = {
      experiment: 'mlit.routing',
      paper: 'mlit',
      variant: 'mLiT-test',
      scale: 'smoke',
      dataset: 'tiny',
      synthetic: true,
      extra: { routing: r },
    } as unknown as ResultRecord;
    const figs = routingFigures(rec);
    expect(figs.map((f) => f.id)).toEqual([
      'mlit-routing-expert-load',
      'mlit-routing-class-expert-block0',
      'mlit-routing-class-expert-block2',
      'mlit-routing-entropy',
    ]);
    expect(figs[0].caption).toMatch(/synthetic data/);
    m.dispose();
  });

  it('experiments are registered with plans at every scale', () => {
    for (const id of ['mlit.scratch', 'mlit.ablations', 'mlit.routing']) {
      const e = getExperiment(id);
      for (const s of ['smoke', 'quick', 'paper'] as const) expect(e.plan(s).runs).toBeGreaterThan(0);
      expect(e.figures([])).toEqual([]);
    }
  });
});
