import type { FigureSpec, ResultRecord } from './types';
import { isAccuracyMetric, recordValue, summarize, type SummaryRow } from './table';

/**
 * Figure builders shared by every paper. Each returns a FigureSpec (plotly data + layout + caption); export.ts
 * writes them. Conventions: accuracies are stored as fractions and plotted in %, parameters in millions (M), MACs
 * in M or G; every caption names dataset and scale, and says "synthetic data" when any record is synthetic.
 */

type Trace = Record<string, unknown>;

export interface FigureIdentity {
  /** File stem under figures/<paper>/. */
  id: string;
  /** Default: the records' paper, else 'kit'. */
  paper?: string;
  title?: string;
  /** Caption text; dataset, scale and "synthetic data" are appended by `caption`. */
  caption?: string;
}

function uniq<T>(xs: T[]): T[] {
  return [...new Set(xs)];
}

function list(xs: string[]): string {
  return xs.length <= 1 ? (xs[0] ?? '') : `${xs.slice(0, -1).join(', ')} and ${xs[xs.length - 1]}`;
}

/** Names readers know the datasets by (registry name → title); unknown names are shown as they are. */
const DATASET_TITLES: Record<string, string> = {
  synth10: 'synth10',
  synth100: 'synth100',
  cifar10: 'CIFAR-10',
  cifar100: 'CIFAR-100',
  svhn: 'SVHN',
  flowers102: 'Flowers-102',
  'fashion-mnist': 'Fashion-MNIST',
  fashionmnist: 'Fashion-MNIST',
  mnist: 'MNIST',
};

export function datasetTitle(name: string): string {
  return DATASET_TITLES[name] ?? DATASET_TITLES[name.toLowerCase()] ?? name;
}

/**
 * What ran, in one phrase: "Fashion-MNIST (real data), quick scale, 3 seeds". Each dataset says whether it is real
 * or synthetic; several scales are listed (figures are drawn per scale, so normally there is one).
 */
export function dataNote(records: Array<Partial<ResultRecord>>): string {
  const byName = new Map<string, boolean>();
  for (const r of records) if (r.dataset) byName.set(r.dataset, (byName.get(r.dataset) ?? false) || !!r.synthetic);
  const datasets = [...byName].map(([d, syn]) => `${datasetTitle(d)} (${syn ? 'synthetic' : 'real'} data)`);
  const scales = uniq(records.map((r) => r.scale).filter((v): v is ResultRecord['scale'] => !!v));
  const seeds = uniq(records.map((r) => r.seed).filter((v): v is number => typeof v === 'number'));
  return [
    ...(datasets.length ? [list(datasets)] : []),
    ...(scales.length ? [`${list(scales)} scale`] : []),
    ...(seeds.length ? [`${seeds.length} seed${seeds.length > 1 ? 's' : ''}`] : []),
  ].join(', ');
}

/** The marker the provenance footer of a PNG/SVG starts from (see export.ts). */
export const DATA_NOTE_PREFIX = 'Data:';

/**
 * Caption text followed by "Data: <dataNote>." and, when any record is synthetic, that these are not the paper's
 * numbers.
 */
export function caption(records: Array<Partial<ResultRecord>>, text: string): string {
  const base = text.trim().replace(/\.?$/, '.');
  const note = dataNote(records);
  let s = note ? `${base} ${DATA_NOTE_PREFIX} ${note}.` : base;
  if (records.some((r) => r.synthetic)) s += " Synthetic data: these are not the paper's numbers.";
  return s;
}

function paperOf(records: Array<Partial<ResultRecord>>, fallback?: string): string {
  return fallback ?? records[0]?.paper ?? 'kit';
}

function baseLayout(title: string, extra: Record<string, unknown> = {}): Record<string, unknown> {
  return {
    title: { text: title },
    template: 'plotly_white',
    font: { family: 'Arial, Helvetica, sans-serif', size: 13 },
    margin: { l: 70, r: 30, t: 60, b: 60 },
    legend: { orientation: 'v' },
    width: 760,
    height: 480,
    ...extra,
  };
}

/** Axis scale for a metric: factor to divide by and the unit label. */
export function metricUnit(name: string, values: number[] = []): { div: number; title: string } {
  if (isAccuracyMetric(name)) return { div: 0.01, title: `${prettyMetric(name)} (%)` };
  if (/params/i.test(name)) return { div: 1e6, title: `${prettyMetric(name)} (M)` };
  if (/macs|flops/i.test(name)) {
    const big = values.length > 0 && Math.max(...values) >= 1e9;
    return { div: big ? 1e9 : 1e6, title: `${prettyMetric(name)} (${big ? 'G' : 'M'})` };
  }
  if (/imgPerS/.test(name)) return { div: 1, title: 'Throughput (img/s)' };
  if (/wallTimeS|seconds/i.test(name)) return { div: 1, title: `${name} (s)` };
  return { div: 1, title: prettyMetric(name) };
}

function prettyMetric(name: string): string {
  const known: Record<string, string> = {
    top1: 'Top-1 accuracy',
    top5: 'Top-5 accuracy',
    testTop1: 'Test top-1 accuracy',
    trainTop1: 'Train top-1 accuracy',
    params: 'Parameters',
    activeParams: 'Active parameters',
    macs: 'MACs',
    macsWithoutAttention: 'MACs without attention',
    loss: 'Loss',
  };
  return known[name] ?? name;
}

const num = (v: number, d = 3) => Number(v.toPrecision(d));

export interface ReferencePoint {
  label: string;
  /** Parameters or MACs as an absolute count (e.g. 5.7e6), like record.metrics. */
  x: number;
  /** Accuracy in percent, as the paper reports it. */
  y: number;
}

export interface ScatterOptions extends FigureIdentity {
  records: ResultRecord[];
  x: 'params' | 'macs' | 'activeParams' | 'macsWithoutAttention';
  /** Accuracy metric on y (default 'top1'). */
  y?: string;
  /** One trace (legend entry) per value of this field (default 'paper'). */
  groupBy?: string;
  /** Point labels (default 'variant'); points with the same group and label are averaged over seeds. */
  labelBy?: string;
  /**
   * Reported numbers from the papers (`{label, x, y}`: drawn as distinct markers named "reported" in the legend) and
   * horizontal reference lines (`{label, value}`, e.g. a linear classifier on raw pixels: dashed lines).
   */
  references?: Array<ReferencePoint | ReferenceLine>;
  logX?: boolean;
  /** Label every point that fits without overlap (default); false: hover text and legend only. */
  pointLabels?: boolean;
}

const isLine = (r: ReferencePoint | ReferenceLine): r is ReferenceLine =>
  typeof (r as ReferenceLine).value === 'number';

/**
 * Accuracy vs parameters or MACs, log-x with 1-2-5 ticks, mean ± std over seeds as error bars. Points are named by
 * hover text and, where a label fits without overlapping another label or point, by a label beside the point.
 */
