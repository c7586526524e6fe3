import { PNG } from 'pngjs';
import { imagesAt, type ImageDataset } from '../data/types';
import { ProgressBar, fmtDuration, type ProgressSink, type TrainProgress } from '../train/progress';
import type { EpochMetrics } from '../train/types';
import type { FigureSpec, ResultRecord } from './types';
import { fitFigure, type GridImage } from './figures';
import { toHtml, toText, summarize, frameToHtml, type SummaryRow, type SummarizeOptions } from './table';
import { escapeHtml, findChromium, plotlyBundle, scriptJson, sharedRenderer } from './export';
import { architectureSummary, architectureSvg } from './architecture';
import type { Module } from '../nn/module';

/**
 * Display helpers for tslab notebooks: interactive figures, tables, image grids and a live training progress line.
 * Outside a tslab kernel (plain node, the test runner, CI logs) every helper falls back to console text and never
 * throws, so the same code runs everywhere.
 */

/** The part of tslab's public API used here. */
interface TslabDisplay {
  html(s: string): void;
  png(b: Uint8Array): void;
  text(s: string): void;
}
interface TslabModule {
  display: TslabDisplay;
  newDisplay(): TslabDisplay;
}

/** tslab as the running kernel sees it (its executor hooks `require('tslab')`), else the local package, else null. */
function tslab(): TslabModule | null {
  const hook = (globalThis as unknown as { __tslab__?: { require?: (id: string) => unknown } }).__tslab__;
  try {
    if (hook?.require) return hook.require('tslab') as TslabModule;
  } catch {
    /* fall through */
  }
  try {
    // eslint-disable-next-line @typescript-eslint/no-var-requires
    return require('tslab') as TslabModule;
  } catch {
    return null;
  }
}

/** Run a display call; false when there is no kernel to display to (tslab throws "Not ready"). */
function tryDisplay(f: (t: TslabModule) => void): boolean {
  const t = tslab();
  if (!t) return false;
  try {
    f(t);
    return true;
  } catch {
    return false;
  }
}

/** True inside a tslab kernel or runner (its executor defines `__tslab__`); display calls may still fall back. */
export function inNotebook(): boolean {
  return !!(globalThis as unknown as { __tslab__?: unknown }).__tslab__;
}

let plotlyShown = false;
let figureCount = 0;

export interface ShowFigureOptions {
  /** Embed a PNG rendered by Chromium as the static fallback (GitHub, nbconvert). Default: when Chromium is found
   *  and $LIGHTVIT_NOTEBOOK_PNG is not '0'. */
  png?: boolean;
}

/** HTML for one interactive figure; the PNG (if any) shows until plotly draws, and is all that static viewers see. */
export function figureHtmlFragment(spec: FigureSpec, pngBase64?: string, withPlotly = false): string {
  const id = `lightvit-fig-${process.pid}-${++figureCount}`;
  const { width } = spec.layout as { width?: number };
  const img = pngBase64
    ? `<img id="${id}-png" alt="${escapeHtml(spec.title)}" style="max-width:100%;width:${width ?? 760}px" ` +
      `src="data:image/png;base64,${pngBase64}">`
    : '';
  return [
    withPlotly ? `<script>${plotlyBundle()}</script>` : '',
    `<div id="${id}"></div>${img}`,
    `<p style="font-size:13px;color:#333;max-width:760px">${escapeHtml(spec.caption)}</p>`,
    `<script>(function(){var n=0;function draw(){var P=window.Plotly;if(!P){if(++n<200)setTimeout(draw,50);return;}`,
    `P.newPlot(${JSON.stringify(id)},${scriptJson(spec.data)},${scriptJson(spec.layout)},` +
      '{displaylogo:false}).then(function(){',
    `var i=document.getElementById(${JSON.stringify(id + '-png')});if(i)i.remove();});}draw();})();</script>`,
  ].join('\n');
}

