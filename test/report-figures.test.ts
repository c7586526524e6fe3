import { describe, it, expect } from 'vitest';
import {
  scatterAccVs,
  ablationBars,
  trainingCurves,
  heatmap,
  lineChart,
  imageGrid,
  caption,
  dataNote,
  imageToZ,
  wrapWords,
  barChart,
  pointCloud,
  graphFigure,
} from '../src/report/figures';
import { fakeRecord } from './helpers/records';

const hist = (top: number) =>
  [1, 2].map((e) => ({
    epoch: e,
    step: 10 * e,
    lr: 1e-3,
    trainLoss: 2 / e,
    aux: {},
    trainTop1: top * e,
    testLoss: 2.2 / e,
    testTop1: top * e * 0.9,
    seconds: 1,
  }));
const recs = [
  fakeRecord({
    paper: 'mlit',
    variant: 'xxs',
    seed: 0,
    metrics: { top1: 0.7, params: 0.9e6, macs: 40e6 },
    history: hist(0.3),
  }),
  fakeRecord({
    paper: 'mlit',
    variant: 'xxs',
    seed: 1,
    metrics: { top1: 0.74, params: 0.9e6, macs: 40e6 },
    history: hist(0.32),
  }),
  fakeRecord({
    paper: 'eit',
    variant: 'eit',
    seed: 0,
    metrics: { top1: 0.8, params: 2.2e6, macs: 1.5e9 },
    synthetic: false,
    dataset: 'cifar100',
  }),
];