export function scatterAccVs(o: ScatterOptions): FigureSpec {
  const yName = o.y ?? 'top1';
  const groupBy = o.groupBy ?? 'paper';
  const labelBy = o.labelBy ?? 'variant';
  const refPoints = (o.references ?? []).filter((r): r is ReferencePoint => !isLine(r));
  const refLines = (o.references ?? []).filter(isLine);
  const recs = o.records.filter(
    (r) => typeof recordValue(r, yName) === 'number' && typeof recordValue(r, o.x) === 'number',
  );
  const xu = metricUnit(o.x, [...recs.map((r) => recordValue(r, o.x) as number), ...refPoints.map((p) => p.x)]);
  const yu = metricUnit(yName);
  const rows = summarize(recs, { groupBy: [groupBy, labelBy], metrics: [o.x, yName] });
  const data: Trace[] = [];
  for (const g of uniq(rows.map((r) => r.group[groupBy]))) {
    const rs = rows.filter((r) => r.group[groupBy] === g && r.metrics[o.x] && r.metrics[yName]);
    data.push({
      type: 'scatter',
      mode: 'markers',
      name: String(g),
      x: rs.map((r) => num(r.metrics[o.x].mean / xu.div, 4)),
      y: rs.map((r) => num(r.metrics[yName].mean / yu.div, 4)),
      error_y: {
        type: 'data',
        array: rs.map((r) => num((r.metrics[yName].std ?? 0) / yu.div, 3)),
        visible: rs.some((r) => r.metrics[yName].std !== null),
      },
      text: rs.map((r) => String(r.group[labelBy])),
      marker: { size: 10 },
      hovertemplate: `%{text}<br>${xu.title}: %{x}<br>${yu.title}: %{y}<extra>${String(g)}</extra>`,
    });
  }
  if (refPoints.length) {
    data.push({
      type: 'scatter',
      mode: 'markers',
      name: 'reported',
      x: refPoints.map((p) => num(p.x / xu.div, 4)),
      y: refPoints.map((p) => p.y),
      text: refPoints.map((p) => p.label),
      marker: { size: 12, symbol: 'star-open', color: '#444', line: { width: 2 } },
      hovertemplate: `%{text} (reported)<br>${xu.title}: %{x}<br>${yu.title}: %{y}<extra>reported</extra>`,
    });
  }
  const lines = refLines.map((l) => ({ label: l.label, y: num(l.value / yu.div, 4) }));
  const title = o.title ?? `${prettyMetric(yName)} vs ${prettyMetric(o.x).toLowerCase()}`;
  const logX = o.logX !== false;
  const xs = data.flatMap((t) => t.x as number[]).filter((v) => !logX || v > 0);
  const ys = [
    ...data.flatMap((t) =>
      (t.y as number[]).flatMap((y, i) => [
        y - (((t.error_y as { array?: number[] })?.array ?? [])[i] ?? 0),
        y + (((t.error_y as { array?: number[] })?.array ?? [])[i] ?? 0),
      ]),
    ),
    ...lines.map((l) => l.y),
  ];
  // explicit ranges (padded so that labels at the edges fit), so that labels can be placed in pixels
  const lx = (v: number) => (logX ? Math.log10(v) : v);
  const [x0, x1] = xs.length ? [Math.min(...xs.map(lx)), Math.max(...xs.map(lx))] : [0, 1];
  const xPad = Math.max(logX ? 0.15 : 0, (x1 - x0) * 0.08) || (logX ? 0.3 : Math.abs(x0) * 0.1 || 1);
  const xRange = [x0 - xPad, x1 + xPad];
  const [y0, y1] = ys.length ? [Math.min(...ys), Math.max(...ys)] : [0, 1];
  const yPad = (y1 - y0) * 0.1 || Math.max(1, Math.abs(y0) * 0.05);
  const yRange = [y0 - yPad, y1 + yPad];
  const refs = referenceLineShapes(lines);
  let spec: FigureSpec = {
    id: o.id,
    paper: paperOf(o.records, o.paper),
    title,
    caption: caption(recs, o.caption ?? `${title}. Points are means over seeds, bars one standard deviation.`),
    data,
    layout: baseLayout(title, {
      xaxis: { title: { text: xu.title }, type: logX ? 'log' : 'linear', range: xs.length ? xRange : undefined },
      yaxis: { title: { text: yu.title }, range: ys.length ? yRange : undefined },
      shapes: refs.shapes,
      annotations: refs.annotations,
    }),
  };
  spec = fitFigure(spec);
  if (o.pointLabels !== false && xs.length) {
    const lay = spec.layout as {
      width: number;
      height: number;
      margin: { l: number; r: number; t: number; b: number };
    };
    const legendW = data.length > 1 ? Math.max(...data.map((t) => textWidth(String(t.name), 13))) + 50 : 0;
    const area = {
      width: lay.width - lay.margin.l - Math.max(lay.margin.r, legendW),
      height: lay.height - lay.margin.t - lay.margin.b,
    };
    const pts = [...data].reverse().flatMap((t) =>
      (t.x as number[]).map((x, i) => ({
        x: ((lx(x) - xRange[0]) / (xRange[1] - xRange[0])) * area.width,
        y: (1 - ((t.y as number[])[i] - yRange[0]) / (yRange[1] - yRange[0])) * area.height,
        text: String((t.text as string[])[i] ?? ''),
        dataX: lx(x),
        dataY: (t.y as number[])[i],
      })),
    );
    const placed = placeLabels(pts, area);
    const labelAnn = placed.map((p) => ({
      x: pts[p.index].dataX,
      y: pts[p.index].dataY,
      xref: 'x',
      yref: 'y',
      text: escapeText(p.text),
      showarrow: false,
      xshift: p.ax,
      yshift: -p.ay,
      font: { size: 11, color: '#222' },
    }));
    spec.layout.annotations = [...(spec.layout.annotations as unknown[]), ...labelAnn];
  }
  return spec;
}

export interface AblationOptions extends FigureIdentity {
  records: ResultRecord[];
  /** Bars per value of the first field; a second field, if given, makes grouped (coloured) bars. */
  groupBy: string | [string] | [string, string];
  metric: string;
  /** A bar label (first groupBy field) drawn as a dashed reference line at its mean, or a value in display units. */
  baseline?: string | number;
  /** Further dashed reference lines (`value` in the metric's stored units, e.g. an accuracy as a fraction). */
  references?: ReferenceLine[];
  /** Axis title under the bars (default: the first groupBy field). */
  xTitle?: string;
}

