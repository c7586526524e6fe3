import { describe, it, expect, beforeAll } from 'vitest';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { initBackend } from '../src/backend';
import { getExperiment } from '../src/experiments';
import { loadRecords } from '../src/report/store';
import { packageRoot } from '../src/util/fsx';

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
  it('trains dense → clusters its confusion → trains MoEs on both super-class sets; records router accuracy, ARI, figures', async () => {
    const e = getExperiment('mobile-vmoe.superclasses');
    const logs: string[] = [];
    await e.run({ scale: 'smoke', preferReal: false, force: true, seed: 0, log: (m) => logs.push(m) });
    const recs = loadRecords({ experiment: 'mobile-vmoe.superclasses', scale: 'smoke' });
    expect(recs.map((r) => r.variant).sort()).toEqual(['confusion super-classes', 'dense', 'official super-classes']);
    const dense = recs.find((r) => r.variant === 'dense')!;
    expect(dense.metrics.flops).toBe(2 * dense.metrics.macs); // the paper's FLOPs convention
    const conf = dense.extra!.confusion as number[][];
    expect(conf).toHaveLength(100);
    expect(conf.flat().reduce((a, b) => a + b, 0)).toBe(64); // smoke evaluates 64 test images
    const clu = recs.find((r) => r.variant === 'confusion super-classes')!;
    const assign = clu.extra!.clusters as number[];
    expect(new Set(assign).size).toBe(10);
    expect(Array.from({ length: 10 }, (_, j) => assign.filter((a) => a === j).length)).toEqual(new Array(10).fill(10));
    expect(clu.config.superClassOf).toEqual(assign);
    expect(Number.isFinite(clu.extra!.ari as number)).toBe(true);
    for (const r of recs.filter((x) => x.model.startsWith('vmoe'))) {
      expect(r.metrics.routerTop1).toBeGreaterThanOrEqual(0);
      expect(r.metrics.routerTop1).toBeLessThanOrEqual(1);
      // the super-class router loss reached the trainer
      expect(r.history!.at(-1)!.aux.router_ce).toBeGreaterThan(0);
      expect((r.extra!.superVsExpert as number[][]).length).toBe(10);
    }
    expect(logs.some((l) => /ARI vs official/.test(l))).toBe(true);
    const figs = e.figures(recs);
    expect(figs.map((f) => f.id)).toEqual(['vmoe-superclass-source', 'vmoe-confusion-clusters', 'vmoe-confusion-graph']);
    for (const f of figs) expect(f.caption).toMatch(/synthetic data/);
  }, 180_000);
});
