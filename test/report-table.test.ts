import { describe, it, expect } from 'vitest';
import {
  summarize,
  toText,
  toHtml,
  formatMetric,
  isAccuracyMetric,
  resultsFrame,
  frameToHtml,
  RESULT_FRAME_COLUMNS,
  RESULT_FRAME_METRICS,
} from '../src/report/table';
import { fakeRecord } from './helpers/records';

// Hand-made runs: A over 3 seeds, B over 2, C once (no params metric).
const records = [
  fakeRecord({ variant: 'A', seed: 0, metrics: { top1: 0.7, params: 1e6 }, config: { depth: 2 } }),
  fakeRecord({ variant: 'B', seed: 0, metrics: { top1: 0.5, params: 2.5e6 }, config: { depth: 4 } }),
  fakeRecord({ variant: 'A', seed: 1, metrics: { top1: 0.72, params: 1e6 }, config: { depth: 2 } }),
  fakeRecord({ variant: 'A', seed: 2, metrics: { top1: 0.74, params: 1e6 }, config: { depth: 2 } }),
  fakeRecord({ variant: 'B', seed: 1, metrics: { top1: 0.6, params: 2.5e6 }, config: { depth: 4 } }),
  fakeRecord({ variant: 'C', seed: 0, metrics: { top1: 0.9 }, config: { depth: 4 } }),
];

describe('summarize', () => {
  it('mean ± sample std over seeds, n per group, groups in first-appearance order', () => {
    const rows = summarize(records, { groupBy: ['variant'], metrics: ['top1', 'params'] });
    expect(rows.map((r) => r.group.variant)).toEqual(['A', 'B', 'C']);
    expect(rows.map((r) => r.n)).toEqual([3, 2, 1]);
    // A: mean 0.72, std sqrt((0.02² + 0 + 0.02²) / 2) = 0.02
    expect(rows[0].metrics.top1.mean).toBeCloseTo(0.72, 12);
    expect(rows[0].metrics.top1.std).toBeCloseTo(0.02, 12);
    // B: mean 0.55, std sqrt((0.05² + 0.05²) / 1) = 0.0707107
    expect(rows[1].metrics.top1.mean).toBeCloseTo(0.55, 12);
    expect(rows[1].metrics.top1.std).toBeCloseTo(Math.SQRT2 * 0.05, 12);
    expect(rows[2].metrics.top1).toEqual({ mean: 0.9, std: null, n: 1 });
    expect(rows[1].metrics.params).toEqual({ mean: 2.5e6, std: 0, n: 2 });
    expect(rows[2].metrics.params).toBeUndefined();
  });

  it('groups by several fields, dotted config paths included', () => {
    const rows = summarize(records, { groupBy: ['config.depth', 'variant'], metrics: ['top1'] });
    expect(rows.map((r) => [r.group['config.depth'], r.group.variant, r.n])).toEqual([
      [2, 'A', 3],
      [4, 'B', 2],
      [4, 'C', 1],
    ]);
    const byDepth = summarize(records, { groupBy: ['config.depth'], metrics: ['top1'] });
    // depth 4: 0.5, 0.6, 0.9 → mean 2/3, std sqrt(((−1/6)² + (−1/15)² + (7/30)²)/2) = sqrt(0.0433333) = 0.2081666
    expect(byDepth[1].metrics.top1.mean).toBeCloseTo(2 / 3, 12);
    expect(byDepth[1].metrics.top1.std).toBeCloseTo(0.2081666, 6);
  });

  it('aligned text table (golden)', () => {
    const text = toText(summarize(records, { groupBy: ['variant'], metrics: ['top1', 'params'] }));
    expect(text).toBe(
      [
        'variant  n      top1 (%)           params',
        '-------  -  ------------  ---------------',
        'A        3  72.00 ± 2.00  1.000M ± 0.000M',
        'B        2  55.00 ± 7.07  2.500M ± 0.000M',
        'C        1         90.00                —',
      ].join('\n'),
    );
  });

  it('HTML table with headers, escaped cells and right-aligned numbers', () => {
    const html = toHtml(
      summarize([...records, fakeRecord({ variant: '<x>', metrics: { top1: 0.1 } })], {
        groupBy: ['variant'],
        metrics: ['top1'],
      }),
    );
    expect(html).toMatch(/^<table/);
    expect(html).toContain('<th style="text-align:right">top1 (%)</th>');
    expect(html).toContain('<td style="text-align:right">72.00 ± 2.00</td>');
    expect(html).toContain('&lt;x&gt;');
    expect(html).not.toContain('<x>');
  });

  it('formats by metric kind', () => {
    expect(formatMetric('macs', { mean: 2.5e9, std: null, n: 1 })).toBe('2.50G');
    expect(formatMetric('macs', { mean: 41.2e6, std: 1e5, n: 2 })).toBe('41.2M ± 0.1M');
    expect(isAccuracyMetric('testTop1')).toBe(true);
    expect(isAccuracyMetric('routerTop1')).toBe(true);
    expect(isAccuracyMetric('loss')).toBe(false);
    expect(toText([])).toBe('(no results)');
  });
});