/** Bars of a metric's mean with error bars = sample std over seeds (shown when some bar has more than one seed). */
export function ablationBars(o: AblationOptions): FigureSpec {
  const fields = typeof o.groupBy === 'string' ? [o.groupBy] : [...o.groupBy];
  const [xf, cf] = fields;
  const rows = summarize(o.records, { groupBy: fields, metrics: [o.metric] }).filter((r) => r.metrics[o.metric]);
  const u = metricUnit(
    o.metric,
    rows.map((r) => r.metrics[o.metric].mean),
  );
  const multiSeed = rows.some((r) => r.metrics[o.metric].n > 1);
  const bar = (rs: SummaryRow[], name: string): Trace => ({
    type: 'bar',
    name,
    x: rs.map((r) => String(r.group[xf])),
    y: rs.map((r) => num(r.metrics[o.metric].mean / u.div, 4)),
    error_y: { type: 'data', array: rs.map((r) => num((r.metrics[o.metric].std ?? 0) / u.div, 3)), visible: multiSeed },
    text: rs.map((r) => `n=${r.metrics[o.metric].n}`),
    textposition: 'inside',
    insidetextanchor: 'start',
    hovertemplate: `%{x}: %{y} (%{text})<extra>${name}</extra>`,
  });
  const data: Trace[] = cf
    ? uniq(rows.map((r) => r.group[cf])).map((c) =>
        bar(
          rows.filter((r) => r.group[cf] === c),
          String(c),
        ),
      )
    : [bar(rows, prettyMetric(o.metric))];
  const lines: Array<{ label: string; y: number }> = [];
  if (typeof o.baseline === 'number') lines.push({ label: 'baseline', y: o.baseline });
  else if (typeof o.baseline === 'string') {
    const b = rows.filter((r) => String(r.group[xf]) === o.baseline);
    if (b.length)
      lines.push({
        label: `baseline (${o.baseline})`,
        y: num(b.reduce((s, r) => s + r.metrics[o.metric].mean, 0) / b.length / u.div, 4),
      });
  }
  for (const r of o.references ?? []) lines.push({ label: r.label, y: num(r.value / u.div, 4) });
  const refs = referenceLineShapes(lines);
  // the y range holds every bar with its error bar and every reference line (plotly's autorange ignores the lines)
  const tops = data.flatMap((t) =>
    (t.y as number[]).map((y, i) => [y, (t.error_y as { array: number[] }).array[i] ?? 0] as const),
  );
  const hi = Math.max(0, ...tops.map(([y, e]) => y + (multiSeed ? e : 0)), ...lines.map((l) => l.y));
  const lo = Math.min(0, ...tops.map(([y, e]) => y - (multiSeed ? e : 0)), ...lines.map((l) => l.y));
  const yRange = hi > lo ? [lo, hi + 0.1 * (hi - lo)] : undefined;
  const title = o.title ?? `${prettyMetric(o.metric)} by ${xf}`;
  const spread = multiSeed ? 'error bars one standard deviation over seeds' : 'one seed per bar';
  return fitFigure({
    id: o.id,
    paper: paperOf(o.records, o.paper),
    title,
    caption: caption(o.records, o.caption ?? `${title}. Bars are means over seeds; ${spread}.`),
    data,
    layout: baseLayout(title, {
      barmode: 'group',
      xaxis: { title: { text: o.xTitle ?? xf }, type: 'category' },
      yaxis: { title: { text: u.title }, range: yRange },
      shapes: refs.shapes,
      annotations: refs.annotations,
      showlegend: !!cf,
    }),
  });
}

export interface CurvesOptions extends Partial<FigureIdentity> {
  /** Series name per record (default: variant, plus seed when several seeds share a variant). */
  nameBy?: (r: CurveSource) => string;
}

/**
 * A stored record, or just a name and a trainer's history (in a notebook: `{ variant, history, dataset, scale,
 * synthetic }`).
 */
export type CurveSource = Pick<ResultRecord, 'variant'> & Partial<Omit<ResultRecord, 'variant'>>;

/** Categorical colours (Tableau 20: ten strong, then their light tints), for curves and clusters. */
export const TABLEAU_20 = [
  '#1f77b4',
  '#ff7f0e',
  '#2ca02c',
  '#d62728',
  '#9467bd',
  '#8c564b',
  '#e377c2',
  '#7f7f7f',
  '#bcbd22',
  '#17becf',
  '#aec7e8',
  '#ffbb78',
  '#98df8a',
  '#ff9896',
  '#c5b0d5',
  '#c49c94',
  '#f7b6d2',
  '#c7c7c7',
  '#dbdb8d',
  '#9edae5',
];

/** Training curves: train/test loss (left) and train/test top-1 (right) vs epoch, one colour per record. */
export function trainingCurves(records: CurveSource[], o: CurvesOptions = {}): FigureSpec {
  const withHist = records.filter((r) => r.history?.length);
  const multiSeed = new Set(withHist.map((r) => r.variant)).size < withHist.length;
  const nameOf = o.nameBy ?? ((r: CurveSource) => (multiSeed ? `${r.variant} (seed ${r.seed})` : r.variant));
  const data: Trace[] = [];
  withHist.forEach((r, i) => {
    const h = r.history!;
    const color = TABLEAU_20[i % 10];
    const name = nameOf(r);
    const ep = h.map((e) => e.epoch);
    const line = (y: Array<number | undefined>, dash: string, axis: 1 | 2, label: string, first: boolean): Trace => ({
      type: 'scatter',
      mode: h.length > 1 ? 'lines+markers' : 'markers',
      name: first ? name : `${name} ${label}`,
      legendgroup: name,
      showlegend: first,
      x: ep,
      y: y.map((v) => (v === undefined || v === null ? null : num(v, 4))),
      xaxis: axis === 1 ? 'x' : 'x2',
      yaxis: axis === 1 ? 'y' : 'y2',
      line: { color, dash },
      marker: { color, size: 5 },
      hovertemplate: `${name} ${label}<br>epoch %{x}: %{y}<extra></extra>`,
    });
    data.push(
      line(
        h.map((e) => e.trainLoss),
        'solid',
        1,
        'train loss',
        true,
      ),
    );
    if (h.some((e) => e.testLoss !== undefined))
      data.push(
        line(
          h.map((e) => e.testLoss),
          'dot',
          1,
          'test loss',
          false,
        ),
      );
    data.push(
      line(
        h.map((e) => 100 * e.trainTop1),
        'solid',
        2,
        'train top-1',
        false,
      ),
    );
    if (h.some((e) => e.testTop1 !== undefined))
      data.push(
        line(
          h.map((e) => (e.testTop1 === undefined ? undefined : 100 * e.testTop1)),
          'dot',
          2,
          'test top-1',
          false,
        ),
      );
  });
  const title = o.title ?? 'Training curves';
  return fitFigure({
    id: o.id ?? 'training-curves',
    paper: paperOf(records, o.paper),
    title,
    caption: caption(withHist, o.caption ?? `${title}: solid lines train, dotted lines test.`),
    data,
    layout: baseLayout(title, {
      width: 900,
      height: 420,
      xaxis: { domain: [0, 0.42], title: { text: 'Epoch' } },
      yaxis: { title: { text: 'Loss (cross-entropy)' } },
      xaxis2: { domain: [0.58, 1], title: { text: 'Epoch' }, anchor: 'y2' },
      yaxis2: { title: { text: 'Top-1 accuracy (%)' }, anchor: 'x2' },
      annotations: [
        {
          xref: 'paper',
          yref: 'paper',
          x: 0.5,
          y: 1.06,
          showarrow: false,
          text: 'solid: train · dotted: test',
          font: { size: 12, color: '#555' },
        },
      ],
    }),
  });
}

