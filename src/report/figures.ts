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

/** Caption text followed by the dataset(s), scale(s), seed count and, when any record is synthetic, "synthetic data". */
export function caption(records: Array<Partial<ResultRecord>>, text: string): string {
  const base = text.trim().replace(/\.?$/, '.');
  const datasets = uniq(records.map((r) => r.dataset).filter((v): v is string => !!v));
  const scales = uniq(records.map((r) => r.scale).filter((v): v is ResultRecord['scale'] => !!v));
  const seeds = uniq(records.map((r) => r.seed).filter((v): v is number => typeof v === 'number'));
  const parts = [
    ...(datasets.length ? [`Dataset: ${list(datasets)}`] : []),
    ...(scales.length ? [`scale: ${list(scales)}`] : []),
    ...(seeds.length ? [`${seeds.length} seed${seeds.length > 1 ? 's' : ''}`] : []),
  ];
  let s = parts.length ? `${base} ${parts.join('; ')}.` : base;
  if (records.some((r) => r.synthetic)) s += ' Trained on synthetic data: these are not the paper\'s numbers.';
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
  /** Reported numbers from the papers, drawn as distinct markers named "reported" in the legend. */
  references?: ReferencePoint[];
  logX?: boolean;
}

/** Accuracy vs parameters or MACs, log-x, points labelled, mean ± std over seeds as error bars. */
export function scatterAccVs(o: ScatterOptions): FigureSpec {
  const yName = o.y ?? 'top1';
  const groupBy = o.groupBy ?? 'paper';
  const labelBy = o.labelBy ?? 'variant';
  const recs = o.records.filter((r) => typeof recordValue(r, yName) === 'number' && typeof recordValue(r, o.x) === 'number');
  const xu = metricUnit(o.x, [...recs.map((r) => recordValue(r, o.x) as number), ...(o.references ?? []).map((p) => p.x)]);
  const yu = metricUnit(yName);
  const rows = summarize(recs, { groupBy: [groupBy, labelBy], metrics: [o.x, yName] });
  const data: Trace[] = [];
  for (const g of uniq(rows.map((r) => r.group[groupBy]))) {
    const rs = rows.filter((r) => r.group[groupBy] === g && r.metrics[o.x] && r.metrics[yName]);
    data.push({
      type: 'scatter',
      mode: 'markers+text',
      name: String(g),
      x: rs.map((r) => num(r.metrics[o.x].mean / xu.div, 4)),
      y: rs.map((r) => num(r.metrics[yName].mean / yu.div, 4)),
      error_y: { type: 'data', array: rs.map((r) => num((r.metrics[yName].std ?? 0) / yu.div, 3)), visible: rs.some((r) => r.metrics[yName].std !== null) },
      text: rs.map((r) => String(r.group[labelBy])),
      textposition: 'top center',
      cliponaxis: false,
      marker: { size: 10 },
      hovertemplate: `%{text}<br>${xu.title}: %{x}<br>${yu.title}: %{y}<extra>${String(g)}</extra>`,
    });
  }
  if (o.references?.length) {
    data.push({
      type: 'scatter',
      mode: 'markers+text',
      name: 'reported',
      x: o.references.map((p) => num(p.x / xu.div, 4)),
      y: o.references.map((p) => p.y),
      text: o.references.map((p) => p.label),
      textposition: 'bottom right',
      cliponaxis: false,
      marker: { size: 12, symbol: 'star-open', color: '#444', line: { width: 2 } },
      hovertemplate: `%{text} (reported)<br>${xu.title}: %{x}<br>${yu.title}: %{y}<extra>reported</extra>`,
    });
  }
  const title = o.title ?? `${prettyMetric(yName)} vs ${prettyMetric(o.x).toLowerCase()}`;
  const logX = o.logX !== false;
  const xs = data.flatMap((t) => t.x as number[]).filter((v) => v > 0);
  // Log axis ranges are in log10 units; pad so that point labels at the edges are not clipped.
  const xRange = logX && xs.length ? [Math.log10(Math.min(...xs)) - 0.15, Math.log10(Math.max(...xs)) + 0.15] : undefined;
  return {
    id: o.id,
    paper: paperOf(o.records, o.paper),
    title,
    caption: caption(recs, o.caption ?? `${title}. Points are means over seeds, bars one standard deviation.`),
    data,
    layout: baseLayout(title, {
      xaxis: { title: { text: xu.title }, type: logX ? 'log' : 'linear', range: xRange },
      yaxis: { title: { text: yu.title } },
    }),
  };
}