/**
 * Show a figure inline: an interactive plotly div (plotly inlined once per session), PNG fallback when Chromium is
 * found (one Chromium for the whole session, see sharedRenderer).
 */
export async function showFigure(input: FigureSpec, opts: ShowFigureOptions = {}): Promise<void> {
  const spec = fitFigure(input);
  if (!inNotebook()) {
    console.log(`[figure] ${spec.title}: ${spec.data.length} trace(s). ${spec.caption}`);
    return;
  }
  let png: string | undefined;
  const wantPng = opts.png ?? (process.env.LIGHTVIT_NOTEBOOK_PNG !== '0' && findChromium() !== null);
  if (wantPng) {
    const renderer = await sharedRenderer();
    if (renderer) {
      try {
        png = (await renderer.render(spec, 1)).png.toString('base64');
      } catch (e) {
        console.log(
          `PNG fallback of '${spec.id}' skipped: ${(e instanceof Error ? e.message : String(e)).split('\n')[0]}`,
        );
      }
    }
  }
  const html = figureHtmlFragment(spec, png, !plotlyShown);
  if (tryDisplay((t) => t.display.html(html))) plotlyShown = true;
  else console.log(`[figure] ${spec.title}. ${spec.caption}`);
}

/** Show a results table (rows from `summarize`, or records plus summarize options). */
export function showTable(rows: SummaryRow[]): void;
export function showTable(records: ResultRecord[], opts: SummarizeOptions): void;
export function showTable(x: SummaryRow[] | ResultRecord[], opts?: SummarizeOptions): void {
  const rows = opts ? summarize(x as ResultRecord[], opts) : (x as SummaryRow[]);
  if (!(inNotebook() && tryDisplay((t) => t.display.html(toHtml(rows))))) console.log(toText(rows));
}

/** Show a danfo DataFrame (e.g. from `resultsFrame`): an HTML table in a notebook, danfo's text table elsewhere. */
export function showFrame(df: Parameters<typeof frameToHtml>[0], maxRows = 50): void {
  if (!(inNotebook() && tryDisplay((t) => t.display.html(frameToHtml(df, maxRows))))) df.head(maxRows).print();
}

export interface ImageGridPngOptions {
  /** Integer upscaling per pixel (nearest neighbour); default 4. */
  scale?: number;
  /** Images per row; default min(n, 8). */
  columns?: number;
  /** Gap between images in output pixels; default 4 (white). */
  gap?: number;
}

/** Scale a value array (uint8 0..255 or floats 0..1) to bytes. */
function toByte(pixels: ArrayLike<number>): (i: number) => number {
  let floats = !(pixels instanceof Uint8Array || pixels instanceof Uint8ClampedArray);
  if (floats)
    for (let i = 0; i < pixels.length; i++)
      if (pixels[i] > 1) {
        floats = false;
        break;
      }
  const s = floats ? 255 : 1;
  return (i) => Math.max(0, Math.min(255, Math.round(pixels[i] * s)));
}

/** A grid of images as one PNG (nearest-neighbour upscaled; RGB or grey input). */
export function imagesToPng(images: GridImage[], opts: ImageGridPngOptions = {}): Buffer {
  if (!images.length) throw new Error('imagesToPng: no images; expected at least one');
  const scale = Math.max(1, Math.round(opts.scale ?? 4));
  const cols = Math.max(1, Math.min(opts.columns ?? Math.min(images.length, 8), images.length));
  const rows = Math.ceil(images.length / cols);
  const gap = opts.gap ?? 4;
  const cw = Math.max(...images.map((i) => i.width)) * scale;
  const ch = Math.max(...images.map((i) => i.height)) * scale;
  const png = new PNG({ width: cols * cw + (cols - 1) * gap, height: rows * ch + (rows - 1) * gap });
  png.data.fill(255);
  images.forEach((img, k) => {
    const need = img.width * img.height * img.channels;
    if (img.pixels.length !== need) {
      throw new Error(
        `image ${k}${img.label ? ` '${img.label}'` : ''} has ${img.pixels.length} values; expected ` +
          `${img.height}×${img.width}×${img.channels} = ${need}`,
      );
    }
    const byte = toByte(img.pixels);
    const ox = (k % cols) * (cw + gap);
    const oy = Math.floor(k / cols) * (ch + gap);
    for (let y = 0; y < img.height * scale; y++) {
      for (let x = 0; x < img.width * scale; x++) {
        const src = (Math.floor(y / scale) * img.width + Math.floor(x / scale)) * img.channels;
        const dst = ((oy + y) * png.width + ox + x) * 4;
        for (let c = 0; c < 3; c++) png.data[dst + c] = byte(src + (img.channels === 3 ? c : 0));
        png.data[dst + 3] = 255;
      }
    }
  });
  return PNG.sync.write(png);
}