export interface HeatmapOptions extends FigureIdentity {
  z: number[][];
  x?: Array<string | number>;
  y?: Array<string | number>;
  xTitle?: string;
  yTitle?: string;
  /** Colour bar title (with unit). */
  zTitle?: string;
  colorscale?: string;
  /** Print each cell's value (default when the grid is at most 12×12). */
  showValues?: boolean;
  /** Records the values came from, for the caption (dataset, scale, synthetic); only those fields are read. */
  records?: Array<Partial<ResultRecord>>;
  zmin?: number;
  zmax?: number;
}

export function heatmap(o: HeatmapOptions): FigureSpec {
  const rows = o.z.length;
  const cols = rows ? o.z[0].length : 0;
  const show = o.showValues ?? (rows <= 12 && cols <= 12);
  const title = o.title ?? o.id;
  const trace: Trace = {
    type: 'heatmap',
    z: o.z.map((r) => r.map((v) => num(v, 4))),
    // Category axes need explicit labels (plotly cannot draw a category heatmap without them).
    x: o.x ?? Array.from({ length: cols }, (_, i) => i),
    y: o.y ?? Array.from({ length: rows }, (_, i) => i),
    colorscale: o.colorscale ?? 'Viridis',
    zmin: o.zmin,
    zmax: o.zmax,
    colorbar: o.zTitle ? { title: { text: o.zTitle } } : undefined,
  };
  if (show) {
    trace.texttemplate = '%{z:.2f}';
    trace.textfont = { size: 10 };
  }
  // rows tall enough to read their labels (and values), however many rows there are
  const rowPx = show ? 24 : 14;
  return fitFigure({
    id: o.id,
    paper: paperOf(o.records ?? [], o.paper),
    title,
    caption: caption(o.records ?? [], o.caption ?? title),
    data: [trace],
    layout: baseLayout(title, {
      height: Math.max(480, 160 + rows * rowPx),
      xaxis: { title: { text: o.xTitle ?? '' }, type: 'category' },
      yaxis: { title: { text: o.yTitle ?? '' }, type: 'category', autorange: 'reversed' },
    }),
  });
}

export interface LineSeries {
  name: string;
  x: number[];
  y: number[];
  /** Symmetric error bars (same units as y). */
  error?: number[];
  dash?: 'solid' | 'dot' | 'dash';
}

export interface LineChartOptions extends FigureIdentity {
  series: LineSeries[];
  xTitle: string;
  yTitle: string;
  logX?: boolean;
  logY?: boolean;
  records?: Array<Partial<ResultRecord>>;
}

export function lineChart(o: LineChartOptions): FigureSpec {
  const title = o.title ?? o.id;
  return fitFigure({
    id: o.id,
    paper: paperOf(o.records ?? [], o.paper),
    title,
    caption: caption(o.records ?? [], o.caption ?? title),
    data: o.series.map((s) => ({
      type: 'scatter',
      mode: s.x.length > 1 ? 'lines+markers' : 'markers',
      name: s.name,
      x: s.x,
      y: s.y.map((v) => num(v, 5)),
      line: { dash: s.dash ?? 'solid' },
      error_y: s.error
        ? { type: 'data', array: s.error.map((v) => num(v, 3)), visible: s.error.some((v) => v > 0) }
        : undefined,
    })),
    layout: baseLayout(title, {
      xaxis: { title: { text: o.xTitle }, type: o.logX ? 'log' : 'linear' },
      yaxis: { title: { text: o.yTitle }, type: o.logY ? 'log' : 'linear' },
    }),
  });
}

export interface BarSeries {
  name: string;
  x: string[];
  /** Bar heights in display units (null: no bar at that x). */
  y: Array<number | null>;
  /** A label per bar, and where it is drawn. */
  text?: string[];
  textposition?: 'inside' | 'outside';
  color?: string;
}

export interface PointSeries {
  name: string;
  x: Array<string | number>;
  y: number[];
  /** Per-point label: hover text, or drawn next to the point when `textposition` is set. */
  text?: string[];
  textposition?: string;
  /** Plotly marker style (colour, size, symbol, opacity, outline); one colour or one per point. */
  marker?: Record<string, unknown>;
  hovertemplate?: string;
}

export interface BarChartOptions extends FigureIdentity {
  /** One trace (legend entry) per series, grouped or stacked; values already in display units. */
  bars: BarSeries[];
  /** Point series drawn over the bars (e.g. a paper's reported numbers as stars). */
  points?: PointSeries[];
  xTitle: string;
  yTitle: string;
  barmode?: 'group' | 'stack';
  /** Category x axis (labels in the order given). */
  categoryX?: boolean;
  /** The y axis starts at zero. */
  yFromZero?: boolean;
  /** Dashed horizontal lines, in display units. */
  referenceLines?: Array<{ label: string; y: number }>;
  /** Title drawn on the plot when it differs from the figure's title. */
  plotTitle?: string;
  width?: number;
  height?: number;
  records?: Array<Partial<ResultRecord>>;
}

function pointTrace(p: PointSeries, mode: string): Trace {
  return {
    type: 'scatter',
    mode: p.textposition ? `${mode}+text` : mode,
    name: p.name,
    x: p.x,
    y: p.y,
    ...(p.text ? { text: p.text } : {}),
    ...(p.textposition ? { textposition: p.textposition } : {}),
    ...(p.marker ? { marker: p.marker } : {}),
    ...(p.hovertemplate ? { hovertemplate: p.hovertemplate } : {}),
  };
}

/** Bars of values computed by the caller (grouped or stacked series), optionally with points and reference lines. */
export function barChart(o: BarChartOptions): FigureSpec {
  const title = o.title ?? o.id;
  const data: Trace[] = o.bars.map((b) => ({
    type: 'bar',
    name: b.name,
    x: b.x,
    y: b.y,
    ...(b.text ? { text: b.text } : {}),
    ...(b.textposition ? { textposition: b.textposition } : {}),
    ...(b.color ? { marker: { color: b.color } } : {}),
  }));
  for (const p of o.points ?? []) data.push(pointTrace(p, 'markers'));
  const refs = o.referenceLines?.length ? referenceLineShapes(o.referenceLines) : undefined;
  return {
    id: o.id,
    paper: paperOf(o.records ?? [], o.paper),
    title,
    caption: caption(o.records ?? [], o.caption ?? title),
    data,
    layout: {
      ...(refs ? { shapes: refs.shapes, annotations: refs.annotations } : {}),
      title: { text: o.plotTitle ?? title },
      template: 'plotly_white',
      barmode: o.barmode ?? 'group',
      width: o.width ?? 760,
      height: o.height ?? 480,
      xaxis: { title: { text: o.xTitle }, ...(o.categoryX ? { type: 'category' } : {}) },
      yaxis: { title: { text: o.yTitle }, ...(o.yFromZero ? { rangemode: 'tozero' } : {}) },
    },
  };
}

