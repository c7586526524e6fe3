import type { ResultRecord } from './types';
import { configurationId } from './record';
import { loadRecords, type RecordFilter } from './store';

/**
 * Result tables: records grouped by some fields, each metric summarised as mean ± sample std over the group's runs
 * (seeds), and the results store as a danfo DataFrame (`resultsFrame`) for a user's own analysis. danfojs-node does
 * the aggregation; it is thinly maintained, so this is the only module that touches it, and it is loaded lazily
 * (about 2 s) on the first call, so commands that print no table never load it.
 */

export interface MetricSummary {
  mean: number;
  /** Sample standard deviation (n − 1); null when only one run has the metric. */
  std: number | null;
  n: number;
}

export interface SummaryRow {
  /** The values of the groupBy fields, in groupBy order. */
  group: Record<string, string | number | boolean | null>;
  /** Runs in the group. */
  n: number;
  metrics: Record<string, MetricSummary>;
}

export interface SummarizeOptions {
  /** Record fields to group by: top-level ('variant', 'model', 'dataset', 'seed') or dotted ('config.depth'). */
  groupBy: string[];
  /** Metric names, looked up in record.metrics first, else as a (dotted) record field. */
  metrics: string[];
}

/** Accuracy-like metrics are stored as fractions in [0, 1] and shown in percent. */
export function isAccuracyMetric(name: string): boolean {
  return /^(top\d|acc)/i.test(name) || /(Top\d|Acc)/.test(name);
}

/** A record's value for a field path: 'variant', 'config.depth', 'extra.foo', or a metric name. */
export function recordValue(rec: ResultRecord, field: string): unknown {
  if (rec.metrics && Object.hasOwn(rec.metrics, field)) return rec.metrics[field];
  let v: unknown = rec;
  for (const part of field.split('.')) {
    if (v === null || typeof v !== 'object') return undefined;
    v = (v as Record<string, unknown>)[part];
  }
  return v;
}

function groupValue(v: unknown): string | number | boolean | null {
  if (v === undefined || v === null) return null;
  if (typeof v === 'string' || typeof v === 'number' || typeof v === 'boolean') return v;
  return JSON.stringify(v);
}

type Danfo = typeof import('danfojs-node');
let danfo: Danfo | null = null;
function loadDanfo(): Danfo {
  // eslint-disable-next-line @typescript-eslint/no-var-requires
  if (!danfo) danfo = require('danfojs-node') as Danfo;
  return danfo;
}

/** The identity columns of `resultsFrame`, in order; the metric columns follow. */
export const RESULT_FRAME_COLUMNS = [
  'experiment',
  'paper',
  'variant',
  'model',
  'configId',
  'scale',
  'dataset',
  'synthetic',
  'seed',
  'backend',
] as const;
/** The metric columns `resultsFrame` always has (NaN where a run lacks one); accuracies are fractions in [0, 1]. */
export const RESULT_FRAME_METRICS = [
  'top1',
  'top5',
  'loss',
  'params',
  'activeParams',
  'macs',
  'imgPerS',
  'steps',
] as const;

/**
 * The results store as a danfo DataFrame, one row per run, for your own analysis: group, pivot, describe, plot.
 * Give stored records, or a filter for the store (`{ paper: 'dwnet', scale: 'quick' }`; default: every record).
 * Columns: RESULT_FRAME_COLUMNS (`configId` is the configuration's short id: two runs of one variant with other
 * settings differ there), then RESULT_FRAME_METRICS, any further numeric metric the records carry, `wallTimeS` and
 * `timestamp`. Example: `resultsFrame({ paper: 'dwnet' }).groupby(['variant']).col(['top1']).agg({ top1: ['mean',
 * 'std', 'count'] })`.
 */