export interface AblationOptions extends FigureIdentity {
  records: ResultRecord[];
  /** Bars per value of the first field; a second field, if given, makes grouped (coloured) bars. */
  groupBy: string | [string] | [string, string];
  metric: string;
  /** A bar label (first groupBy field) drawn as a dashed reference line at its mean, or a value in display units. */
  baseline?: string | number;
}

/** Bars of a metric's mean with error bars = sample std over seeds. */
export function ablationBars(o: AblationOptions): FigureSpec {
  const fields = typeof o.groupBy === 'string' ? [o.groupBy] : [...o.groupBy];
  const [xf, cf] = fields;
  const rows = summarize(o.records, { groupBy: fields, metrics: [o.metric] }).filter((r) => r.metrics[o.metric]);
  const u = metricUnit(o.metric, rows.map((r) => r.metrics[o.metric].mean));
  const bar = (rs: SummaryRow[], name: string): Trace => ({
    type: 'bar',
    name,
    x: rs.map((r) => String(r.group[xf])),
    y: rs.map((r) => num(r.metrics[o.metric].mean / u.div, 4)),
    error_y: { type: 'data', array: rs.map((r) => num((r.metrics[o.metric].std ?? 0) / u.div, 3)), visible: true },
    text: rs.map((r) => `n=${r.metrics[o.metric].n}`),
    textposition: 'inside',
    insidetextanchor: 'start',
    hovertemplate: `%{x}: %{y} (%{text})<extra>${name}</extra>`,
  });
  const data: Trace[] = cf
    ? uniq(rows.map((r) => r.group[cf])).map((c) => bar(rows.filter((r) => r.group[cf] === c), String(c)))
    : [bar(rows, prettyMetric(o.metric))];
  const shapes: unknown[] = [];
  const annotations: unknown[] = [];
  let base: number | undefined;
  if (typeof o.baseline === 'number') base = o.baseline;
  else if (typeof o.baseline === 'string') {
    const b = rows.filter((r) => String(r.group[xf]) === o.baseline);
    if (b.length) base = num(b.reduce((s, r) => s + r.metrics[o.metric].mean, 0) / b.length / u.div, 4);
  }
  if (base !== undefined) {
    shapes.push({ type: 'line', xref: 'paper', x0: 0, x1: 1, y0: base, y1: base, line: { dash: 'dash', color: '#666', width: 1.5 } });
    annotations.push({ xref: 'paper', x: 1, y: base, yanchor: 'bottom', xanchor: 'right', showarrow: false, text: `baseline${typeof o.baseline === 'string' ? ` (${o.baseline})` : ''}: ${base}` });
  }
  const title = o.title ?? `${prettyMetric(o.metric)} by ${xf}`;
  return {
    id: o.id,
    paper: paperOf(o.records, o.paper),
    title,
    caption: caption(o.records, o.caption ?? `${title}. Bars are means over seeds; error bars one standard deviation.`),
    data,
    layout: baseLayout(title, {
      barmode: 'group',
      xaxis: { title: { text: xf }, type: 'category' },
      yaxis: { title: { text: u.title } },
      shapes,
      annotations,
      showlegend: !!cf,
    }),
  };
}

export interface CurvesOptions extends Partial<FigureIdentity> {
  /** Series name per record (default: variant, plus seed when several seeds share a variant). */
  nameBy?: (r: CurveSource) => string;
}

/** A stored record, or just a name and a trainer's history (in a notebook: `{ variant, history, dataset, scale, synthetic }`). */
export type CurveSource = Pick<ResultRecord, 'variant'> & Partial<Omit<ResultRecord, 'variant'>>;