export interface PointCloudOptions extends FigureIdentity {
  /** One trace (legend entry) per series. */
  series: PointSeries[];
  xTitle: string;
  yTitle: string;
  /** Ticks exactly at these x values. */
  xTicks?: number[];
  yFromZero?: boolean;
  plotTitle?: string;
  width?: number;
  height?: number;
  records?: Array<Partial<ResultRecord>>;
}

/** Unconnected points (e.g. one per head and layer), one coloured series per group. */
export function pointCloud(o: PointCloudOptions): FigureSpec {
  const title = o.title ?? o.id;
  return {
    id: o.id,
    paper: paperOf(o.records ?? [], o.paper),
    title,
    caption: caption(o.records ?? [], o.caption ?? title),
    data: o.series.map((p) => pointTrace(p, 'markers')),
    layout: {
      title: { text: o.plotTitle ?? title },
      template: 'plotly_white',
      width: o.width ?? 760,
      height: o.height ?? 460,
      xaxis: { title: { text: o.xTitle }, ...(o.xTicks ? { tickmode: 'array', tickvals: o.xTicks } : {}) },
      yaxis: { title: { text: o.yTitle }, ...(o.yFromZero ? { rangemode: 'tozero' } : {}) },
    },
  };
}

export interface GraphEdgeGroup {
  /** Legend entry of these edges. */
  name: string;
  /** Node index pairs. */
  edges: Array<[number, number]>;
  color: string;
  width?: number;
}

export interface GraphFigureOptions extends FigureIdentity {
  /** Node positions (any units: the axes are hidden and equally scaled). */
  nodes: Array<{ x: number; y: number; text: string; color: string }>;
  edgeGroups: GraphEdgeGroup[];
  /** Legend name of the nodes. */
  nodeName?: string;
  plotTitle?: string;
  width?: number;
  height?: number;
  records?: Array<Partial<ResultRecord>>;
}

/** A node-link diagram: straight edges in groups (one legend entry each) under coloured nodes, axes hidden. */
export function graphFigure(o: GraphFigureOptions): FigureSpec {
  const title = o.title ?? o.id;
  const edgeTrace = (g: GraphEdgeGroup): Trace => {
    // one trace per group: segments separated by nulls
    const x: Array<number | null> = [];
    const y: Array<number | null> = [];
    for (const [i, j] of g.edges) {
      x.push(o.nodes[i].x, o.nodes[j].x, null);
      y.push(o.nodes[i].y, o.nodes[j].y, null);
    }
    const line = { color: g.color, width: g.width ?? 1 };
    return { type: 'scatter', mode: 'lines', x, y, line, name: g.name, hoverinfo: 'skip' };
  };
  return {
    id: o.id,
    paper: paperOf(o.records ?? [], o.paper),
    title,
    caption: caption(o.records ?? [], o.caption ?? title),
    data: [
      ...o.edgeGroups.map(edgeTrace),
      {
        type: 'scatter',
        mode: 'markers',
        x: o.nodes.map((p) => p.x),
        y: o.nodes.map((p) => p.y),
        text: o.nodes.map((p) => p.text),
        marker: { color: o.nodes.map((p) => p.color), size: 9, line: { color: '#333', width: 0.5 } },
        name: o.nodeName ?? 'nodes',
        hovertemplate: '%{text}<extra></extra>',
      },
    ],
    layout: {
      title: { text: o.plotTitle ?? title },
      template: 'plotly_white',
      xaxis: { visible: false, scaleanchor: 'y' },
      yaxis: { visible: false },
      width: o.width ?? 700,
      height: o.height ?? 640,
      showlegend: true,
      legend: { orientation: 'h', x: 0, y: -0.05 },
    },
  };
}

/** One image: uint8 HWC pixels (RGB or grey), or floats in [0, 1]. */
export interface GridImage {
  pixels: ArrayLike<number>;
  width: number;
  height: number;
  channels: 1 | 3;
  label?: string;
}

export interface ImageGridOptions extends FigureIdentity {
  images: GridImage[];
  columns?: number;
  records?: ResultRecord[];
  /** Display size of one cell in px (default 96). */
  cellPx?: number;
}

/** Row-major nested RGB array plotly's `image` trace takes ([[[r,g,b], ...], ...]). */
export function imageToZ(img: GridImage): number[][][] {
  const { pixels, width, height, channels } = img;
  const need = width * height * channels;
  if (pixels.length !== need) {
    throw new Error(
      `image '${img.label ?? ''}' has ${pixels.length} values; expected ${height}×${width}×${channels} = ${need}`,
    );
  }
  let isFloat = true;
  for (let i = 0; i < pixels.length; i++)
    if (pixels[i] > 1) {
      isFloat = false;
      break;
    }
  const scale = isFloat && !(pixels instanceof Uint8Array || pixels instanceof Uint8ClampedArray) ? 255 : 1;
  const z: number[][][] = [];
  for (let y = 0; y < height; y++) {
    const row: number[][] = [];
    for (let x = 0; x < width; x++) {
      const o = (y * width + x) * channels;
      const px = (c: number) => Math.max(0, Math.min(255, Math.round(pixels[o + c] * scale)));
      row.push(channels === 3 ? [px(0), px(1), px(2)] : [px(0), px(0), px(0)]);
    }
    z.push(row);
  }
  return z;
}

/** Words of `text` in lines of at most `max` characters (a longer word gets a line of its own). */
export function wrapWords(text: string, max: number): string[] {
  const lines: string[] = [];
  let line = '';
  for (const w of text.split(/\s+/).filter(Boolean)) {
    if (line && line.length + 1 + w.length > max) {
      lines.push(line);
      line = w;
    } else line = line ? `${line} ${w}` : w;
  }
  if (line) lines.push(line);
  return lines.length ? lines : [''];
}

