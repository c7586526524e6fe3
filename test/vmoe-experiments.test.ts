import { describe, it, expect, beforeAll } from 'vitest';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { initBackend } from '../src/backend';
import { getExperiment } from '../src/experiments';
import { loadRecords } from '../src/report/store';
import { packageRoot } from '../src/util/fsx';
import { adjustedRandIndex } from '../src/analysis/superclass';
import { ABLATION_BASE } from '../src/experiments/mobile-vmoe';
import { fakeRecord } from './helpers/records';

let dir = '';
beforeAll(async () => {
  await initBackend('wasm');
  // results of this test go to a scratch data dir; the embedded synth100 is shared when already generated
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'vmoe-exp-'));
  const synth = path.join(packageRoot(), 'data', 'synth100');
  if (fs.existsSync(synth)) fs.symlinkSync(synth, path.join(dir, 'synth100'));
  process.env.LIGHTVIT_DATA_DIR = dir;
});

describe('mobile-vmoe.superclasses at smoke scale', () => {
  it('trains dense → clusters its validation confusion → MoEs on the clusters and on random groups; records ' +
    'router accuracy, ARI', async () => {
    const e = getExperiment('mobile-vmoe.superclasses');
    const logs: string[] = [];
    await e.run({ scale: 'smoke', preferReal: false, force: true, seed: 0, log: (m) => logs.push(m) });
    const recs = loadRecords({ experiment: 'mobile-vmoe.superclasses', scale: 'smoke' });
    // smoke runs on synth10, which has no super-classes: the control is random balanced groups
    expect(recs.map((r) => r.variant).sort()).toEqual(['confusion super-classes', 'dense', 'random balanced groups']);
    const dense = recs.find((r) => r.variant === 'dense')!;
    // each run stores which kind of model it trained (figures read this, not the model name)
    expect(recs.map((r) => [r.variant, r.extra?.arm]).sort()).toEqual([
      ['confusion super-classes', 'moe'],
      ['dense', 'dense'],
      ['random balanced groups', 'moe'],
    ]);
    expect(dense.metrics.flops).toBe(2 * dense.metrics.macs); // the paper's FLOPs convention
    const conf = dense.extra!.confusion as number[][];
    expect(conf).toHaveLength(10);
    // fitted on the validation hold-out, every image counted once
    const held = Number(/\((\d+) images\)/.exec(String(dense.extra!.confusionOn))![1]);
    expect(conf.flat().reduce((a, b) => a + b, 0)).toBe(held);
    const clu = recs.find((r) => r.variant === 'confusion super-classes')!;
    const assign = clu.extra!.clusters as number[];
    const E = new Set(assign).size;
    expect(assign).toHaveLength(10);
    expect(E).toBeGreaterThanOrEqual(2);
    expect(E).toBeLessThanOrEqual(5);
    // balanced clusters: sizes differ by at most one class; the MoE has one expert per cluster
    const sizes = Array.from({ length: E }, (_, j) => assign.filter((x) => x === j).length);
    expect(Math.max(...sizes) - Math.min(...sizes)).toBeLessThanOrEqual(1);
    expect(clu.config.superClassOf).toEqual(assign);
    expect(clu.config.numExperts).toBe(E);
    // the stored ARI is the one of the stored partitions (the control MoE keeps its groups in its config)
    const control = recs.find((r) => r.variant === 'random balanced groups')!;
    expect(clu.extra!.ari as number).toBeCloseTo(
      adjustedRandIndex(assign, control.config.superClassOf as number[]),
      12,
    );
    for (const r of [clu, control]) {
      const top1 = r.metrics.routerTop1;
      // k = 1 per image: each super-class present sends each image to one expert of the first MoE block, so its row
      // of superVsExpert (a separate pass over the same test images) is a distribution, and the router's accuracy
      // (an image sent to its own super-class's expert) is a weighted mean of the diagonal
      const sve = r.extra!.superVsExpert as number[][];
      expect(sve.length).toBe(Math.max(...(r.config.superClassOf as number[])) + 1);
      const present = sve
        .map((row, k) => ({ sum: row.reduce((a, b) => a + b, 0), diag: row[k] }))
        .filter((p) => p.sum > 0);
      for (const p of present) expect(p.sum).toBeCloseTo(1, 9);
      expect(top1).toBeGreaterThanOrEqual(Math.min(...present.map((p) => p.diag)) - 1e-9);
      expect(top1).toBeLessThanOrEqual(Math.max(...present.map((p) => p.diag)) + 1e-9);
      // the super-class router loss reached the trainer
      expect(r.history!.at(-1)!.aux.router_ce).toBeGreaterThan(0);
    }
    expect(logs.some((l) => /ARI vs random balanced groups/.test(l))).toBe(true);
    const figs = e.figures(recs);
    expect(figs.length).toBeGreaterThan(0);
    for (const f of figs) expect(f.caption).toMatch(/synthetic data/);
  }, 180_000);
});

describe('mobile-vmoe figures read stored fields', () => {
  const rec = (variant: string, model: string, top1: number, extra?: Record<string, unknown>) =>
    fakeRecord({
      experiment: 'mobile-vmoe.ablations',
      paper: 'mobile-vmoe',
      variant,
      model,
      metrics: { top1, routerTop1: 0.5 },
      extra,
    });
  const sweepX = (recs: ReturnType<typeof rec>[]) => {
    const fig = getExperiment('mobile-vmoe.ablations')
      .figures(recs)
      .find((f) => f.id === 'vmoe-ablation-E');
    return fig?.data.map((t) => [t.name, t.x, t.y]);
  };

  it('the E sweep is placed by extra.sweep / sweptValue, whatever the label says', () => {
    const recs = [
      rec('dense', 'vit-6x64', 0.4, { arm: 'dense' }),
      rec(ABLATION_BASE, 'vmoe-6x64', 0.45, { arm: 'moe', sweep: 'base' }),
      rec('five experts', 'vmoe-6x64', 0.5, { arm: 'moe', sweep: 'E', sweptValue: 5 }),
    ];
    const [gain, router] = sweepX(recs)!;
    expect(gain[0]).toBe('Δ top-1 vs dense (pp)');
    // base: E = its config's numExperts (10 when absent) → 5 sorts first
    expect(gain[1]).toEqual([5, 10]);
    expect((gain[2] as number[]).map((v) => Math.round(v * 100) / 100)).toEqual([10, 5]);
    expect(router[1]).toEqual([5, 10]);
  });

  it('older records without the fields are read from their `E=5` labels, to the same figure', () => {
    const stored = [
      rec('dense', 'vit-6x64', 0.4, { arm: 'dense' }),
      rec(ABLATION_BASE, 'vmoe-6x64', 0.45, { arm: 'moe', sweep: 'base' }),
      rec('E=5', 'vmoe-6x64', 0.5, { arm: 'moe', sweep: 'E', sweptValue: 5 }),
    ];
    const legacy = stored.map((r) => ({ ...r, extra: undefined }));
    expect(sweepX(legacy)).toEqual(sweepX(stored));
    expect(sweepX(legacy)![0][1]).toEqual([5, 10]);
  });
});
