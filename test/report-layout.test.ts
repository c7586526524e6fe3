import { describe, it, expect, beforeAll, afterAll } from 'vitest';
import {
  scatterAccVs,
  ablationBars,
  trainingCurves,
  heatmap,
  lineChart,
  fitFigure,
  textWidth,
  logTicks,
  formatTick,
  placeLabels,
} from '../src/report/figures';
import { FigureRenderer, findChromium } from '../src/report/export';
import type { FigureSpec } from '../src/report/types';
import { fakeRecord } from './helpers/records';

/**
 * Figures that read: every builder, fed long labels, gets margins that hold its longest tick label and axis title;
 * where a Chromium is found the figures are drawn and every text is checked to lie inside the figure, no tick label
 * runs into its axis title, and no two point labels overlap.
 */

const LONG = 'a rather long variant name (shared V/W2, GQA 6/3)';
const classes = ['aquarium fish', 'sweet pepper', 'maple tree (long class name)', 'pickup truck', 'willow tree'];
const hist = (k: number) =>
  [1, 2, 3].map((e) => ({
    epoch: e,
    step: 10 * e,
    lr: 1e-3,
    trainLoss: 2 / e + k,
    aux: {},
    trainTop1: 0.1 * e,
    testLoss: 2.2 / e,
    testTop1: 0.09 * e,
    seconds: 1,
  }));
const many = Array.from({ length: 14 }, (_, i) =>
  [0, 1, 2].map((seed) =>
    fakeRecord({
      paper: i % 2 ? 'mlit' : 'dwnet',
      variant: `${LONG.slice(0, 12 + i)} #${i}`,
      seed,
      metrics: { top1: 0.4 + 0.002 * i + 0.01 * seed, params: 2.3e5 * (1 + 0.05 * i), macs: 3e7 * (1 + 0.1 * i) },
    }),
  ),
).flat();

function builders(): FigureSpec[] {
  return [
    scatterAccVs({
      id: 'scatter',
      records: many,
      x: 'params',
      groupBy: 'paper',
      references: [{ label: 'linear classifier on raw pixels', value: 0.39 }],
    }),
    scatterAccVs({ id: 'scatter-macs', records: many, x: 'macs', groupBy: 'paper' }),
    ablationBars({
      id: 'bars',
      records: many,
      groupBy: 'variant',
      metric: 'top1',
      baseline: many[0].variant,
      references: [{ label: 'linear on pixels', value: 0.3 }],
    }),
    heatmap({
      id: 'class-expert',
      z: classes.map((_, i) => [0.1 * i, 0.2, 0.3, 0.4]),
      x: ['expert 1', 'expert 2', 'expert 3', 'expert 4'],
      y: classes,
      xTitle: 'Expert',
      yTitle: 'Class',
      zTitle: 'share',
    }),
    heatmap({
      id: 'schedule',
      z: Array.from({ length: 12 }, (_, i) => [i / 12, 1 - i / 12, 0.5]),
      x: ['decreasing (paper)', 'constant one half', 'increasing'],
      y: Array.from({ length: 12 }, (_, i) => `block ${i + 1}`),
      yTitle: 'Block',
    }),
    lineChart({
      id: 'load',
      series: [{ name: LONG, x: [1, 2, 3, 4, 5, 6, 7, 8, 9], y: [0.1, 0.2, 0.15, 0.3, 0.2, 0.1, 0.2, 0.25, 0.3] }],
      xTitle: 'Block',
      yTitle: 'CV² of the expert load (0 = balanced)',
    }),
    lineChart({
      id: 'mae-loss',
      xTitle: 'Pre-training epoch',
      yTitle: 'MAE loss (masked MSE + discount × visible MSE, normalised pixels)',
      series: [
        { name: 'MAE pre-training on fashion-mnist (fashion-mnist)', x: [1], y: [1.45] },
        { name: 'MAE pre-training on synth100 (synth100)', x: [1], y: [1.25] },
      ],
    }),
    lineChart({
      id: 'tiny',
      series: [{ name: 'x', x: [1, 2, 4], y: [0.0006, 0.0009, 0.0012] }],
      xTitle: 'k',
      yTitle: 'Pixel share of high frequencies',
    }),
    trainingCurves(many.slice(0, 3).map((r, i) => ({ ...r, history: hist(i) }))),
    fitFigure({
      id: 'table',
      paper: 'kit',
      title: 'Transfer: top-1 (%) by target dataset',
      caption: '',
      data: [
        {
          type: 'table',
          header: { values: ['Target dataset', 'from scratch', 'MAE pre-trained on CIFAR-100'] },
          cells: {
            values: [
              ['CIFAR-10', 'SVHN', 'Flowers-102'],
              ['1', '2', '3'],
              ['4', '5', '6'],
            ],
          },
        },
      ],
      layout: { title: { text: 'Transfer: top-1 (%) by target dataset' }, width: 820, height: 160 },
    }),
  ];
}