export function resultsFrame(source: ResultRecord[] | RecordFilter = {}): InstanceType<Danfo['DataFrame']> {
  const records = Array.isArray(source) ? source : loadRecords(source);
  const extra: string[] = [];
  for (const r of records) {
    for (const [k, v] of Object.entries(r.metrics ?? {})) {
      if (typeof v === 'number' && !(RESULT_FRAME_METRICS as readonly string[]).includes(k) && !extra.includes(k))
        extra.push(k);
    }
  }
  const metrics = [...RESULT_FRAME_METRICS, ...extra];
  const columns = [...RESULT_FRAME_COLUMNS, ...metrics, 'wallTimeS', 'timestamp'];
  const dfd = loadDanfo();
  if (!records.length) return new dfd.DataFrame([], { columns });
  const num = (v: unknown) => (typeof v === 'number' && Number.isFinite(v) ? v : NaN);
  const rows = records.map((r) => [
    r.experiment,
    r.paper,
    r.variant,
    r.model ?? '',
    configurationId(r),
    r.scale,
    r.dataset,
    r.synthetic,
    r.seed,
    r.backend ?? '',
    ...metrics.map((m) => num(r.metrics?.[m])),
    num(r.wallTimeS),
    r.timestamp ?? '',
  ]);
  return new dfd.DataFrame(rows, { columns });
}

/** An HTML table of a danfo DataFrame (the first `maxRows` rows), for notebooks (`showFrame`). */
export function frameToHtml(df: InstanceType<Danfo['DataFrame']>, maxRows = 50): string {
  const cols = df.columns as string[];
  const values = (df.values as unknown[][]).slice(0, maxRows);
  const cell = (v: unknown) =>
    typeof v === 'number' ? (Number.isInteger(v) ? String(v) : Number(v.toPrecision(4)).toString()) : String(v ?? '');
  const more = df.shape[0] > maxRows ? `<p><em>${maxRows} of ${df.shape[0]} rows</em></p>` : '';
  return [
    '<table class="lightvit-table">',
    `<thead><tr>${cols.map((c) => `<th>${esc(c)}</th>`).join('')}</tr></thead>`,
    '<tbody>',
    ...values.map(
      (r) =>
        `<tr>${r.map((v) => `<td${typeof v === 'number' ? ' style="text-align:right"' : ''}>${esc(cell(v))}</td>`).join('')}</tr>`,
    ),
    '</tbody>',
    '</table>',
    more,
  ].join('\n');
}

/**
 * Group records and summarise each metric as mean ± std over the group (groups keep first-appearance order).
 * A group never mixes configurations: records whose groupBy values agree but whose configurations differ (another
 * --set, recipe or epoch count; see configurationId) form separate rows, told apart by a `config` column (the
 * configuration's short id) that appears when such a split happened.
 */
export function summarize(records: ResultRecord[], opts: SummarizeOptions): SummaryRow[] {
  const { groupBy, metrics } = opts;
  if (!groupBy.length) throw new Error("summarize: groupBy is empty; expected at least one field, e.g. ['variant']");
  const groups: SummaryRow[] = [];
  const index = new Map<string, number>();
  const gid: number[] = [];
  const configsOf = new Map<string, Set<string>>();
  for (const r of records) {
    const k = JSON.stringify(groupBy.map((f) => groupValue(recordValue(r, f))));
    configsOf.set(k, (configsOf.get(k) ?? new Set()).add(configurationId(r)));
  }
  const split = groupBy.includes('config') ? false : [...configsOf.values()].some((c) => c.size > 1);
  for (const r of records) {
    const g: SummaryRow['group'] = {};
    for (const f of groupBy) g[f] = groupValue(recordValue(r, f));
    if (split) g.config = configurationId(r);
    const k = JSON.stringify([...groupBy.map((f) => g[f]), split ? g.config : null]);
    let i = index.get(k);
    if (i === undefined) {
      i = groups.length;
      index.set(k, i);
      groups.push({ group: g, n: 0, metrics: {} });
    }
    groups[i].n++;
    gid.push(i);
  }
  if (!records.length) return groups;
  const dfd = loadDanfo();
  for (const m of metrics) {
    const ids: number[] = [];
    const vals: number[] = [];
    records.forEach((r, j) => {
      const v = recordValue(r, m);
      if (typeof v === 'number' && Number.isFinite(v)) {
        ids.push(gid[j]);
        vals.push(v);
      }
    });
    if (!vals.length) continue;
    const df = new dfd.DataFrame({ g: ids, v: vals });
    const grouped = df.groupby(['g']).col(['v']);
    const col = (frame: InstanceType<Danfo['DataFrame']>, name: string) => frame[name].values as number[];
    const meanDf = grouped.mean();
    const stdDf = grouped.std();
    const countDf = grouped.count();
    const gm = col(meanDf, 'g');
    const means = col(meanDf, 'v_mean');
    const stds = new Map(col(stdDf, 'g').map((g, i) => [g, col(stdDf, 'v_std')[i]]));
    const counts = new Map(col(countDf, 'g').map((g, i) => [g, col(countDf, 'v_count')[i]]));
    gm.forEach((g, i) => {
      const n = counts.get(g) ?? 0;
      groups[g].metrics[m] = { mean: means[i], std: n > 1 ? (stds.get(g) ?? null) : null, n };
    });
  }
  return groups;
}