describe('figure builders', () => {
  it('caption names dataset (real or synthetic), scale, seeds, and says synthetic data when any record is', () => {
    expect(caption(recs.slice(0, 2), 'Accuracy')).toBe(
      'Accuracy. Data: synth10 (synthetic data), smoke scale, 2 seeds. Synthetic data: these are not the ' +
        "paper's numbers.",
    );
    expect(caption(recs.slice(2), 'Accuracy.')).toBe('Accuracy. Data: CIFAR-100 (real data), smoke scale, 1 seed.');
    expect(caption(recs, 'x')).toMatch(/Data: synth10 \(synthetic data\) and CIFAR-100 \(real data\)/);
    expect(caption([], 'Nothing yet')).toBe('Nothing yet.');
    expect(
      dataNote([
        fakeRecord({ variant: 'a', dataset: 'fashion-mnist', synthetic: false, scale: 'quick', metrics: {} }),
        ...[1, 2].map((seed) =>
          fakeRecord({ variant: 'a', seed, dataset: 'fashion-mnist', synthetic: false, scale: 'quick', metrics: {} }),
        ),
      ]),
    ).toBe('Fashion-MNIST (real data), quick scale, 3 seeds');
  });

  it('scatterAccVs: one trace per group, seed means in %, params in M on a log axis, reported markers', () => {
    const f = scatterAccVs({
      id: 'acc-params',
      records: recs,
      x: 'params',
      groupBy: 'paper',
      references: [{ label: 'mLiT (paper)', x: 0.9e6, y: 72.1 }],
    });
    expect(f.paper).toBe('mlit');
    expect(f.data.map((t) => t.name)).toEqual(['mlit', 'eit', 'reported']);
    const mlit = f.data[0] as { x: number[]; y: number[]; text: string[]; error_y: { array: number[] } };
    expect(mlit.x).toEqual([0.9]);
    expect(mlit.y[0]).toBeCloseTo(72, 6);
    expect(mlit.error_y.array[0]).toBeCloseTo(100 * Math.SQRT2 * 0.02, 2); // sample std of 0.70, 0.74
    expect(mlit.text).toEqual(['xxs']);
    const ref = f.data[2] as { x: number[]; y: number[]; marker: { symbol: string } };
    expect(ref.x).toEqual([0.9]);
    expect(ref.y).toEqual([72.1]);
    expect(ref.marker.symbol).not.toBe((f.data[0] as { marker: { symbol?: string } }).marker.symbol);
    const lay = f.layout as { xaxis: { type: string; title: { text: string } }; yaxis: { title: { text: string } } };
    expect(lay.xaxis.type).toBe('log');
    expect(lay.xaxis.title.text).toBe('Parameters (M)');
    expect(lay.yaxis.title.text).toBe('Top-1 accuracy (%)');
    expect(f.caption).toMatch(/synthetic data/);
  });

  it('MACs axis switches to G when a value reaches 1e9', () => {
    const g = scatterAccVs({ id: 'm', records: recs, x: 'macs' });
    expect((g.layout as { xaxis: { title: { text: string } } }).xaxis.title.text).toBe('MACs (G)');
    expect((g.data[1] as { x: number[] }).x).toEqual([1.5]);
    const m = scatterAccVs({ id: 'm', records: recs.slice(0, 2), x: 'macs' });
    expect((m.layout as { xaxis: { title: { text: string } } }).xaxis.title.text).toBe('MACs (M)');
    expect((m.data[0] as { x: number[] }).x).toEqual([40]);
  });

  it('ablationBars: mean bars with std error bars and a baseline line', () => {
    const f = ablationBars({ id: 'abl', records: recs, groupBy: 'variant', metric: 'top1', baseline: 'eit' });
    const t = f.data[0] as { x: string[]; y: number[]; error_y: { array: number[] } };
    expect(t.x).toEqual(['xxs', 'eit']);
    expect(t.y[0]).toBeCloseTo(72, 6);
    expect(t.error_y.array[0]).toBeCloseTo(2.83, 2);
    expect(t.error_y.array[1]).toBe(0);
    const shapes = (f.layout as { shapes: Array<{ y0: number }> }).shapes;
    expect(shapes[0].y0).toBeCloseTo(80, 6);
    const grouped = ablationBars({ id: 'abl2', records: recs, groupBy: ['variant', 'dataset'], metric: 'top1' });
    expect(grouped.data.map((d) => d.name)).toEqual(['synth10', 'cifar100']);
  });

  it('trainingCurves: loss and top-1 (%) per epoch for each record with history', () => {
    const f = trainingCurves(recs);
    // 2 records with history × (train loss, test loss, train top-1, test top-1)
    expect(f.data).toHaveLength(8);
    expect(f.data[0].name).toBe('xxs (seed 0)');
    expect(f.data[0].y).toEqual([2, 1]);
    expect(f.data[2].yaxis).toBe('y2');
    expect(f.data[2].y).toEqual([30, 60]);
    expect((f.layout as { yaxis2: { title: { text: string } } }).yaxis2.title.text).toBe('Top-1 accuracy (%)');
  });

  it('heatmap, lineChart and imageGrid produce plotly traces', () => {
    const h = heatmap({
      id: 'h',
      paper: 'mobile-vmoe',
      z: [
        [0.1, 0.9],
        [0.5, 0.5],
      ],
      x: ['e1', 'e2'],
      y: ['c1', 'c2'],
      title: 'Routing',
      zTitle: 'fraction of tokens',
    });
    expect(h.data[0].type).toBe('heatmap');
    expect(h.paper).toBe('mobile-vmoe');
    expect(heatmap({ id: 'h2', z: [[1, 2, 3]] }).data[0]).toMatchObject({ x: [0, 1, 2], y: [0] });
    const l = lineChart({
      id: 'l',
      series: [{ name: 'a', x: [1, 2], y: [3, 4] }],
      xTitle: 'Layer',
      yTitle: 'Distance (px)',
    });
    expect(l.data[0].y).toEqual([3, 4]);
    const img = { pixels: Float32Array.from([0, 0.5, 1, 1]), width: 2, height: 2, channels: 1 as const };
    expect(imageToZ(img)).toEqual([
      [
        [0, 0, 0],
        [128, 128, 128],
      ],
      [
        [255, 255, 255],
        [255, 255, 255],
      ],
    ]);
    expect(() => imageToZ({ ...img, width: 3 })).toThrow(/4 values; expected 2×3×1 = 6/);
    const g = imageGrid({ id: 'g', images: [img, img, img], columns: 2 });
    expect(g.data.map((d) => [d.type, d.xaxis, d.yaxis])).toEqual([
      ['image', 'x', 'y'],
      ['image', 'x2', 'y2'],
      ['image', 'x3', 'y3'],
    ]);
    expect(g.layout.xaxis3).toBeDefined();
  });

  it('imageGrid: long titles wrap to the width, cells widen to fit their labels', () => {
    const img = { pixels: new Float32Array(4), width: 2, height: 2, channels: 1 as const };
    const title = 'MAE reconstructions after pre-training (same dataset, 3 epochs on synth10)';
    const g = imageGrid({
      id: 'g',
      title,
      cellPx: 80,
      columns: 3,
      images: [
        { ...img, label: 'original' },
        { ...img, label: 'masked 75%' },
        { ...img, label: 'after 3 ep (synth10)' },
      ],
    });
    const width = g.layout.width as number;
    const lines = (g.layout.title as { text: string }).text.split('<br>');
    expect(lines.length).toBeGreaterThan(1);
    expect(lines.join(' ')).toBe(title);
    for (const l of lines) expect(l.length * 10).toBeLessThanOrEqual(width - 40);
    expect((width - 40) / 3).toBeGreaterThanOrEqual('after 3 ep (synth10)'.length * 6.5); // labels do not overlap
    expect(g.title).toBe(title); // the spec keeps the plain title
    expect(wrapWords('a bb ccc', 4)).toEqual(['a bb', 'ccc']);
    expect(wrapWords('averyveryverylongword x', 5)).toEqual(['averyveryverylongword', 'x']);
  });
});