/** A grid of small images (inputs, masks, reconstructions) as plotly `image` traces, one subplot per image. */
export function imageGrid(o: ImageGridOptions): FigureSpec {
  const n = o.images.length;
  const cols = Math.max(1, Math.min(o.columns ?? Math.min(n, 8), n || 1));
  const rows = Math.max(1, Math.ceil(n / cols));
  // cells wide enough for their labels (11 px font: ~6.5 px a character), the title wrapped to the figure's width
  const longestLabel = Math.max(0, ...o.images.map((im) => (im.label ?? '').length));
  const cell = Math.max(o.cellPx ?? 96, Math.ceil(longestLabel * 6.5) + 10);
  const gap = 0.02;
  const labelH = 22;
  const width = Math.max(240, cols * cell + 40);
  const titleLines = wrapWords(o.title ?? o.id, Math.max(20, Math.floor((width - 40) / 10)));
  const layout: Record<string, unknown> = baseLayout(titleLines.join('<br>'), {
    width,
    height: rows * (cell + labelH) + 56 + 24 * titleLines.length,
    margin: { l: 20, r: 20, t: 36 + 24 * titleLines.length, b: 20 },
    showlegend: false,
  });
  const annotations: unknown[] = [];
  const data: Trace[] = o.images.map((img, i) => {
    const r = Math.floor(i / cols);
    const c = i % cols;
    const ax = i === 0 ? '' : String(i + 1);
    const x0 = c / cols + gap / 2;
    const x1 = (c + 1) / cols - gap / 2;
    const y1 = 1 - r / rows - gap / 2;
    const y0 = 1 - (r + 1) / rows + gap / 2 + labelH / (rows * (cell + labelH));
    layout[`xaxis${ax}`] = { domain: [x0, x1], visible: false, anchor: `y${ax}`, constrain: 'domain' };
    layout[`yaxis${ax}`] = {
      domain: [y0, y1],
      visible: false,
      anchor: `x${ax}`,
      scaleanchor: `x${ax}`,
      constrain: 'domain',
      autorange: 'reversed',
    };
    if (img.label) {
      annotations.push({
        xref: 'paper',
        yref: 'paper',
        x: (x0 + x1) / 2,
        y: y0,
        xanchor: 'center',
        yanchor: 'top',
        showarrow: false,
        text: img.label,
        font: { size: 11 },
      });
    }
    return { type: 'image', z: imageToZ(img), xaxis: `x${ax}`, yaxis: `y${ax}`, hoverinfo: 'skip' };
  });
  layout.annotations = annotations;
  const title = o.title ?? o.id;
  return {
    id: o.id,
    paper: paperOf(o.records ?? [], o.paper),
    title,
    caption: caption(o.records ?? [], o.caption ?? title),
    data,
    layout,
  };
}

// ───────────────────────────── layout fitting ─────────────────────────────
//
// Every figure goes through `fitFigure` (the builders call it; export and showFigure call it again for specs built
// elsewhere; it is idempotent). It sizes margins from the longest tick label and axis titles, angles category labels
// that do not fit side by side, gives log axes 1-2-5 ticks written out in full, integer axes integer ticks, tables
// a height that holds their rows, and wraps titles wider than the figure. Text widths are estimated (Arial, 0.62 em a
// character: wider than Arial's average, so estimates err towards room); `automargin` stays on as plotly's own
// safety net.

/** Estimated width in px of a text at a font size (tags such as <br> and <sup> removed; the longest line counts). */
export function textWidth(text: string, fontSize = 13): number {
  const lines = String(text)
    .replace(/<(?!br)[^>]*>/gi, '')
    .split(/<br\s*\/?>/i);
  return Math.ceil(Math.max(0, ...lines.map((l) => l.length)) * 0.62 * fontSize);
}

function lineCount(text: string): number {
  return String(text).split(/<br\s*\/?>/i).length;
}

/** A tick value written out: up to 3 significant digits, no exponent, no SI suffix (0.0006, 0.2, 1, 20, 5,000). */
export function formatTick(v: number): string {
  if (v === 0) return '0';
  const a = Math.abs(v);
  if (a >= 1000) return Math.round(v).toLocaleString('en-US');
  const s = Number(v.toPrecision(3)).toString();
  return /e/.test(s) ? v.toFixed(Math.max(0, 2 - Math.floor(Math.log10(a)))) : s;
}

/** Ticks of a log axis spanning [min, max] (data units): 1-2-5 per decade, fewer over many decades, more within one. */
export function logTicks(min: number, max: number): number[] {
  if (!(min > 0) || !(max > 0)) return [];
  const lo = Math.floor(Math.log10(min));
  const hi = Math.ceil(Math.log10(max));
  const decades = Math.log10(max / min);
  const mant =
    decades > 4
      ? [1]
      : decades > 1.5
        ? [1, 2, 5]
        : decades > 0.5
          ? [1, 1.5, 2, 3, 5, 7]
          : [1, 1.2, 1.5, 2, 2.5, 3, 4, 5, 6, 7, 8, 9];
  const ticks: number[] = [];
  for (let e = lo; e <= hi; e++) for (const m of mant) ticks.push(Number((m * 10 ** e).toPrecision(3)));
  const inside = ticks.filter((t) => t >= min * 0.999 && t <= max * 1.001);
  if (inside.length >= 2) return inside;
  // a very narrow range: the nearest ticks around it, so the axis still has two labels
  const below = ticks.filter((t) => t <= min).pop();
  const above = ticks.find((t) => t >= max);
  return [...(below !== undefined ? [below] : []), ...inside, ...(above !== undefined ? [above] : [])].filter(
    (t, i, a) => a.indexOf(t) === i,
  );
}

/** A "nice" step (1, 2 or 5 × 10^k) giving about `target` intervals over `span`. */
export function niceStep(span: number, target = 6): number {
  if (!(span > 0)) return 1;
  const raw = span / target;
  const p = 10 ** Math.floor(Math.log10(raw));
  const m = raw / p;
  return (m <= 1 ? 1 : m <= 2 ? 2 : m <= 5 ? 5 : 10) * p;
}

type Layout = Record<string, unknown>;
type AxisLayout = Record<string, unknown> & {
  title?: { text?: string; standoff?: number } | string;
  type?: string;
  visible?: boolean;
};

interface AxisValues {
  numbers: number[];
  labels: string[];
}

function axisKeyOf(ref: unknown, letter: 'x' | 'y'): string {
  const r = typeof ref === 'string' && ref.startsWith(letter) ? ref.slice(1) : '';
  return `${letter}axis${r === '1' ? '' : r}`;
}

/** Values each cartesian axis shows, gathered from the traces (category labels as strings, numbers with error bars). */
function collectAxisValues(data: Trace[]): Map<string, AxisValues> {
  const out = new Map<string, AxisValues>();
  const add = (key: string, vals: unknown, err?: unknown) => {
    if (!Array.isArray(vals)) return;
    const a = out.get(key) ?? { numbers: [], labels: [] };
    const e = Array.isArray((err as { array?: unknown })?.array) ? (err as { array: number[] }).array : [];
    vals.forEach((v, i) => {
      if (typeof v === 'number' && Number.isFinite(v)) {
        a.numbers.push(v);
        const d = e[i];
        if (typeof d === 'number' && d > 0) a.numbers.push(v + d, v - d);
      } else if (typeof v === 'string') a.labels.push(v);
    });
    out.set(key, a);
  };
  for (const t of data) {
    if (t.type === 'table' || t.type === 'image' || t.type === 'pie') continue;
    const xk = axisKeyOf(t.xaxis, 'x');
    const yk = axisKeyOf(t.yaxis, 'y');
    if (t.type === 'heatmap') {
      // heatmap x/y are cell labels: category axes
      add(xk, Array.isArray(t.x) ? (t.x as unknown[]).map(String) : undefined);
      add(yk, Array.isArray(t.y) ? (t.y as unknown[]).map(String) : undefined);
      continue;
    }
    add(xk, t.x, t.error_x);
    add(yk, t.y, t.error_y);
  }
  return out;
}

function titleText(ax: AxisLayout | undefined): string {
  if (!ax?.title) return '';
  return typeof ax.title === 'string' ? ax.title : String(ax.title.text ?? '');
}