/** Format a number for a table cell by metric kind: accuracies in %, params/MACs in M or G, others 4 digits. */
export function formatMetric(name: string, s: MetricSummary): string {
  const f = metricFormatter(name);
  return s.std === null ? f(s.mean) : `${f(s.mean)} ± ${f(s.std)}`;
}

function metricFormatter(name: string): (x: number) => string {
  if (isAccuracyMetric(name)) return (x) => (100 * x).toFixed(2);
  if (/params/i.test(name)) return (x) => `${(x / 1e6).toFixed(3)}M`;
  if (/macs|flops/i.test(name)) return (x) => (x >= 1e9 ? `${(x / 1e9).toFixed(2)}G` : `${(x / 1e6).toFixed(1)}M`);
  if (/imgPerS/i.test(name)) return (x) => x.toFixed(1);
  return (x) => (Math.abs(x) >= 1000 ? x.toFixed(0) : Number(x.toPrecision(4)).toString());
}

/** Column header: accuracy metrics carry '(%)'. */
export function metricHeader(name: string): string {
  return isAccuracyMetric(name) ? `${name} (%)` : name;
}

function tableCells(rows: SummaryRow[]): { header: string[]; body: string[][]; numeric: boolean[] } {
  const groupCols = rows.length ? Object.keys(rows[0].group) : [];
  const metricCols: string[] = [];
  for (const r of rows) for (const m of Object.keys(r.metrics)) if (!metricCols.includes(m)) metricCols.push(m);
  const header = [...groupCols, 'n', ...metricCols.map(metricHeader)];
  const body = rows.map((r) => [
    ...groupCols.map((c) => (r.group[c] === null ? '—' : String(r.group[c]))),
    String(r.n),
    ...metricCols.map((m) => (r.metrics[m] ? formatMetric(m, r.metrics[m]) : '—')),
  ]);
  const numeric = header.map((_, i) => i >= groupCols.length);
  return { header, body, numeric };
}

/** Aligned plain-text table (text columns left-aligned, numbers right-aligned). */
export function toText(rows: SummaryRow[]): string {
  if (!rows.length) return '(no results)';
  const { header, body, numeric } = tableCells(rows);
  const w = header.map((h, i) => Math.max(h.length, ...body.map((r) => r[i].length)));
  const fmt = (cells: string[]) =>
    cells
      .map((c, i) => (numeric[i] ? c.padStart(w[i]) : c.padEnd(w[i])))
      .join('  ')
      .trimEnd();
  return [fmt(header), w.map((x) => '-'.repeat(x)).join('  '), ...body.map(fmt)].join('\n');
}

function esc(s: string): string {
  return s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');
}

/** HTML table for notebooks. */
export function toHtml(rows: SummaryRow[]): string {
  if (!rows.length) return '<p><em>no results</em></p>';
  const { header, body, numeric } = tableCells(rows);
  const align = (i: number) => (numeric[i] ? ' style="text-align:right"' : ' style="text-align:left"');
  return [
    '<table class="lightvit-table">',
    `<thead><tr>${header.map((h, i) => `<th${align(i)}>${esc(h)}</th>`).join('')}</tr></thead>`,
    '<tbody>',
    ...body.map((r) => `<tr>${r.map((c, i) => `<td${align(i)}>${esc(c)}</td>`).join('')}</tr>`),
    '</tbody>',
    '</table>',
  ].join('\n');
}