describe('layout fitting (no browser)', () => {
  it('left margins hold the longest y tick label plus the axis title; long category labels on x are angled', () => {
    const specs = builders();
    const hm = specs.find((s) => s.id === 'class-expert')!;
    const l = hm.layout as { margin: { l: number; b: number } };
    expect(l.margin.l).toBeGreaterThanOrEqual(textWidth('maple tree (long class name)') + 13);
    const bars = specs.find((s) => s.id === 'bars')!.layout as { margin: { b: number }; xaxis: { tickangle?: number } };
    expect(bars.xaxis.tickangle).toBeDefined();
    expect(bars.margin.b).toBeGreaterThan(0.7 * textWidth(many[many.length - 1].variant));
    const sched = specs.find((s) => s.id === 'schedule')!.layout as { margin: { l: number } };
    expect(sched.margin.l).toBeGreaterThanOrEqual(textWidth('block 12') + 13);
  });

  it('log axes get 1-2-5 ticks written out; integer axes integer ticks; no SI suffixes', () => {
    expect(logTicks(0.23, 0.5)).toEqual([0.25, 0.3, 0.4, 0.5]);
    expect(logTicks(0.2, 30)).toEqual([0.2, 0.5, 1, 2, 5, 10, 20]);
    expect(formatTick(0.0006)).toBe('0.0006');
    expect(formatTick(233000)).toBe('233,000');
    const s = builders()[0].layout as { xaxis: { tickvals: number[]; ticktext: string[] } };
    expect(s.xaxis.ticktext.every((t) => /^[\d.,]+$/.test(t))).toBe(true);
    const load = builders().find((f) => f.id === 'load')!.layout as { xaxis: { dtick: number; tickformat: string } };
    expect(Number.isInteger(load.xaxis.dtick)).toBe(true);
    expect(load.xaxis.tickformat).toBe('d');
    const tiny = builders().find((f) => f.id === 'tiny')!.layout as { yaxis: { exponentformat: string } };
    expect(tiny.yaxis.exponentformat).toBe('none');
  });

  it('a few long category labels wrap onto lines instead of being angled; the plot keeps its height', () => {
    const three = ['mLiT-XXS', 'mLiT-XXS, dense FFN (equal params)', 'ViT-XXS (generic dense, d96)'].map((variant, i) =>
      fakeRecord({ variant, metrics: { top1: 0.1 + 0.02 * i } }),
    );
    const f = ablationBars({ id: 'three', records: three, groupBy: 'variant', metric: 'top1' });
    const l = f.layout as {
      height: number;
      margin: { t: number; b: number };
      xaxis: { ticktext?: string[]; tickangle?: number };
    };
    expect(l.xaxis.tickangle).toBeUndefined();
    expect(l.xaxis.ticktext!.some((t) => t.includes('<br>'))).toBe(true);
    expect(l.height - l.margin.t - l.margin.b).toBeGreaterThanOrEqual(260);
  });

  it('tables are tall enough for their rows', () => {
    const t = builders().find((f) => f.id === 'table')!.layout as { height: number; margin: { t: number; b: number } };
    expect(t.height - t.margin.t - t.margin.b).toBeGreaterThanOrEqual(28 + 3 * 26);
  });

  it('scatter point labels never overlap; labels that do not fit are left to hover text', () => {
    const pts = Array.from({ length: 30 }, (_, i) => ({ x: 100 + (i % 5) * 3, y: 100 + i, text: `point ${i}` }));
    const placed = placeLabels(pts, { width: 600, height: 400 });
    expect(placed.length).toBeGreaterThan(0);
    expect(placed.length).toBeLessThan(30);
    const boxes = placed.map((p) => {
      const w = textWidth(p.text, 11) + 4;
      const cx = pts[p.index].x + p.ax;
      const cy = pts[p.index].y + p.ay;
      return { x0: cx - w / 2, x1: cx + w / 2, y0: cy - 7.5, y1: cy + 7.5 };
    });
    for (let i = 0; i < boxes.length; i++)
      for (let j = i + 1; j < boxes.length; j++) {
        const [a, b] = [boxes[i], boxes[j]];
        expect(a.x0 < b.x1 && b.x0 < a.x1 && a.y0 < b.y1 && b.y0 < a.y1).toBe(false);
      }
    const scatter = builders()[0];
    // names as hover text, not printed on every point
    expect(scatter.data.every((t) => t.mode === 'markers')).toBe(true);
  });

  it('reference lines are dashed horizontal lines at the value in display units', () => {
    const bars = builders().find((f) => f.id === 'bars')!.layout as {
      shapes: Array<{ y0: number; line: { dash: string } }>;
    };
    expect(bars.shapes.map((s) => s.y0)).toContain(30);
    expect(bars.shapes.every((s) => s.line.dash === 'dash')).toBe(true);
    const range = (builders().find((f) => f.id === 'bars')!.layout as { yaxis: { range: number[] } }).yaxis.range;
    const above = ablationBars({
      id: 'above',
      records: many.slice(0, 3),
      groupBy: 'variant',
      metric: 'top1',
      references: [{ label: 'ref', value: 0.9 }],
    });
    // a line above every bar stays in view
    expect((above.layout as { yaxis: { range: number[] } }).yaxis.range[1]).toBeGreaterThan(90);
    expect(range[0]).toBe(0);
    const sc = builders()[0].layout as { shapes: Array<{ y0: number }> };
    expect(sc.shapes[0].y0).toBe(39);
  });
});