/** Images `indices` of a dataset as grid images labelled with their class names. */
export function datasetImages(ds: ImageDataset, indices: number[]): GridImage[] {
  const pixels = imagesAt(ds, indices);
  const size = ds.imageSize * ds.imageSize * ds.channels;
  return indices.map((i, k) => {
    return {
      pixels: pixels.subarray(k * size, (k + 1) * size),
      width: ds.imageSize,
      height: ds.imageSize,
      channels: ds.channels as 1 | 3,
      label: ds.classNames[ds.labels[i]] ?? String(ds.labels[i]),
    };
  });
}

/** Show a small grid of images (scaled up PNG) with their labels; outside a notebook, one line of text. */
export function showImages(images: GridImage[], opts: ImageGridPngOptions = {}): void {
  if (!images.length) return;
  const cols = Math.max(1, Math.min(opts.columns ?? Math.min(images.length, 8), images.length));
  if (inNotebook()) {
    const scale = Math.max(1, Math.round(opts.scale ?? 4));
    const cells = images.map((img) => {
      const b64 = imagesToPng([img], { scale }).toString('base64');
      return (
        `<figure style="margin:0;text-align:center"><img style="image-rendering:pixelated" ` +
        `src="data:image/png;base64,${b64}"><figcaption ` +
        `style="font-size:11px">${escapeHtml(img.label ?? '')}</figcaption></figure>`
      );
    });
    const style = `display:grid;grid-template-columns:repeat(${cols},max-content);gap:6px`;
    const html = `<div style="${style}">${cells.join('')}</div>`;
    if (tryDisplay((t) => t.display.html(html))) return;
  }
  const labels = images.map((i) => i.label ?? '?');
  console.log(`[images] ${images.length} image(s) ${images[0].width}×${images[0].height}: ${labels.join(', ')}`);
}

export interface LiveProgressOptions {
  label?: string;
  /** Minimum milliseconds between updates (the last step of an epoch always updates); default 250. */
  intervalMs?: number;
}

/** One progress line, as text. */
export function progressText(p: TrainProgress, label = ''): string {
  return (
    `${label ? `${label} · ` : ''}epoch ${p.epoch}/${p.epochs} · step ${p.step}/${p.steps}` +
    `${p.phase === 'eval' ? ' · evaluating' : ''} · loss ${Number.isFinite(p.loss) ? p.loss.toFixed(4) : 'n/a'}` +
    ` · ${p.imgPerS.toFixed(1)} img/s · ETA ${fmtDuration(p.etaS)}`
  );
}

/**
 * A trainer progress sink that updates one notebook output in place (tslab.newDisplay()); outside a notebook a
 * terminal progress bar.
 */
