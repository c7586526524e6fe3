import * as fs from 'node:fs';
import * as path from 'node:path';
import { figuresDir, writeFileAtomic } from '../util/fsx';
import { LightvitError } from '../util/errors';
import type { FigureSpec } from './types';
import { DATA_NOTE_PREFIX, fitFigure } from './figures';

/**
 * The one figure exporter. Always writes `figures/<paper>/<id>.html` (caption under the plot) and `<id>.json` (the
 * spec); adds `.png` and `.svg` when a Chromium is found, rendering with the same plotly bundle in one headless
 * browser per batch. Each figures folder holds one copy of the plotly bundle (`plotly.min.js`, 4.8 MB) that its
 * HTML files load, so they work offline and the folder stays small; `selfContained` (or
 * LIGHTVIT_FIGURES_SELF_CONTAINED=1) inlines the bundle in every HTML file instead, for files mailed on their own.
 * Missing Chromium is one printed line, never an error.
 */

export const CHROMIUM_ARGS = [
  '--headless',
  '--no-sandbox',
  '--disable-gpu',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
  '--no-first-run',
];

const CHROMIUM_CANDIDATES = [
  '/usr/bin/chromium',
  '/usr/bin/chromium-browser',
  '/usr/bin/google-chrome',
  '/usr/bin/google-chrome-stable',
  '/snap/bin/chromium',
  '/Applications/Google Chrome.app/Contents/MacOS/Google Chrome',
  '/Applications/Chromium.app/Contents/MacOS/Chromium',
];

export const NO_CHROMIUM_MESSAGE =
  'PNG/SVG skipped: no Chromium found (apt-get install chromium, or set LIGHTVIT_CHROMIUM)';

/** $LIGHTVIT_CHROMIUM if it exists, else the first system Chromium/Chrome found, else null. */
export function findChromium(): string | null {
  const env = process.env.LIGHTVIT_CHROMIUM;
  if (env) return fs.existsSync(env) ? env : null;
  return CHROMIUM_CANDIDATES.find((p) => fs.existsSync(p)) ?? null;
}

let plotlySource: string | null = null;
/** The plotly.js-dist-min bundle's source (read once). */
export function plotlyBundle(): string {
  if (!plotlySource) plotlySource = fs.readFileSync(require.resolve('plotly.js-dist-min/plotly.min.js'), 'utf8');
  return plotlySource;
}

/** JSON safe to embed inside a <script> element. */
export function scriptJson(v: unknown): string {
  return JSON.stringify(v)
    .replace(/</g, '\\u003c')
    .replace(/\u2028/g, '\\u2028')
    .replace(/\u2029/g, '\\u2029');
}

export function escapeHtml(s: string): string {
  return s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');
}

const ID_RE = /^[A-Za-z0-9][A-Za-z0-9._-]*$/;

function checkSpec(spec: FigureSpec): void {
  if (!ID_RE.test(spec.id))
    throw new LightvitError(`figure id '${spec.id}' is not a file stem; expected letters, digits, '.', '_' or '-'`);
  if (!ID_RE.test(spec.paper))
    throw new LightvitError(`figure '${spec.id}' has paper='${spec.paper}'; expected a paper id like 'mlit'`);
  if (!Array.isArray(spec.data))
    throw new LightvitError(`figure '${spec.id}' data is ${typeof spec.data}; expected an array of plotly traces`);
}

/** File name of the plotly bundle written once into each figures folder. */
export const PLOTLY_FILE = 'plotly.min.js';

/**
 * An HTML page: the figure and its caption under it. `plotlySrc` set: the page loads plotly from that (relative)
 * path; unset: plotly is inlined (a self-contained page; works offline either way).
 */
