import { describe, it, expect, beforeAll, afterAll } from 'vitest';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { initBackend } from '../src/backend';
import { createModel } from '../src/models';
import { getExperiment } from '../src/experiments/registry';
import '../src/experiments/eit';
import { ablationCells, ablationCellsAt } from '../src/experiments/eit';
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
const ctx: ExperimentRunContext = {
  scale: 'smoke',
  preferReal: false,
  force: false,
  seed: 0,
  log: (m) => logs.push(m),
};

describe('EIT experiments at smoke scale (synthetic data)', () => {
  it(
    'ablation cells below paper scale: one run each with attention/frequency analysis; figures build; a re-run ' +
      'skips',
    async () => {
      const e = getExperiment('eit.ablation');
      const cells = ablationCellsAt('smoke');
      // the claims' cells plus both ends of the grid; the full 2×2×2 grid and the schedules only at paper scale
      expect(cells.map((c) => c.variant).sort()).toEqual(
        ['P·T·nopos', 'P·T·pos', 'P·noT·nopos', 'noP·T·nopos', 'noP·noT·nopos'].sort(),
      );
      expect(ablationCellsAt('paper')).toEqual(ablationCells());
      expect(e.plan('smoke').runs).toBe(cells.length);
      await e.run(ctx);
      const recs = loadRecords({ experiment: 'eit.ablation' });
      expect(recs.map((r) => r.variant).sort()).toEqual(cells.map((c) => c.variant).sort());
      expect(recs.every((r) => r.synthetic && r.dataset === 'synth10')).toBe(true);
      // each record ran the switches its cell names
      for (const r of recs) {
        const want = cells.find((c) => c.variant === r.variant)!.overrides;
        expect({ eitP: r.config.eitP, eitT: r.config.eitT, posEmbed: r.config.posEmbed }, r.variant).toEqual({
          eitP: want.eitP,
          eitT: want.eitT,
          posEmbed: want.posEmbed,
        });
      }
      const st = recs[0].extra as unknown as TokenModelStats;
      expect(st.attentionDistance.length).toBe(2);
      expect(st.highFreqShare.length).toBe(3);
      const figs = e.figures(recs);
      expect(figs.map((f) => f.id)).toEqual([
        'eit-ablation-grid-synth10-smoke',
        'eit-ablation-bars-synth10-smoke',
        'eit-conv-schedules-synth10-smoke',
        'eit-schedules-split-synth10-smoke',
        'eit-channel-split',
      ]);
      for (const f of figs.filter((f) => f.id !== 'eit-channel-split')) expect(f.caption).toMatch(/synthetic data/);
      // the heat map holds each run cell's top-1 (%) at its (EIT_P, EIT_T) row and position-embedding column; no value
      // for a cell that did not run at this scale
      const grid = figs[0].data[0] as { z: Array<Array<number | null>> };
      const rows: Array<[boolean, boolean]> = [
        [true, true],
        [true, false],
        [false, true],
        [false, false],
      ];
      const cellValues = rows.flatMap(([p, t], i) =>
        [false, true].map((pos, j) => {
          const r = recs.find(
            (x) => x.config.eitP === p && x.config.eitT === t && (x.config.posEmbed === 'learned') === pos,
          );
          return { want: r ? 100 * r.metrics.top1 : null, got: grid.z[i][j] };
        }),
      );
      expect(cellValues.filter((c) => c.want !== null)).toHaveLength(5);
      for (const c of cellValues) {
        if (c.want === null) expect(c.got === null || Number.isNaN(c.got)).toBe(true);
        else expect(c.got).toBeCloseTo(c.want, 2); // the heat map rounds to 3 decimals
      }
      await e.run(ctx);
      expect(loadRecords({ experiment: 'eit.ablation' }).length).toBe(cells.length);
    },
  );

  it(
    'small datasets: EIT, ViT, ResNet and the linear floor on synth10; SVHN and Flowers-102 skipped with a log ' +
      'line',
    async () => {
      const e = getExperiment('eit.small-datasets');
      await e.run(ctx);
      const recs = loadRecords({ experiment: 'eit.small-datasets' });
      const runs = ['synth10:EIT', 'synth10:ResNet-8', 'synth10:ViT', 'synth10:linear classifier on raw pixels'];
      expect(recs.map((r) => `${r.dataset}:${r.variant}`).sort()).toEqual(runs.sort());
      expect(e.plan('smoke').runs).toBe(recs.length);
      expect(logs.some((l) => /svhn: not downloaded, skipped/.test(l))).toBe(true);
      expect(logs.some((l) => /flowers102: not downloaded, skipped/.test(l))).toBe(true);
      for (const r of recs) {
        // each run is the model it names, sized for its dataset, with the parameter count of that model
        const m = createModel(r.model, r.config, { build: false });
        expect(r.config.numClasses, `${r.dataset}:${r.variant}`).toBe(10);
        expect(r.metrics.params, `${r.dataset}:${r.variant}`).toBe(m.paramCount());
        // the stored top-1 is the last epoch's test top-1 (and at most the top-5)
        expect(r.metrics.top1).toBe(r.history!.at(-1)!.testTop1);
        expect(r.metrics.top1).toBeLessThanOrEqual(r.metrics.top5);
        expect(r.history!.length).toBeGreaterThan(0);
      }
      // the comparison the paper makes: EIT has fewer parameters than the ViT of the same width and depth
      const params = (ds: string, v: string) => recs.find((r) => r.dataset === ds && r.variant === v)!.metrics.params;
      expect(params('synth10', 'EIT')).toBeLessThan(params('synth10', 'ViT'));
      const figs = e.figures(recs);
      expect(figs.map((f) => f.id).sort()).toEqual([
        'eit-acc-vs-params-synth10-smoke',
        'eit-small-datasets-bars-smoke',
      ]);
      expect(figs[0].caption).toMatch(/stand-ins/);
    },
  );

  it('analysis: EIT and ViT trained and analysed; distance, frequency and head-diversity figures', async () => {
    const e = getExperiment('eit.analysis');
    await e.run(ctx);
    const recs = loadRecords({ experiment: 'eit.analysis' });
    expect(recs.map((r) => r.variant).sort()).toEqual(['EIT', 'ViT']);
    const figs = e.figures(recs);
    expect(figs.map((f) => f.id)).toEqual([
      'eit-attention-distance-synth10-smoke',
      'eit-high-frequency-share-synth10-smoke',
      'eit-head-diversity-synth10-smoke',
    ]);
    // figures never mix scales: a record of another scale makes its own set
    const other = e.figures([...recs, { ...recs[0], scale: 'quick' }]);
    expect(other.map((f) => f.id)).toContain('eit-attention-distance-synth10-quick');
    // two blocks × two heads per model
    expect((figs[0].data[0] as { x: number[] }).x.length).toBe(4);
    expect(figs[1].data.length).toBe(4);
  });
});