export function liveProgress(opts: LiveProgressOptions = {}): ProgressSink {
  const t = inNotebook() ? tslab() : null;
  let out: TslabDisplay | null = null;
  try {
    out = t ? t.newDisplay() : null;
  } catch {
    out = null;
  }
  const fallback = new ProgressBar().sink(opts.label ?? '');
  let last = 0;
  return (p) => {
    const now = Date.now();
    const done = p.phase === 'eval' || p.step >= p.steps;
    if (!done && now - last < (opts.intervalMs ?? 250)) return;
    last = now;
    if (out) {
      const frac = p.epochs * p.steps > 0 ? ((p.epoch - 1) * p.steps + p.step) / (p.epochs * p.steps) : 0;
      const html =
        `<div style="font-family:monospace;font-size:13px"><progress value="${Math.min(1, frac).toFixed(4)}" ` +
        `max="1" style="width:240px;vertical-align:middle"></progress> ` +
        `${escapeHtml(progressText(p, opts.label))}</div>`;
      try {
        out.html(html);
        return;
      } catch {
        out = null;
      }
    }
    fallback(p);
  };
}

/** What a training run reports to a display: steps (progress) and finished epochs (metrics). */
export interface TrainingDisplay {
  onProgress: ProgressSink;
  onEpoch: (m: EpochMetrics) => void;
}

export interface LiveTrainingOptions extends LiveProgressOptions {
  /** Draw the per-epoch curve once the run has lasted this many seconds (default 3): short runs stay one line. */
  curveAfterS?: number;
}

const fmt = (v: number, d = 3) => (Number.isFinite(v) ? Number(v.toPrecision(d)).toString() : 'n/a');

/** A small inline SVG of per-epoch curves: loss (left), top-1 % (right); solid train, dashed test. */
export function epochCurveSvg(history: EpochMetrics[], label = ''): string {
  const W = 300;
  const H = 150;
  const pad = { l: 42, r: 8, t: 20, b: 26 };
  const panel = (
    title: string,
    series: Array<{ y: Array<number | undefined>; dash: boolean; color: string }>,
  ): string => {
    const xs = history.map((h) => h.epoch);
    const ys = series.flatMap((s) => s.y).filter((v): v is number => typeof v === 'number' && Number.isFinite(v));
    if (!ys.length) return '';
    const [x0, x1] = [Math.min(...xs), Math.max(...xs, Math.min(...xs) + 1)];
    let [y0, y1] = [Math.min(...ys), Math.max(...ys)];
    if (y1 - y0 < 1e-9) [y0, y1] = [y0 - 0.5, y1 + 0.5];
    const px = (x: number) => pad.l + ((x - x0) / (x1 - x0)) * (W - pad.l - pad.r);
    const py = (y: number) => pad.t + (1 - (y - y0) / (y1 - y0)) * (H - pad.t - pad.b);
    const paths = series.map((s) => {
      const pts = s.y
        .map((y, i) =>
          typeof y === 'number' && Number.isFinite(y) ? `${px(xs[i]).toFixed(1)},${py(y).toFixed(1)}` : '',
        )
        .filter(Boolean);
      const dots = pts
        .map((p) => `<circle cx="${p.split(',')[0]}" cy="${p.split(',')[1]}" r="2" fill="${s.color}"/>`)
        .join('');
      return (
        `<polyline fill="none" stroke="${s.color}" stroke-width="1.5"${s.dash ? ' stroke-dasharray="4 3"' : ''} ` +
        `points="${pts.join(' ')}"/>${dots}`
      );
    });
    const text = (x: number, y: number, t: string, anchor = 'end') =>
      `<text x="${x}" y="${y}" font-size="10" text-anchor="${anchor}">${escapeHtml(t)}</text>`;
    return (
      `<svg width="${W}" height="${H}" xmlns="http://www.w3.org/2000/svg" style="font-family:Arial,sans-serif">` +
      `<rect x="${pad.l}" y="${pad.t}" width="${W - pad.l - pad.r}" height="${H - pad.t - pad.b}" fill="none" ` +
      `stroke="#ccc"/>` +
      text(pad.l, 12, title, 'start') +
      text(pad.l - 4, pad.t + 8, fmt(y1)) +
      text(pad.l - 4, H - pad.b, fmt(y0)) +
      text(pad.l, H - 8, `epoch ${x0}`, 'start') +
      text(W - pad.r, H - 8, `${x1}`) +
      paths.join('') +
      '</svg>'
    );
  };
  const loss = panel(`${label ? `${label}: ` : ''}loss`, [
    { y: history.map((h) => h.trainLoss), dash: false, color: '#1f77b4' },
    { y: history.map((h) => h.testLoss), dash: true, color: '#ff7f0e' },
  ]);
  const acc = panel('top-1 (%)', [
    { y: history.map((h) => 100 * h.trainTop1), dash: false, color: '#1f77b4' },
    { y: history.map((h) => (h.testTop1 === undefined ? undefined : 100 * h.testTop1)), dash: true, color: '#ff7f0e' },
  ]);
  return (
    `<div style="display:flex;gap:12px">${loss}${acc}</div><div style="font-size:11px;color:#555">solid: train · ` +
    `dashed: test</div>`
  );
}