/** Training curves: train/test loss (left) and train/test top-1 (right) vs epoch, one colour per record. */
export function trainingCurves(records: CurveSource[], o: CurvesOptions = {}): FigureSpec {
  const withHist = records.filter((r) => r.history && r.history.length);
  const multiSeed = new Set(withHist.map((r) => r.variant)).size < withHist.length;
  const nameOf = o.nameBy ?? ((r: CurveSource) => (multiSeed ? `${r.variant} (seed ${r.seed})` : r.variant));
  const palette = ['#1f77b4', '#ff7f0e', '#2ca02c', '#d62728', '#9467bd', '#8c564b', '#e377c2', '#7f7f7f', '#bcbd22', '#17becf'];
  const data: Trace[] = [];
  withHist.forEach((r, i) => {
    const h = r.history!;
    const color = palette[i % palette.length];
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
    data.push(line(h.map((e) => e.trainLoss), 'solid', 1, 'train loss', true));
    if (h.some((e) => e.testLoss !== undefined)) data.push(line(h.map((e) => e.testLoss), 'dot', 1, 'test loss', false));
    data.push(line(h.map((e) => 100 * e.trainTop1), 'solid', 2, 'train top-1', false));
    if (h.some((e) => e.testTop1 !== undefined)) data.push(line(h.map((e) => (e.testTop1 === undefined ? undefined : 100 * e.testTop1)), 'dot', 2, 'test top-1', false));
  });
  const title = o.title ?? 'Training curves';
  return {
    id: o.id ?? 'training-curves',
    paper: paperOf(records, o.paper),
    title,
    caption: caption(withHist, o.caption ?? `${title}: solid lines train, dotted lines test.`),
    data,
    layout: baseLayout(title, {
      width: 900,
      height: 420,
      xaxis: { domain: [0, 0.45], title: { text: 'Epoch' }, dtick: 1 },
      yaxis: { title: { text: 'Loss (cross-entropy)' } },
      xaxis2: { domain: [0.55, 1], title: { text: 'Epoch' }, anchor: 'y2', dtick: 1 },
      yaxis2: { title: { text: 'Top-1 accuracy (%)' }, anchor: 'x2' },
      annotations: [{ xref: 'paper', yref: 'paper', x: 0.5, y: 1.06, showarrow: false, text: 'solid: train · dotted: test', font: { size: 12, color: '#555' } }],
    }),
  };
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
  /** Records the values came from, for the caption (dataset, scale, synthetic). */
  records?: ResultRecord[];
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
  return {
    id: o.id,
    paper: paperOf(o.records ?? [], o.paper),
    title,
    caption: caption(o.records ?? [], o.caption ?? title),
    data: [trace],
    layout: baseLayout(title, {
      xaxis: { title: { text: o.xTitle ?? '' }, type: 'category' },
      yaxis: { title: { text: o.yTitle ?? '' }, type: 'category', autorange: 'reversed' },
    }),
  };
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
  records?: ResultRecord[];
}

export function lineChart(o: LineChartOptions): FigureSpec {
  const title = o.title ?? o.id;
  return {
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
      error_y: s.error ? { type: 'data', array: s.error.map((v) => num(v, 3)), visible: true } : undefined,
    })),
    layout: baseLayout(title, {
      xaxis: { title: { text: o.xTitle }, type: o.logX ? 'log' : 'linear' },
      yaxis: { title: { text: o.yTitle }, type: o.logY ? 'log' : 'linear' },
    }),
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
    throw new Error(`image '${img.label ?? ''}' has ${pixels.length} values; expected ${height}×${width}×${channels} = ${need}`);
  }
  let isFloat = true;
  for (let i = 0; i < pixels.length; i++) if (pixels[i] > 1) { isFloat = false; break; }
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
    const y0 = 1 - (r + 1) / rows + gap / 2 + (labelH / (rows * (cell + labelH)));
    layout[`xaxis${ax}`] = { domain: [x0, x1], visible: false, anchor: `y${ax}`, constrain: 'domain' };
    layout[`yaxis${ax}`] = { domain: [y0, y1], visible: false, anchor: `x${ax}`, scaleanchor: `x${ax}`, constrain: 'domain', autorange: 'reversed' };
    if (img.label) {
      annotations.push({ xref: 'paper', yref: 'paper', x: (x0 + x1) / 2, y: y0, xanchor: 'center', yanchor: 'top', showarrow: false, text: img.label, font: { size: 11 } });
    }
    return { type: 'image', z: imageToZ(img), xaxis: `x${ax}`, yaxis: `y${ax}`, hoverinfo: 'skip' };
  });
  layout.annotations = annotations;
  const title = o.title ?? o.id;
  return { id: o.id, paper: paperOf(o.records ?? [], o.paper), title, caption: caption(o.records ?? [], o.caption ?? title), data, layout };
}