/** Tick labels as plotly will print them (after our tick choices), for margin estimates. */
function tickLabels(ax: AxisLayout, v: AxisValues): string[] {
  if (Array.isArray(ax.ticktext)) return (ax.ticktext as unknown[]).map(String);
  if (ax.type === 'category' || (!v.numbers.length && v.labels.length)) return uniq(v.labels);
  if (!v.numbers.length) return [];
  const lo = Math.min(...v.numbers);
  const hi = Math.max(...v.numbers);
  const step = typeof ax.dtick === 'number' ? ax.dtick : niceStep(hi - lo || Math.abs(hi) || 1);
  const out: string[] = [];
  for (let t = Math.floor(lo / step) * step, n = 0; t <= hi + step && n < 50; t += step, n++)
    out.push(formatTick(Number(t.toPrecision(6))));
  return out;
}

/**
 * Fit one figure's layout to its text (see the section comment). Returns a new spec; the input is not changed.
 * Idempotent: margins only grow, and ticks already set are kept.
 */
export function fitFigure(spec: FigureSpec): FigureSpec {
  const layout: Layout = { ...spec.layout };
  const font = (layout.font as { size?: number } | undefined)?.size ?? 13;
  const width = (layout.width as number | undefined) ?? 760;
  const margin = { l: 70, r: 30, t: 60, b: 60, ...((layout.margin as Record<string, number> | undefined) ?? {}) };
  const values = collectAxisValues(spec.data);
  const hasCartesian = spec.data.some((t) => !['table', 'pie', 'image'].includes(String(t.type ?? 'scatter')));

  // title wrapped to the figure's width
  const rawTitle =
    typeof layout.title === 'string'
      ? layout.title
      : String((layout.title as { text?: string } | undefined)?.text ?? '');
  if (rawTitle) {
    const titleFont = 17;
    const perLine = Math.max(20, Math.floor((width - 40) / (0.6 * titleFont)));
    const plain = rawTitle.replace(/<br\s*\/?>/gi, ' ');
    const lines = plain.length > perLine ? wrapWords(plain, perLine) : rawTitle.split(/<br\s*\/?>/i);
    layout.title = { ...(typeof layout.title === 'object' ? (layout.title as object) : {}), text: lines.join('<br>') };
    margin.t = Math.max(margin.t, 34 + 22 * lines.length);
  }

  if (hasCartesian) {
    // y axes first: their tick labels set the left margin, which sets the width x labels have
    const axisKeys = Object.keys(layout)
      .concat(['xaxis', 'yaxis'])
      .filter((k, i, a) => /^[xy]axis\d*$/.test(k) && a.indexOf(k) === i);
    for (const key of axisKeys.sort((a, b) => (a[0] === b[0] ? 0 : a[0] === 'y' ? -1 : 1))) {
      const ax: AxisLayout = { ...((layout[key] as AxisLayout | undefined) ?? {}) };
      if (ax.visible === false) continue;
      const v = values.get(key) ?? { numbers: [], labels: [] };
      const isX = key.startsWith('x');
      const category = ax.type === 'category' || (!v.numbers.length && v.labels.length > 0);
      ax.automargin = true;
      if (!category) {
        ax.exponentformat = ax.exponentformat ?? 'none';
        ax.separatethousands = ax.separatethousands ?? true;
      }
      if (ax.type === 'log' && ax.tickvals === undefined) {
        const pos = v.numbers.filter((n) => n > 0);
        if (pos.length) {
          const ticks = logTicks(Math.min(...pos), Math.max(...pos));
          if (ticks.length) {
            ax.tickmode = 'array';
            ax.tickvals = ticks;
            ax.ticktext = ticks.map(formatTick);
          }
        }
      } else if (
        !category &&
        ax.type !== 'log' &&
        ax.dtick === undefined &&
        v.numbers.length &&
        v.numbers.every(Number.isInteger)
      ) {
        // an integer axis (block, k, epoch, experts): integer ticks only
        const span = Math.max(...v.numbers) - Math.min(...v.numbers);
        ax.dtick = Math.max(1, Math.round(niceStep(span || 1)));
        ax.tickformat = ax.tickformat ?? 'd';
      }
      const labels = tickLabels(ax, v);
      const tickFont = (ax.tickfont as { size?: number } | undefined)?.size ?? font;
      const longest = Math.max(0, ...labels.map((l) => textWidth(l, tickFont)));
      const tickLines = Math.max(1, ...labels.map(lineCount));
      let title = titleText(ax);
      // an axis title longer than its axis is wrapped (a y title taller than the plot is cut off at both ends)
      const axisLen = isX
        ? width - margin.l - margin.r
        : ((layout.height as number | undefined) ?? 480) - margin.t - margin.b;
      const titlePx = textWidth(title, font + 1);
      if (title && titlePx > 0.95 * axisLen && !/<br/i.test(title)) {
        title = wrapWords(title, Math.max(12, Math.floor((0.95 * axisLen) / (0.62 * (font + 1))))).join('<br>');
        ax.title = { ...(typeof ax.title === 'object' ? ax.title : {}), text: title };
      }
      const titleH = title ? (font + 4) * lineCount(title) + 8 : 0;
      const secondary = /\d/.test(key) && ax.anchor !== undefined && ax.side === undefined;
      if (isX) {
        // category labels side by side: angle them when they do not fit their slot
        const plotW = width - margin.l - margin.r;
        const domain = Array.isArray(ax.domain) ? (ax.domain as number[]) : [0, 1];
        const slot = labels.length ? (plotW * (domain[1] - domain[0])) / labels.length : plotW;
        let tickH = (tickFont + 3) * tickLines;
        if (category && longest > 0.9 * slot && ax.tickangle === undefined && ax.ticktext === undefined) {
          // labels wider than their slot: wrapped onto at most 3 lines where that fits, else angled
          const perLine = Math.max(6, Math.floor((0.9 * slot) / (0.62 * tickFont)));
          const wrapped = labels.map((l) => wrapWords(l, perLine));
          const fits = wrapped.every(
            (w) => w.length <= 3 && w.every((line) => textWidth(line, tickFont) <= 0.95 * slot),
          );
          if (fits && labels.length <= 16) {
            ax.tickmode = 'array';
            ax.tickvals = labels;
            ax.ticktext = wrapped.map((w) => w.join('<br>'));
            tickH = (tickFont + 4) * Math.max(...wrapped.map((w) => w.length));
          } else ax.tickangle = longest * 0.7 > 3 * slot ? -90 : -45;
        }
        if (ax.tickangle === -45) tickH = Math.ceil(longest * 0.71 + tickFont * 0.71) + 4;
        else if (ax.tickangle === -90) tickH = longest + 4;
        if (title) ax.title = { ...(typeof ax.title === 'object' ? ax.title : {}), text: title, standoff: 8 };
        if (!secondary || (ax.anchor as string)?.startsWith('y')) margin.b = Math.max(margin.b, tickH + titleH + 14);
      } else {
        if (title) ax.title = { ...(typeof ax.title === 'object' ? ax.title : {}), text: title, standoff: 8 };
        const need = longest + titleH + 16;
        if (ax.side === 'right') margin.r = Math.max(margin.r, need);
        else if (!secondary) margin.l = Math.max(margin.l, need);
      }
      layout[key] = ax;
    }
  }

  // a legend whose names would take more than a third of the width goes above the plot, in rows
  const named = spec.data.filter((t) => t.showlegend !== false && typeof t.name === 'string' && t.name);
  const showLegend = layout.showlegend !== false && (named.length > 1 || layout.showlegend === true) && hasCartesian;
  const legendW = Math.max(0, ...named.map((t) => textWidth(String(t.name), font) + 40));
  if (
    showLegend &&
    legendW > width / 3 &&
    !(layout.legend as { orientation?: string } | undefined)?.orientation?.startsWith('h')
  ) {
    const plotW = width - margin.l - margin.r;
    let rows = 1;
    let used = 0;
    for (const t of named) {
      const w = textWidth(String(t.name), font) + 40;
      if (used && used + w > plotW) {
        rows++;
        used = 0;
      }
      used += w;
    }
    layout.legend = {
      ...((layout.legend as object | undefined) ?? {}),
      orientation: 'h',
      x: 0,
      xanchor: 'left',
      y: 1.02,
      yanchor: 'bottom',
    };
    margin.t += rows * (font + 9) + 6;
    layout.height = ((layout.height as number | undefined) ?? 480) + rows * (font + 9) + 6;
  }

  // tables: tall enough for the header and every row
  const tables = spec.data.filter((t) => t.type === 'table');
  if (tables.length) {
    let need = 0;
    for (const t of tables) {
      const cells = (t.cells as { values?: unknown[][]; height?: number } | undefined) ?? {};
      const header = (t.header as { values?: unknown[]; height?: number } | undefined) ?? {};
      const cols = cells.values ?? [];
      const rows = Math.max(0, ...cols.map((c) => (Array.isArray(c) ? c.length : 0)));
      const colW = (width - margin.l - margin.r) / Math.max(1, cols.length || (header.values ?? []).length);
      const linesOf = (x: unknown) => Math.max(1, Math.ceil(textWidth(String(x), 12) / Math.max(40, colW - 12)));
      const headLines = Math.max(1, ...(header.values ?? []).map(linesOf));
      const rowLines = Array.from({ length: rows }, (_, r) =>
        Math.max(1, ...cols.map((c) => linesOf(Array.isArray(c) ? c[r] : ''))),
      );
      need += (header.height ?? 28) * headLines + rowLines.reduce((s, n) => s + n * (cells.height ?? 26), 0) + 10;
    }
    margin.l = Math.min(margin.l, 20);
    margin.r = Math.min(margin.r, 20);
    margin.b = Math.min(margin.b, 20);
    layout.height = Math.max((layout.height as number | undefined) ?? 0, margin.t + margin.b + need);
  }
  // the plot keeps at least 260 px of height however much the margins grew, and room for its y titles
  if (hasCartesian && !tables.length) {
    const yTitles = Object.keys(layout)
      .filter((k) => /^yaxis\d*$/.test(k))
      .map((k) => titleText(layout[k] as AxisLayout));
    const need = Math.max(260, ...yTitles.map((t) => Math.ceil(textWidth(t, font + 1) / 0.95)));
    const h = (layout.height as number | undefined) ?? 480;
    if (h - margin.t - margin.b < need) layout.height = margin.t + margin.b + need;
  }
  layout.margin = margin;
  if (layout.width === undefined) layout.width = width;
  return { ...spec, layout };
}

