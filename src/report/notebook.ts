import { PNG } from 'pngjs';
import type { ImageDataset } from '../data/types';
import { ProgressBar, fmtDuration, type ProgressSink, type TrainProgress } from '../train/progress';
import type { FigureSpec, ResultRecord } from './types';
import type { GridImage } from './figures';
import { toHtml, toText, summarize, type SummaryRow, type SummarizeOptions } from './table';
import { FigureRenderer, escapeHtml, findChromium, plotlyBundle, scriptJson } from './export';

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
  const { width, height } = spec.layout as { width?: number; height?: number };
  const img = pngBase64
    ? `<img id="${id}-png" alt="${escapeHtml(spec.title)}" style="max-width:100%;width:${width ?? 760}px" src="data:image/png;base64,${pngBase64}">`
    : '';
  return [
    withPlotly ? `<script>${plotlyBundle()}</script>` : '',
    `<div id="${id}"></div>${img}`,
    `<p style="font-size:13px;color:#333;max-width:760px">${escapeHtml(spec.caption)}</p>`,
    `<script>(function(){var n=0;function draw(){var P=window.Plotly;if(!P){if(++n<200)setTimeout(draw,50);return;}`,
    `P.newPlot(${JSON.stringify(id)},${scriptJson(spec.data)},${scriptJson(spec.layout)},{displaylogo:false}).then(function(){`,
    `var i=document.getElementById(${JSON.stringify(id + '-png')});if(i)i.remove();});}draw();})();</script>`,
  ].join('\n');
}

/** Show a figure inline: an interactive plotly div (plotly inlined once per session), PNG fallback when Chromium is found. */
export async function showFigure(spec: FigureSpec, opts: ShowFigureOptions = {}): Promise<void> {
  if (!inNotebook()) {
    console.log(`[figure] ${spec.title}: ${spec.data.length} trace(s). ${spec.caption}`);
    return;
  }
  let png: string | undefined;
  const wantPng = opts.png ?? (process.env.LIGHTVIT_NOTEBOOK_PNG !== '0' && findChromium() !== null);
  if (wantPng) {
    const { renderer } = await FigureRenderer.launch();
    if (renderer) {
      try {
        png = (await renderer.render(spec, 1)).png.toString('base64');
      } catch (e) {
        console.log(`PNG fallback of '${spec.id}' skipped: ${(e instanceof Error ? e.message : String(e)).split('\n')[0]}`);
      } finally {
        await renderer.close();
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
  if (floats) for (let i = 0; i < pixels.length; i++) if (pixels[i] > 1) { floats = false; break; }
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
      throw new Error(`image ${k}${img.label ? ` '${img.label}'` : ''} has ${img.pixels.length} values; expected ${img.height}×${img.width}×${img.channels} = ${need}`);
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
  const n = ds.labels.length;
  const size = ds.imageSize * ds.imageSize * ds.channels;
  return indices.map((i) => {
    if (!Number.isInteger(i) || i < 0 || i >= n) throw new Error(`image index ${i} is outside ${ds.name}/${ds.split} (0..${n - 1})`);
    return {
      pixels: ds.images.subarray(i * size, (i + 1) * size),
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
      return `<figure style="margin:0;text-align:center"><img style="image-rendering:pixelated" src="data:image/png;base64,${b64}"><figcaption style="font-size:11px">${escapeHtml(img.label ?? '')}</figcaption></figure>`;
    });
    const html = `<div style="display:grid;grid-template-columns:repeat(${cols},max-content);gap:6px">${cells.join('')}</div>`;
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
    `${label ? label + ' · ' : ''}epoch ${p.epoch}/${p.epochs} · step ${p.step}/${p.steps}` +
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
        `<div style="font-family:monospace;font-size:13px"><progress value="${Math.min(1, frac).toFixed(4)}" max="1" style="width:240px;vertical-align:middle"></progress> ` +
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
