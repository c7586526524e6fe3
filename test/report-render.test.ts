import { describe, it, expect, beforeAll } from 'vitest';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { renderAllFigures, summaryFigures, experimentFigures } from '../src/report/render';
import { appendRecord } from '../src/report/store';
import { ablationBars } from '../src/report/figures';
import { registerExperiment, listExperiments } from '../src/experiments/registry';
import type { PaperId } from '../src/experiments/types';
import { fakeRecord } from './helpers/records';

let dir: string;

beforeAll(() => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'lv-render-'));
  process.env.LIGHTVIT_DATA_DIR = path.join(dir, 'data');
  process.env.LIGHTVIT_FIGURES_DIR = path.join(dir, 'figures');
  const exp = (id: string, paper: PaperId, figures: (r: never[]) => ReturnType<typeof ablationBars>[]) =>
    registerExperiment({
      id,
      paper,
      title: id,
      plan: () => ({ runs: 1, description: '' }),
      run: async () => undefined,
      figures: figures as never,
    });
  exp('kit.render-test-a', 'kit', (recs) => [
    ablationBars({ id: 'render-test-bars', records: recs, groupBy: 'variant', metric: 'top1' }),
  ]);
  exp('kit.render-test-broken', 'kit', () => {
    throw new Error('figure bug');
  });
  const rec = (
    experiment: string,
    paper: string,
    variant: string,
    top1: number,
    params: number,
    scale: 'smoke' | 'quick' = 'smoke',
  ) => appendRecord(fakeRecord({ experiment, paper, variant, scale, metrics: { top1, params, macs: params * 50 } }));
  rec('kit.render-test-a', 'kit', 'a', 0.5, 1e6);
  rec('kit.render-test-a', 'kit', 'b', 0.6, 2e6);
  rec('kit.render-test-broken', 'kit', 'c', 0.4, 3e6);
  rec('mlit.other', 'mlit', 'mlit-xxs', 0.7, 0.9e6);
  rec('eit.other', 'eit', 'eit-t', 0.75, 1.5e6, 'quick');
});

describe('renderAllFigures', () => {
  it(
    "writes each experiment's figures from its own records, " + 'plus cross-paper summaries per dataset and scale',
    async () => {
      const logs: string[] = [];
      const r = await renderAllFigures({ experiments: listExperiments(), images: false, log: (m) => logs.push(m) });
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
      expect(smoke.caption).toMatch(/smoke scale/);
      // one plotly bundle per figures folder, which every HTML file there loads
      expect(fs.readdirSync(path.join(dir, 'figures', 'kit')).filter((f) => f.endsWith('.js'))).toEqual([
        'plotly.min.js',
      ]);
      const html = fs.readFileSync(path.join(dir, 'figures', 'kit', 'render-test-bars.html'), 'utf8');
      expect(html).toContain('<script src="plotly.min.js"></script>');
      expect(html.length).toBeLessThan(100_000);
    },
  );

  it('the summary draws the shared linear classifier as a labelled reference, not as a paper', () => {
    const lin = fakeRecord({
      experiment: 'kit.linear',
      paper: 'kit',
      variant: 'linear classifier on raw pixels',
      model: 'linear',
      metrics: { top1: 0.6, params: 30_730 },
    });
    const vit = fakeRecord({
      experiment: 'mlit.x',
      paper: 'mlit',
      variant: 'mlit-xxs',
      model: 'mlit-xxs',
      metrics: { top1: 0.7, params: 180_000 },
    });
    const [spec] = summaryFigures([lin, vit]);
    expect(spec.data.map((t) => t.name)).toEqual(['reference', 'mlit']);
    const labels = (spec.layout.annotations as Array<{ text: string }>).map((a) => a.text);
    expect(labels).toContain('linear on raw pixels');
  });

  it('filters by paper and scale; the summary only without a paper filter', async () => {
    const r = await renderAllFigures({
      experiments: listExperiments(),
      paper: 'mlit',
      images: false,
      log: () => undefined,
    });
    expect(r.specs).toEqual([]);
    const q = await renderAllFigures({
      experiments: listExperiments(),
      scale: 'quick',
      images: false,
      log: () => undefined,
    });
    expect(q.specs.map((s) => s.id).sort()).toEqual([
      'summary-acc-vs-macs-synth10-quick',
      'summary-acc-vs-params-synth10-quick',
    ]);
  });

  it(
    'draws each scale on its own: the largest keeps the id, ' + 'smaller scales get -<scale>; never averaged together',
    async () => {
      const exp = {
        id: 'kit.render-test-scales',
        paper: 'kit' as const,
        figures: (recs: ReturnType<typeof fakeRecord>[]) => [
          ablationBars({ id: 'scales-bars', records: recs, groupBy: 'variant', metric: 'top1' }),
        ],
      };
      const recs = [
        fakeRecord({ experiment: exp.id, variant: 'v', scale: 'smoke', metrics: { top1: 0.2 } }),
        fakeRecord({ experiment: exp.id, variant: 'v', scale: 'quick', metrics: { top1: 0.6 } }),
      ];
      const specs = experimentFigures(exp, recs);
      expect(specs.map((s) => s.id)).toEqual(['scales-bars', 'scales-bars-smoke']);
      expect((specs[0].data[0] as { y: number[] }).y).toEqual([60]);
      expect((specs[1].data[0] as { y: number[] }).y).toEqual([20]);
      expect(specs[0].caption).toMatch(/quick scale, 1 seed/);
      expect(specs[0].caption).not.toMatch(/smoke/);
    },
  );

  it('summaryFigures ignores records without top-1 or params', () => {
    expect(summaryFigures([fakeRecord({ variant: 'x', metrics: { loss: 1 } })])).toEqual([]);
  });
});
