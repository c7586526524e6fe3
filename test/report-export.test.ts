import { describe, it, expect, beforeAll } from 'vitest';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { renderFigures, findChromium, NO_CHROMIUM_MESSAGE } from '../src/report/export';
import {
  scatterAccVs,
  ablationBars,
  heatmap,
  lineChart,
  imageGrid,
  trainingCurves,
  fitFigure,
} from '../src/report/figures';
import type { FigureSpec } from '../src/report/types';
import { fakeRecord } from './helpers/records';

const chromium = findChromium();
let dir: string;
let specs: FigureSpec[];

beforeAll(() => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'lv-fig-'));
  const recs = [
    fakeRecord({ variant: 'a', seed: 0, metrics: { top1: 0.6, params: 1e6 } }),
    fakeRecord({ variant: 'a', seed: 1, metrics: { top1: 0.64, params: 1e6 } }),
    fakeRecord({ variant: 'b</script>', metrics: { top1: 0.7, params: 3e6 } }),
  ];
  specs = [
    scatterAccVs({ id: 'acc-vs-params', records: recs, x: 'params', groupBy: 'variant' }),
    ablationBars({ id: 'bars', records: recs, groupBy: 'variant', metric: 'top1' }),
  ];
});

describe('figure export', () => {
  it("always writes <paper>/<id>.json (the spec) and an .html loading the folder's one plotly bundle", async () => {
    const out = await renderFigures(specs, { dir, images: false });
    expect(out.map((w) => path.relative(dir, w.json))).toEqual([
      path.join('kit', 'acc-vs-params.json'),
      path.join('kit', 'bars.json'),
    ]);
    const back = JSON.parse(fs.readFileSync(out[0].json, 'utf8')) as FigureSpec;
    expect(back).toEqual(JSON.parse(JSON.stringify(fitFigure(specs[0]))));
    const html = fs.readFileSync(out[0].html, 'utf8');
    expect(html.length).toBeLessThan(100_000);
    expect(html).toContain('<script src="plotly.min.js"></script>');
    const bundle = path.join(dir, 'kit', 'plotly.min.js');
    expect(fs.statSync(bundle).size).toBeGreaterThan(3_000_000); // one copy per folder: works offline
    const mtime = fs.statSync(bundle).mtimeMs;
    await renderFigures(specs, { dir, images: false });
    expect(fs.statSync(bundle).mtimeMs).toBe(mtime); // an identical bundle is not rewritten
    const self = await renderFigures(specs.slice(0, 1), {
      dir: path.join(dir, 'self'),
      images: false,
      selfContained: true,
    });
    expect(fs.readFileSync(self[0].html, 'utf8').length).toBeGreaterThan(3_000_000); // plotly inlined
    expect(fs.existsSync(path.join(dir, 'self', 'kit', 'plotly.min.js'))).toBe(false);
    expect(html).toContain('Plotly.newPlot');
    expect(html).toContain(`<p class="caption">${specs[0].caption}</p>`);
    expect(html).not.toMatch(/b<\/script>/); // trace names cannot close the script element
    expect(fs.readdirSync(path.join(dir, 'kit')).filter((f) => f.includes('.tmp-'))).toEqual([]);
  });

  it('without a Chromium: HTML/JSON only, one line saying how to get PNG/SVG, no throw', async () => {
    const saved = process.env.LIGHTVIT_CHROMIUM;
    process.env.LIGHTVIT_CHROMIUM = path.join(dir, 'no-such-chromium');
    const lines: string[] = [];
    try {
      const out = await renderFigures(specs, { dir: path.join(dir, 'nochrome'), log: (m) => lines.push(m) });
      expect(out.every((w) => fs.existsSync(w.html) && fs.existsSync(w.json) && !w.png)).toBe(true);
      expect(lines).toEqual([NO_CHROMIUM_MESSAGE]);
    } finally {
      if (saved === undefined) delete process.env.LIGHTVIT_CHROMIUM;
      else process.env.LIGHTVIT_CHROMIUM = saved;
    }
  });

  it('refuses ids that are not file stems', async () => {
    await expect(renderFigures([{ ...specs[0], id: '../escape' }], { dir, images: false })).rejects.toThrow(
      /figure id '\.\.\/escape'/,
    );
  });

  it.skipIf(!chromium)('with a Chromium: PNG and SVG for a batch, from one browser', async () => {
    const out = await renderFigures(specs, { dir: path.join(dir, 'img') });
    const { withProvenanceFooter } = await import('../src/report/export');
    for (const [i, w] of out.entries()) {
      const png = fs.readFileSync(w.png!);
      expect([...png.subarray(0, 8)]).toEqual([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]);
      expect(png.length).toBeGreaterThan(10_000);
      // IHDR width/height: layout 760 wide (480 high plus the provenance footer) at pixel ratio 2
      expect(png.readUInt32BE(16)).toBe(1520);
      expect(png.readUInt32BE(20)).toBe(2 * (withProvenanceFooter(specs[i]) as { height: number }).height);
      expect(png.readUInt32BE(20)).toBeGreaterThan(960);
      const svg = fs.readFileSync(w.svg!, 'utf8');
      expect(svg).toMatch(/^<svg/);
      expect(svg).toContain('Top-1 accuracy (%)');
    }
  });

  it.skipIf(!chromium)('every builder renders in the browser (plotly accepts the specs)', async () => {
    const hist = [1, 2].map((e) => ({
      epoch: e,
      step: e,
      lr: 1e-3,
      trainLoss: 2 / e,
      aux: {},
      trainTop1: 0.2 * e,
      testTop1: 0.1 * e,
      seconds: 1,
    }));
    const all = [
      heatmap({
        id: 'hm',
        z: [
          [0.1, 0.9],
          [0.5, 0.5],
        ],
        title: 'Routing',
        zTitle: 'fraction',
      }),
      lineChart({
        id: 'line',
        series: [{ name: 'a', x: [1, 2, 3], y: [1, 4, 9], error: [0.1, 0.2, 0.3] }],
        xTitle: 'Layer',
        yTitle: 'Distance (px)',
      }),
      imageGrid({
        id: 'grid',
        images: [0, 1, 2].map((k) => ({
          pixels: Uint8Array.from({ length: 48 }, (_, i) => (i * 17 + k * 50) % 256),
          width: 4,
          height: 4,
          channels: 3 as const,
          label: `#${k}`,
        })),
      }),
      trainingCurves([fakeRecord({ variant: 'v', metrics: {}, history: hist })]),
    ];
    const lines: string[] = [];
    const out = await renderFigures(all, { dir: path.join(dir, 'all'), log: (m) => lines.push(m) });
    expect(lines).toEqual([]);
    for (const w of out) expect(fs.statSync(w.png!).size).toBeGreaterThan(5_000);
  });
});

describe('image provenance footer', () => {
  it(
    'PNG/SVG layouts carry the caption from "Data:" on (with ' + 'the synthetic-data warning) and grow to fit it',
    async () => {
      const { withProvenanceFooter } = await import('../src/report/export');
      const spec = {
        id: 'x',
        paper: 'kit',
        title: 't',
        data: [],
        layout: { width: 760, height: 480, margin: { l: 70, r: 30, t: 60, b: 60 } },
        caption:
          'Accuracy vs parameters. Data: synth10 (synthetic data), quick scale, 1 seed. Synthetic data: these ' +
          "are not the paper's numbers.",
      };
      const l = withProvenanceFooter(spec) as {
        height: number;
        margin: { b: number };
        annotations: Array<{ text: string }>;
      };
      const text = l.annotations[0].text.replace(/<br>/g, ' ');
      expect(text).toMatch(/^Data: synth10 \(synthetic data\), quick scale, 1 seed\. Synthetic data: these are not/);
      expect(text).not.toMatch(/Accuracy vs parameters/);
      expect(l.height).toBeGreaterThan(480);
      expect(l.margin.b - 60).toBe(l.height - 480);
      expect(spec.layout.height).toBe(480); // the spec itself is not modified
    },
  );
});