describe('resultsFrame', () => {
  it(
    'one row per run: identity columns, the configuration id, ' + 'metrics (NaN where missing), extra numeric metrics',
    () => {
      const withExtra = [
        ...records,
        fakeRecord({ variant: 'D', seed: 0, metrics: { top1: 0.4, routerTop1: 0.8 }, config: { depth: 2 } }),
      ];
      const df = resultsFrame(withExtra);
      expect(df.shape).toEqual([7, RESULT_FRAME_COLUMNS.length + RESULT_FRAME_METRICS.length + 3]);
      expect(df.columns.slice(0, RESULT_FRAME_COLUMNS.length)).toEqual([...RESULT_FRAME_COLUMNS]);
      expect(df.columns).toContain('routerTop1');
      expect(df.variant.values).toEqual(['A', 'B', 'A', 'A', 'B', 'C', 'D']);
      expect(df.top1.values).toEqual([0.7, 0.5, 0.72, 0.74, 0.6, 0.9, 0.4]);
      const params = df.params.values as number[];
      expect(params.slice(0, 5)).toEqual([1e6, 2.5e6, 1e6, 1e6, 2.5e6]);
      expect(Number.isNaN(params[5])).toBe(true);
      // runs with another configuration of the same variant are told apart by the configId column
      const cfg = df.configId.values as string[];
      expect(cfg[0]).toBe(cfg[2]);
      expect(cfg[0]).not.toBe(cfg[1]);
      // and danfo groups them like summarize does
      const g = df
        .groupby(['variant'])
        .col(['top1'])
        .agg({ top1: ['mean', 'count'] });
      const byVariant = Object.fromEntries(
        (g.variant.values as string[]).map((v, i) => [v, [g.top1_mean.values[i], g.top1_count.values[i]]]),
      );
      expect(byVariant.A[0]).toBeCloseTo(0.72, 6);
      expect(byVariant.A[1]).toBe(3);
      expect(byVariant.B[1]).toBe(2);
    },
  );

  it(
    'an empty store gives an empty frame with the columns; ' + 'frameToHtml shows rows, escaped, and says when it cut',
    () => {
      const empty = resultsFrame([]);
      expect(empty.shape[0]).toBe(0);
      expect(empty.columns.slice(0, 3)).toEqual(['experiment', 'paper', 'variant']);
      const html = frameToHtml(
        resultsFrame([fakeRecord({ variant: '<b>x</b>', seed: 0, metrics: { top1: 0.5 } }), ...records]),
        3,
      );
      expect(html).toContain('&lt;b&gt;x&lt;/b&gt;');
      expect(html.match(/<tr>/g)?.length).toBe(4); // header + 3 rows
      expect(html).toContain('3 of 7 rows');
    },
  );
});
