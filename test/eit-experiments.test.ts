import { describe, it, expect, beforeAll, afterAll } from 'vitest';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { initBackend } from '../src/backend';
import { getExperiment } from '../src/experiments/registry';
import '../src/experiments/eit';
import { ablationCells } from '../src/experiments/eit';
import { loadRecords } from '../src/report/store';
import type { ExperimentRunContext } from '../src/experiments/types';
import type { TokenModelStats } from '../src/analysis/attention-stats';

const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'eit-exp-'));
const saved = process.env.LIGHTVIT_DATA_DIR;
beforeAll(async () => {
  process.env.LIGHTVIT_DATA_DIR = dir;
  await initBackend('wasm');
});
afterAll(() => {
  process.env.LIGHTVIT_DATA_DIR = saved;
  fs.rmSync(dir, { recursive: true, force: true });
});

const logs: string[] = [];
const ctx: ExperimentRunContext = { scale: 'smoke', preferReal: false, force: false, seed: 0, log: (m) => logs.push(m) };

describe('EIT experiments at smoke scale (synthetic data)', () => {
  it('ablation grid: 10 runs with attention/frequency analysis in record.extra; figures build; a second run skips', async () => {
    const e = getExperiment('eit.ablation');
    expect(e.plan('smoke').runs).toBe(10);
    await e.run(ctx);
    const recs = loadRecords({ experiment: 'eit.ablation' });
    expect(recs.map((r) => r.variant).sort()).toEqual(ablationCells().map((c) => c.variant).sort());
    expect(recs.every((r) => r.synthetic && r.dataset === 'synth10')).toBe(true);
    const vitLike = recs.find((r) => r.variant === 'noP·noT·pos')!;
    expect([vitLike.config.eitP, vitLike.config.eitT, vitLike.config.posEmbed]).toEqual([false, false, 'learned']);
    const st = recs[0].extra as unknown as TokenModelStats;
    expect(st.attentionDistance.length).toBe(2);
    expect(st.highFreqShare.length).toBe(3);
    const figs = e.figures(recs);
    expect(figs.map((f) => f.id)).toEqual(['eit-ablation-grid-synth10-smoke', 'eit-ablation-bars-synth10-smoke', 'eit-conv-schedules-synth10-smoke', 'eit-schedules-split-synth10-smoke', 'eit-channel-split']);
    for (const f of figs.filter((f) => f.id !== 'eit-channel-split')) expect(f.caption).toMatch(/synthetic data/);
    const grid = figs[0].data[0] as { z: number[][] };
    expect(grid.z.flat().every((v) => Number.isFinite(v))).toBe(true);
    await e.run(ctx);
    expect(loadRecords({ experiment: 'eit.ablation' }).length).toBe(10);
  });

  it('small datasets: EIT, ViT and ResNet on synth10 and synth100; SVHN and Flowers-102 skipped with a log line', async () => {
    const e = getExperiment('eit.small-datasets');
    await e.run(ctx);
    const recs = loadRecords({ experiment: 'eit.small-datasets' });
    expect(recs.map((r) => `${r.dataset}:${r.variant}`).sort()).toEqual(['synth10:EIT', 'synth10:ResNet-8', 'synth10:ViT', 'synth100:EIT', 'synth100:ResNet-8', 'synth100:ViT'].sort());
    expect(logs.some((l) => /svhn: not downloaded, skipped/.test(l))).toBe(true);
    expect(logs.some((l) => /flowers102: not downloaded, skipped/.test(l))).toBe(true);
    const figs = e.figures(recs);
    expect(figs.map((f) => f.id).sort()).toEqual(['eit-acc-vs-params-synth10-smoke', 'eit-acc-vs-params-synth100-smoke', 'eit-small-datasets-bars-smoke'].sort());
    expect(figs[0].caption).toMatch(/stand-ins/);
  });

  it('analysis: EIT and ViT trained and analysed; distance, frequency and head-diversity figures', async () => {
    const e = getExperiment('eit.analysis');
    await e.run(ctx);
    const recs = loadRecords({ experiment: 'eit.analysis' });
    expect(recs.map((r) => r.variant).sort()).toEqual(['EIT', 'ViT']);
    const figs = e.figures(recs);
    expect(figs.map((f) => f.id)).toEqual(['eit-attention-distance-synth10-smoke', 'eit-high-frequency-share-synth10-smoke', 'eit-head-diversity-synth10-smoke']);
    // figures never mix scales: a record of another scale makes its own set
    const other = e.figures([...recs, { ...recs[0], scale: 'quick' }]);
    expect(other.map((f) => f.id)).toContain('eit-attention-distance-synth10-quick');
    // two blocks × two heads per model
    expect((figs[0].data[0] as { x: number[] }).x.length).toBe(4);
    expect(figs[1].data.length).toBe(4);
  });
});