export function figureHtml(spec: FigureSpec, plotlySrc?: string): string {
  const plotly = plotlySrc ? `<script src="${escapeHtml(plotlySrc)}"></script>` : `<script>${plotlyBundle()}</script>`;
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<title>${escapeHtml(spec.title)}</title>
<style>body{font-family:Arial,Helvetica,sans-serif;margin:24px;max-width:1000px}
.caption{color:#333;font-size:14px;line-height:1.4;max-width:760px}</style>
${plotly}
</head>
<body>
<div id="figure"></div>
<p class="caption">${escapeHtml(spec.caption)}</p>
<script>
Plotly.newPlot('figure', ${scriptJson(spec.data)}, ${scriptJson(spec.layout)}, {responsive: true, displaylogo: false});
</script>
</body>
</html>
`;
}

export interface ExportOptions {
  /** Root folder (default figuresDir(), i.e. $LIGHTVIT_FIGURES_DIR or <repo>/figures); files go to <dir>/<paper>/. */
  dir?: string;
  /** Render PNG and SVG when a Chromium is found (default true). */
  images?: boolean;
  /** PNG pixel ratio (default 2). */
  pngScale?: number;
  /**
   * Inline plotly in every HTML file (default: $LIGHTVIT_FIGURES_SELF_CONTAINED === '1'); else one bundle per folder.
   */
  selfContained?: boolean;
  log?: (msg: string) => void;
}

export interface WrittenFigure {
  id: string;
  paper: string;
  html: string;
  json: string;
  png?: string;
  svg?: string;
}

let warnedNoChromium = false;

/** Minimal view of the playwright page used here. */
interface PageLike {
  evaluate<R, A>(fn: (arg: A) => R | Promise<R>, arg: A): Promise<R>;
  addScriptTag(o: { content: string }): Promise<unknown>;
  setContent(html: string): Promise<void>;
}
interface BrowserLike {
  newPage(): Promise<PageLike>;
  close(): Promise<void>;
}

/** One headless Chromium with plotly loaded, reused for a batch of figures. */
/**
 * A PNG or SVG travels without its HTML caption, so the caption's provenance (from "Dataset:" on: dataset, scale,
 * seeds and the synthetic-data warning) is drawn under the plot, wrapped, and the figure grows to fit it.
 */
export function withProvenanceFooter(spec: FigureSpec): Record<string, unknown> {
  const layout = { ...spec.layout } as Record<string, unknown> & {
    margin?: Record<string, number>;
    height?: number;
    width?: number;
  };
  const atNote = spec.caption.indexOf(`${DATA_NOTE_PREFIX} `);
  const at = atNote >= 0 ? atNote : spec.caption.indexOf('Dataset:');
  const text = (
    at >= 0 ? spec.caption.slice(at) : /synthetic/i.test(spec.caption) ? 'Trained on synthetic data.' : ''
  ).trim();
  if (!text) return layout;
  const width = layout.width ?? 760;
  const perLine = Math.max(40, Math.floor(width / 7));
  const lines: string[] = [];
  for (const word of text.split(/\s+/)) {
    if (lines.length && `${lines[lines.length - 1]} ${word}`.length <= perLine) lines[lines.length - 1] += ` ${word}`;
    else lines.push(word);
  }
  const extra = 16 * lines.length + 8;
  const margin = { l: 70, r: 30, t: 60, b: 60, ...(layout.margin ?? {}) };
  layout.margin = { ...margin, b: margin.b + extra };
  layout.height = (layout.height ?? 480) + extra;
  const annotations = Array.isArray(layout.annotations) ? [...(layout.annotations as unknown[])] : [];
  annotations.push({
    text: lines.map((l) => escapeHtml(l)).join('<br>'),
    xref: 'paper',
    yref: 'paper',
    x: 0,
    y: 0,
    xanchor: 'left',
    yanchor: 'top',
    yshift: -(margin.b + 2),
    showarrow: false,
    align: 'left',
    font: { size: 11, color: '#555' },
  });
  layout.annotations = annotations;
  return layout;
}

export class FigureRenderer {
  private constructor(
    private readonly browser: BrowserLike,
    private readonly page: PageLike,
  ) {}

  /** Launch, or null (with the reason) when no Chromium is usable. */
  static async launch(executablePath = findChromium()): Promise<{ renderer: FigureRenderer | null; reason?: string }> {
    if (!executablePath) return { renderer: null, reason: NO_CHROMIUM_MESSAGE };
    try {
      // eslint-disable-next-line @typescript-eslint/no-var-requires
      const { chromium } = require('playwright-core') as typeof import('playwright-core');
      const browser = (await chromium.launch({
        executablePath,
        headless: true,
        args: CHROMIUM_ARGS,
        timeout: 60_000,
      })) as unknown as BrowserLike;
      try {
        const page = await browser.newPage();
        await page.setContent('<!doctype html><html><body><div id="f"></div></body></html>');
        await page.addScriptTag({ content: plotlyBundle() });
        return { renderer: new FigureRenderer(browser, page) };
      } catch (e) {
        await browser.close().catch(() => undefined);
        throw e;
      }
    } catch (e) {
      const msg = (e instanceof Error ? e.message : String(e)).split('\n')[0].slice(0, 200);
      return { renderer: null, reason: `PNG/SVG skipped: Chromium at ${executablePath} did not start (${msg})` };
    }
  }

  /** PNG bytes and SVG text of one figure (with its caption's provenance line drawn under the plot). */
  async render(spec: FigureSpec, pngScale = 2): Promise<{ png: Buffer; svg: string }> {
    const layout = withProvenanceFooter(spec);
    const { width, height } = layout as { width?: number; height?: number };
    const out = await this.page.evaluate(
      async (a: { data: unknown[]; layout: Record<string, unknown>; width: number; height: number; scale: number }) => {
        // biome-ignore lint/suspicious/noExplicitAny: plotly's page global, untyped inside the browser
        const P = (globalThis as unknown as { Plotly: any }).Plotly;
        const div = document.getElementById('f')!;
        await P.newPlot(div, a.data, a.layout, { staticPlot: true });
        const png: string = await P.toImage(div, { format: 'png', width: a.width, height: a.height, scale: a.scale });
        const svg: string = await P.toImage(div, { format: 'svg', width: a.width, height: a.height });
        P.purge(div);
        return { png, svg };
      },
      { data: spec.data, layout, width: width ?? 760, height: height ?? 480, scale: pngScale },
    );
    const png = Buffer.from(out.png.slice(out.png.indexOf(',') + 1), 'base64');
    const comma = out.svg.indexOf(',');
    const head = out.svg.slice(0, comma);
    const body = out.svg.slice(comma + 1);
    const svg = head.includes(';base64') ? Buffer.from(body, 'base64').toString('utf8') : decodeURIComponent(body);
    return { png, svg };
  }

  /**
   * Draw a figure at its layout size and return the figure's box and the boxes of its texts (tick labels, axis
   * titles, annotations, legend entries), in px from the figure's top-left corner: what tests check for clipping
   * and overlap.
   */
  async measure(spec: FigureSpec): Promise<FigureMeasure> {
    const layout = { ...spec.layout };
    return this.page.evaluate(
      async (a: { data: unknown[]; layout: Record<string, unknown> }) => {
        // biome-ignore lint/suspicious/noExplicitAny: plotly's page global and its div, untyped inside the browser
        const P = (globalThis as unknown as { Plotly: any }).Plotly;
        // biome-ignore lint/suspicious/noExplicitAny: see above
        const div = document.getElementById('f') as any;
        await P.newPlot(div, a.data, a.layout, { staticPlot: true });
        const root = (div.querySelector('.main-svg') ?? div).getBoundingClientRect();
        const kinds: Array<[string, string]> = [
          ['.xtick text', 'xtick'],
          ['.ytick text', 'ytick'],
          ['.xtitle', 'xtitle'],
          ['.ytitle', 'ytitle'],
          ['.annotation-text', 'annotation'],
          ['.legendtext', 'legend'],
          ['.gtitle', 'title'],
        ];
        const texts: Array<{ kind: string; text: string; x0: number; y0: number; x1: number; y1: number }> = [];
        for (const [sel, kind] of kinds) {
          for (const el of div.querySelectorAll(sel)) {
            const r = el.getBoundingClientRect();
            if (!r.width && !r.height) continue;
            texts.push({
              kind,
              text: el.textContent ?? '',
              x0: r.left - root.left,
              y0: r.top - root.top,
              x1: r.right - root.left,
              y1: r.bottom - root.top,
            });
          }
        }
        const out = { width: root.width, height: root.height, texts };
        P.purge(div);
        return out;
      },
      { data: spec.data, layout },
    );
  }

  async close(): Promise<void> {
    await this.browser.close().catch(() => undefined);
  }
}

export interface FigureMeasure {
  width: number;
  height: number;
  texts: Array<{ kind: string; text: string; x0: number; y0: number; x1: number; y1: number }>;
}

let shared: { launching: Promise<FigureRenderer | null>; timer?: NodeJS.Timeout } | null = null;

/**
 * One Chromium for a whole session (a notebook renders a PNG copy of each figure it shows): launched on first use,
 * closed after `idleMs` without use or when the process exits. Null when no Chromium is usable.
 */
export async function sharedRenderer(idleMs = 60_000): Promise<FigureRenderer | null> {
  if (!shared) {
    const launching = FigureRenderer.launch().then((r) => r.renderer);
    shared = { launching };
    const r = await launching;
    if (!r) return null;
    process.once('exit', () => void r.close());
  }
  const s = shared;
  const r = await s.launching;
  if (s.timer) clearTimeout(s.timer);
  if (r) {
    s.timer = setTimeout(() => {
      if (shared === s) shared = null;
      void r.close();
    }, idleMs);
    s.timer.unref();
  }
  return r;
}

/** Close the session's shared Chromium now (tests; a notebook's last cell may call it). */
export async function closeSharedRenderer(): Promise<void> {
  const s = shared;
  shared = null;
  if (!s) return;
  if (s.timer) clearTimeout(s.timer);
  const r = await s.launching;
  await r?.close();
}

// `document` inside page.evaluate runs in the browser; declare it for the Node typecheck.
declare const document: { getElementById(id: string): unknown };

/** Write `<dir>/plotly.min.js` unless an identical copy is there (compared by size, then content). Returns its path. */
export function writePlotlyBundle(dir: string): string {
  const file = path.join(dir, PLOTLY_FILE);
  const src = plotlyBundle();
  try {
    if (fs.statSync(file).size === Buffer.byteLength(src) && fs.readFileSync(file, 'utf8') === src) return file;
  } catch {
    /* missing: write it */
  }
  writeFileAtomic(file, src);
  return file;
}

/** Write a batch of figures: HTML + JSON always; PNG + SVG with one shared browser when a Chromium is found. */
export async function renderFigures(specs: FigureSpec[], opts: ExportOptions = {}): Promise<WrittenFigure[]> {
  const root = path.resolve(opts.dir ?? figuresDir());
  const log = opts.log ?? ((m: string) => console.log(m));
  const written: WrittenFigure[] = [];
  const selfContained = opts.selfContained ?? process.env.LIGHTVIT_FIGURES_SELF_CONTAINED === '1';
  specs.forEach(checkSpec);
  specs = specs.map(fitFigure);
  for (const spec of specs) {
    const base = path.join(root, spec.paper, spec.id);
    if (!selfContained) writePlotlyBundle(path.join(root, spec.paper));
    writeFileAtomic(`${base}.json`, `${JSON.stringify(spec, null, 1)}\n`);
    writeFileAtomic(`${base}.html`, figureHtml(spec, selfContained ? undefined : PLOTLY_FILE));
    written.push({ id: spec.id, paper: spec.paper, html: `${base}.html`, json: `${base}.json` });
  }
  if (opts.images === false || !specs.length) return written;
  const { renderer, reason } = await FigureRenderer.launch();
  if (!renderer) {
    if (!warnedNoChromium || reason !== NO_CHROMIUM_MESSAGE) log(reason!);
    warnedNoChromium = true;
    return written;
  }
  try {
    for (let i = 0; i < specs.length; i++) {
      try {
        const { png, svg } = await renderer.render(specs[i], opts.pngScale ?? 2);
        const base = path.join(root, specs[i].paper, specs[i].id);
        writeFileAtomic(`${base}.png`, png);
        writeFileAtomic(`${base}.svg`, svg);
        written[i].png = `${base}.png`;
        written[i].svg = `${base}.svg`;
      } catch (e) {
        log(
          `PNG/SVG of figure '${specs[i].id}' failed: ${(e instanceof Error ? e.message : String(e)).split('\n')[0]}`,
        );
      }
    }
  } finally {
    await renderer.close();
  }
  return written;
}

/** Write one figure (see renderFigures). */
export async function writeFigure(spec: FigureSpec, opts: ExportOptions = {}): Promise<WrittenFigure> {
  return (await renderFigures([spec], opts))[0];
}