/**
 * A training display for notebooks: one output updated in place with a progress bar line and, once the run has
 * lasted a few seconds, a curve of loss and top-1 per finished epoch. Outside a notebook: the terminal progress bar
 * (stderr) and no curve. Pass it to `train({ ...liveTraining() })` or as an experiment context's `trainingDisplay`.
 */
export function liveTraining(opts: LiveTrainingOptions = {}): TrainingDisplay {
  const t = inNotebook() ? tslab() : null;
  let out: TslabDisplay | null = null;
  try {
    out = t ? t.newDisplay() : null;
  } catch {
    out = null;
  }
  if (!out) return { onProgress: new ProgressBar().sink(opts.label ?? ''), onEpoch: () => undefined };
  const t0 = Date.now();
  const history: EpochMetrics[] = [];
  let line = '';
  let last = 0;
  const draw = () => {
    const curve =
      history.length && (Date.now() - t0) / 1000 >= (opts.curveAfterS ?? 3) ? epochCurveSvg(history, opts.label) : '';
    try {
      out?.html(`${line}${curve}`);
    } catch {
      out = null;
    }
  };
  return {
    onProgress: (p) => {
      const now = Date.now();
      const done = p.phase === 'eval' || p.step >= p.steps;
      if (!done && now - last < (opts.intervalMs ?? 250)) return;
      last = now;
      const frac = p.epochs * p.steps > 0 ? ((p.epoch - 1) * p.steps + p.step) / (p.epochs * p.steps) : 0;
      line =
        `<div style="font-family:monospace;font-size:13px"><progress value="${Math.min(1, frac).toFixed(4)}" max="1" ` +
        `style="width:240px;vertical-align:middle"></progress> ${escapeHtml(progressText(p, opts.label))}</div>`;
      draw();
    },
    onEpoch: (m) => {
      history.push(m);
      draw();
    },
  };
}

/** For an experiment context: a fresh live training display per run, labelled with the run's variant. */
export function notebookTrainingDisplay(): (label: string) => TrainingDisplay {
  return (label) => liveTraining({ label });
}

/**
 * Show a model's architecture drawing (see architecture.ts), generated from its module tree and config; outside a
 * notebook, the drawing's rows as text.
 */
export function showArchitecture(
  model: Module & { config?: object },
  opts: { name?: string; title?: string } = {},
): void {
  if (inNotebook() && tryDisplay((t) => t.display.html(architectureSvg(model, opts)))) return;
  const s = architectureSummary(model, opts.name);
  const lines = s.rows.map((r) => {
    const what =
      r.repeat > 1 ? `${r.path}…${r.lastPath.split('.').pop()} ${r.kind} ×${r.repeat}` : `${r.path} ${r.kind}`;
    return `  ${what}: ${r.detail}`;
  });
  console.log(`[architecture] ${s.model}, ${s.params.toLocaleString('en-US')} parameters\n${lines.join('\n')}`);
}