describe('bar, point and graph builders', () => {
  it('barChart: one bar trace per series, points over them, reference lines, the caption names the data', () => {
    const recs = [fakeRecord({ variant: 'a', metrics: { top1: 0.5 } })];
    const f = barChart({
      id: 'bars',
      title: 'Bars',
      plotTitle: 'Short',
      records: recs,
      caption: 'Some bars',
      bars: [
        { name: 's1', x: ['p', 'q'], y: [1, null], text: ['1', ''], textposition: 'outside' },
        { name: 's2', x: ['p', 'q'], y: [2, 3], color: '#123456' },
      ],
      points: [{ name: 'reported', x: ['p'], y: [4], text: ['r'], textposition: 'top center' }],
      referenceLines: [{ label: 'chance', y: 10 }],
      barmode: 'stack',
      categoryX: true,
      yFromZero: true,
      xTitle: 'X',
      yTitle: 'Y',
    });
    expect(f.data.map((t) => [t.type, t.name, t.mode])).toEqual([
      ['bar', 's1', undefined],
      ['bar', 's2', undefined],
      ['scatter', 'reported', 'markers+text'],
    ]);
    expect(f.data[0]).toMatchObject({ y: [1, null], text: ['1', ''], textposition: 'outside' });
    expect(f.data[1].marker).toEqual({ color: '#123456' });
    expect(f.layout).toMatchObject({
      title: { text: 'Short' },
      barmode: 'stack',
      xaxis: { title: { text: 'X' }, type: 'category' },
      yaxis: { title: { text: 'Y' }, rangemode: 'tozero' },
    });
    expect((f.layout.shapes as unknown[]).length).toBe(1);
    expect(f.caption).toBe(caption(recs, 'Some bars'));
    expect(f.title).toBe('Bars');
  });

  it('pointCloud: marker series with fixed x ticks', () => {
    const f = pointCloud({
      id: 'pts',
      series: [{ name: 'v', x: [1, 2], y: [3, 4], marker: { color: '#f00' } }],
      xTitle: 'Block',
      yTitle: 'd',
      xTicks: [1, 2],
      yFromZero: true,
    });
    expect(f.data).toEqual([
      { type: 'scatter', mode: 'markers', name: 'v', x: [1, 2], y: [3, 4], marker: { color: '#f00' } },
    ]);
    expect(f.layout.xaxis).toEqual({ title: { text: 'Block' }, tickmode: 'array', tickvals: [1, 2] });
    expect(f.layout.yaxis).toEqual({ title: { text: 'd' }, rangemode: 'tozero' });
  });

  it('graphFigure: each edge group is one line trace of null-separated segments, then the nodes', () => {
    const nodes = [
      { x: 0, y: 0, text: 'n0', color: '#a00' },
      { x: 1, y: 0, text: 'n1', color: '#0a0' },
      { x: 0, y: 1, text: 'n2', color: '#00a' },
    ];
    const f = graphFigure({
      id: 'g',
      nodes,
      nodeName: 'classes',
      edgeGroups: [
        {
          name: 'in',
          edges: [
            [0, 1],
            [1, 2],
          ],
          color: '#111',
        },
        { name: 'out', edges: [], color: '#222' },
      ],
    });
    expect(f.data[0]).toMatchObject({
      mode: 'lines',
      name: 'in',
      x: [0, 1, null, 1, 0, null],
      y: [0, 0, null, 0, 1, null],
    });
    expect(f.data[1]).toMatchObject({ name: 'out', x: [], y: [] });
    expect(f.data[2]).toMatchObject({ mode: 'markers', name: 'classes', x: [0, 1, 0], text: ['n0', 'n1', 'n2'] });
    expect((f.data[2].marker as { color: string[] }).color).toEqual(['#a00', '#0a0', '#00a']);
    expect(f.layout.xaxis).toEqual({ visible: false, scaleanchor: 'y' });
  });
});