const chromium = findChromium();
describe.skipIf(!chromium)('layout fitting, drawn in Chromium', () => {
  let r: FigureRenderer | null = null;
  beforeAll(async () => {
    r = (await FigureRenderer.launch()).renderer;
  }, 120_000);
  afterAll(async () => r?.close());

  it('every text of every builder lies inside the figure; tick labels clear their axis titles; labels do not ' +
    'overlap', async () => {
    expect(r).not.toBeNull();
    for (const spec of builders()) {
      const m = await r!.measure(spec);
      if (spec.id !== 'table') expect(m.texts.filter((t) => t.kind === 'ytick').length, spec.id).toBeGreaterThan(1);
      for (const t of m.texts) {
        const where =
          `${spec.id}: ${t.kind} '${t.text}' at [${t.x0.toFixed(0)}, ${t.y0.toFixed(0)}, ${t.x1.toFixed(0)}, ` +
          `${t.y1.toFixed(0)}] in ${m.width}×${m.height}`;
        expect(t.x0 >= -1 && t.y0 >= -1 && t.x1 <= m.width + 1 && t.y1 <= m.height + 1, where).toBe(true);
      }
      const hit = (a: (typeof m.texts)[0], b: (typeof m.texts)[0]) =>
        a.x0 < b.x1 - 1 && b.x0 < a.x1 - 1 && a.y0 < b.y1 - 1 && b.y0 < a.y1 - 1;
      for (const [tick, title] of [
        ['ytick', 'ytitle'],
        ['xtick', 'xtitle'],
      ]) {
        for (const a of m.texts.filter((t) => t.kind === tick))
          for (const b of m.texts.filter((t) => t.kind === title)) {
            expect(hit(a, b), `${spec.id}: ${tick} '${a.text}' overlaps ${title} '${b.text}'`).toBe(false);
          }
      }
      const ann = m.texts.filter((t) => t.kind === 'annotation');
      for (let i = 0; i < ann.length; i++)
        for (let j = i + 1; j < ann.length; j++) {
          expect(hit(ann[i], ann[j]), `${spec.id}: '${ann[i].text}' overlaps '${ann[j].text}'`).toBe(false);
        }
    }
  }, 300_000);
});
