import { describe, it, expect, beforeAll } from 'vitest';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { renderAllFigures, summaryFigures } from '../src/report/render';
import { appendRecord } from '../src/report/store';
import { ablationBars } from '../src/report/figures';
import { registerExperiment } from '../src/experiments/registry';
import type { PaperId } from '../src/experiments/types';
import { fakeRecord } from './helpers/records';

let dir: string;

beforeAll(() => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'lv-render-'));
  process.env.LIGHTVIT_DATA_DIR = path.join(dir, 'data');
  process.env.LIGHTVIT_FIGURES_DIR = path.join(dir, 'figures');
  const exp = (id: string, paper: PaperId, figures: (r: never[]) => ReturnType<typeof ablationBars>[]) =>
    registerExperiment({ id, paper, title: id, plan: () => ({ runs: 1, description: '' }), run: async () => undefined, figures: figures as never });
  exp('kit.render-test-a', 'kit', (recs) => [ablationBars({ id: 'render-test-bars', records: recs, groupBy: 'variant', metric: 'top1' })]);
  exp('kit.render-test-broken', 'kit', () => {
    throw new Error('figure bug');
  });
  const rec = (experiment: string, paper: string, variant: string, top1: number, params: number, scale: 'smoke' | 'quick' = 'smoke') =>
    appendRecord(fakeRecord({ experiment, paper, variant, scale, metrics: { top1, params, macs: params * 50 } }));
  rec('kit.render-test-a', 'kit', 'a', 0.5, 1e6);
  rec('kit.render-test-a', 'kit', 'b', 0.6, 2e6);
  rec('kit.render-test-broken', 'kit', 'c', 0.4, 3e6);
  rec('mlit.other', 'mlit', 'mlit-xxs', 0.7, 0.9e6);
  rec('eit.other', 'eit', 'eit-t', 0.75, 1.5e6, 'quick');
});

describe('renderAllFigures', () => {
  it("writes each experiment's figures from its own records, plus cross-paper summaries per dataset and scale", async () => {
    const logs: string[] = [];
    const r = await renderAllFigures({ images: false, log: (m) => logs.push(m) });
    const rel = r.files.map((f) => path.relative(path.join(dir, 'figures'), f)).sort();
    expect(rel).toEqual(
      [
        'kit/render-test-bars.html',
        'kit/render-test-bars.json',
        'kit/summary-acc-vs-macs-synth10-quick.html',
        'kit/summary-acc-vs-macs-synth10-quick.json',
        'kit/summary-acc-vs-macs-synth10-smoke.html',
        'kit/summary-acc-vs-macs-synth10-smoke.json',
        'kit/summary-acc-vs-params-synth10-quick.html',
        'kit/summary-acc-vs-params-synth10-quick.json',
        'kit/summary-acc-vs-params-synth10-smoke.html',
        'kit/summary-acc-vs-params-synth10-smoke.json',
      ].map((p) => p.split('/').join(path.sep)),
    );
    const bars = r.specs.find((s) => s.id === 'render-test-bars')!;
    expect((bars.data[0] as { x: string[] }).x).toEqual(['a', 'b']); // only kit.render-test-a's records
    expect(r.failed).toEqual([{ experiment: 'kit.render-test-broken', error: 'figure bug' }]);
    expect(logs.join('\n')).toMatch(/figures of kit.render-test-broken failed: figure bug/);
    const smoke = r.specs.find((s) => s.id === 'summary-acc-vs-params-synth10-smoke')!;
    expect(smoke.data.map((t) => t.name)).toEqual(['kit', 'mlit']);
    expect(smoke.caption).toMatch(/scale: smoke/);
  });

  it('filters by paper and scale; the summary only without a paper filter', async () => {
    const r = await renderAllFigures({ paper: 'mlit', images: false, log: () => undefined });
    expect(r.specs).toEqual([]);
    const q = await renderAllFigures({ scale: 'quick', images: false, log: () => undefined });
    expect(q.specs.map((s) => s.id).sort()).toEqual(['summary-acc-vs-macs-synth10-quick', 'summary-acc-vs-params-synth10-quick']);
  });

  it('summaryFigures ignores records without top-1 or params', () => {
    expect(summaryFigures([fakeRecord({ variant: 'x', metrics: { loss: 1 } })])).toEqual([]);
  });
});