export interface PlacedLabel {
  index: number;
  text: string;
  /** Offset of the label's centre from its point, in px. */
  ax: number;
  ay: number;
}

interface Box {
  x0: number;
  y0: number;
  x1: number;
  y1: number;
}

const overlaps = (a: Box, b: Box) => a.x0 < b.x1 && b.x0 < a.x1 && a.y0 < b.y1 && b.y0 < a.y1;

/**
 * Greedy label placement for points already in pixel coordinates: each label tries above, below, right and left of
 * its point and takes the first place that overlaps no placed label, no point and stays inside the plot; a label
 * that fits nowhere is left out (its point keeps the name as hover text and in the legend). Points are tried in the
 * order given, so put the ones a reader must find first.
 */
export function placeLabels(
  points: Array<{ x: number; y: number; text: string }>,
  area: { width: number; height: number },
  fontSize = 11,
  markerPx = 10,
): PlacedLabel[] {
  const placed: Box[] = [];
  const marks: Box[] = points.map((p) => ({
    x0: p.x - markerPx / 2,
    y0: p.y - markerPx / 2,
    x1: p.x + markerPx / 2,
    y1: p.y + markerPx / 2,
  }));
  const out: PlacedLabel[] = [];
  points.forEach((p, index) => {
    if (!p.text) return;
    const w = textWidth(p.text, fontSize) + 4;
    const h = fontSize + 4;
    const gap = markerPx / 2 + 3;
    const options = [
      [0, -(gap + h / 2)],
      [0, gap + h / 2],
      [gap + w / 2, 0],
      [-(gap + w / 2), 0],
    ];
    for (const [dx, dy] of options) {
      const b = { x0: p.x + dx - w / 2, x1: p.x + dx + w / 2, y0: p.y + dy - h / 2, y1: p.y + dy + h / 2 };
      if (b.x0 < 0 || b.y0 < 0 || b.x1 > area.width || b.y1 > area.height) continue;
      if (placed.some((q) => overlaps(q, b)) || marks.some((q) => overlaps(q, b))) continue;
      placed.push(b);
      out.push({ index, text: p.text, ax: dx, ay: dy });
      return;
    }
  });
  return out;
}

/** A horizontal reference line (e.g. "linear classifier on raw pixels"), drawn dashed across the plot. */
export interface ReferenceLine {
  label: string;
  /** In the metric's stored units, as in record.metrics (accuracies as fractions, e.g. 0.41). */
  value: number;
}

/** Dashed horizontal lines with their labels at the right end (values already in display units). */
export function referenceLineShapes(
  lines: Array<{ label: string; y: number }>,
  yref = 'y',
): { shapes: unknown[]; annotations: unknown[] } {
  return {
    shapes: lines.map((l) => ({
      type: 'line',
      xref: 'paper',
      x0: 0,
      x1: 1,
      yref,
      y0: l.y,
      y1: l.y,
      line: { dash: 'dash', color: '#666', width: 1.5 },
    })),
    annotations: lines.map((l) => ({
      xref: 'paper',
      x: 1,
      yref,
      y: l.y,
      xanchor: 'right',
      yanchor: 'bottom',
      showarrow: false,
      text: `${escapeText(l.label)}: ${formatTick(l.y)}`,
      font: { size: 11, color: '#444' },
      bgcolor: 'rgba(255,255,255,0.7)',
    })),
  };
}

function escapeText(s: string): string {
  return s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');
}
