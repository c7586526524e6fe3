import { describe, it, expect, afterEach, vi } from 'vitest';
import { PNG } from 'pngjs';
import {
  showFigure,
  showTable,
  showImages,
  liveProgress,
  liveTraining,
  showArchitecture,
  imagesToPng,
  progressText,
  figureHtmlFragment,
} from '../src/report/notebook';
import { createModel } from '../src/models';
import { findChromium } from '../src/report/export';
import { heatmap } from '../src/report/figures';
import type { TrainProgress } from '../src/train/progress';
import { fakeRecord } from './helpers/records';

// tslab's display hook, as a kernel (or scripts/run-notebook.js) sets it.
// eslint-disable-next-line @typescript-eslint/no-var-requires
const jupyter = require('tslab/dist/jupyter') as { lastWriteDisplayData: unknown };
type Msg = { data: Record<string, string>; transient: { display_id?: string } };

function fakeKernel(): Array<{ msg: Msg; update: boolean }> {
  const got: Array<{ msg: Msg; update: boolean }> = [];
  (globalThis as Record<string, unknown>).__tslab__ = { require: (id: string) => require(id) };
  jupyter.lastWriteDisplayData = (msg: Msg, update: boolean) => got.push({ msg, update });
  return got;
}

afterEach(() => {
  delete (globalThis as Record<string, unknown>).__tslab__;
  jupyter.lastWriteDisplayData = null;
});

const spec = heatmap({
  id: 'h',
  z: [
    [1, 2],
    [3, 4],
  ],
  title: 'T',
  caption: 'A caption',
  records: [fakeRecord({ variant: 'a', metrics: {} })],
});
const prog = (step: number, phase: 'train' | 'eval' = 'train'): TrainProgress => ({
  phase,
  epoch: 1,
  epochs: 2,
  step,
  steps: 4,
  loss: 2.3,
  lr: 1e-3,
  imgPerS: 12.5,
  etaS: 65,
});

function captureConsole<T>(f: () => T): { value: T; out: string } {
  const log = console.log;
  let out = '';
  console.log = (...a: unknown[]) => (out += `${a.join(' ')}\n`);
  try {
    return { value: f(), out };
  } finally {
    console.log = log;
  }
}

describe('notebook helpers outside a kernel', () => {
  it('fall back to console text and never throw', async () => {
    const log = console.log;
    const lines: string[] = [];
    console.log = (...a: unknown[]) => lines.push(a.join(' '));
    try {
      await showFigure(spec);
      showTable([fakeRecord({ variant: 'a', metrics: { top1: 0.5 } })], { groupBy: ['variant'], metrics: ['top1'] });
      showImages([{ pixels: new Uint8Array(12), width: 2, height: 2, channels: 3, label: 'cat' }]);
    } finally {
      console.log = log;
    }
    expect(lines[0]).toMatch(
      /^\[figure\] T: 1 trace\(s\)\. A caption\. Data: synth10 \(synthetic data\), smoke scale, 1 seed\. Synthetic data/,
    );
    expect(lines[1]).toMatch(/variant\s+n\s+top1 \(%\)/);
    expect(lines[2]).toBe('[images] 1 image(s) 2×2: cat');
    // outside a kernel the live display falls back to the terminal progress bar on stderr
    const written: string[] = [];
    const write = vi
      .spyOn(process.stderr, 'write')
      .mockImplementation((s: string | Uint8Array) => written.push(String(s)) > 0);
    try {
      liveProgress({ label: 'vit' })(prog(4));
    } finally {
      write.mockRestore();
    }
    expect(written.join('')).toMatch(/vit ep 1\/2 .*50%/);
  });

  it('progress text', () => {
    expect(progressText(prog(2), 'vit')).toBe('vit · epoch 1/2 · step 2/4 · loss 2.3000 · 12.5 img/s · ETA 1m05s');
  });
});

describe('notebook helpers in a kernel', () => {
  it('showFigure: interactive HTML with plotly inlined once per session, then only the plot', async () => {
    const got = fakeKernel();
    await showFigure(spec, { png: false });
    await showFigure(spec, { png: false });
    expect(got).toHaveLength(2);
    const [a, b] = got.map((g) => g.msg.data['text/html']);
    expect(a.length).toBeGreaterThan(3_000_000);
    expect(b.length).toBeLessThan(10_000);
    expect(b).toContain('P.newPlot(');
    expect(b).toContain('A caption');
    expect(b).not.toContain('data:image/png');
  });

  it('showTable: one HTML table output', () => {
    const got = fakeKernel();
    const { out } = captureConsole(() =>
      showTable([fakeRecord({ variant: 'a', metrics: { top1: 0.5 } })], { groupBy: ['variant'], metrics: ['top1'] }),
    );
    expect(out).toBe('');
    expect(got[0].msg.data['text/html']).toContain('<td style="text-align:right">50.00</td>');
  });

  it('liveProgress updates one display in place, throttled, always showing the last step', () => {
    const got = fakeKernel();
    const sink = liveProgress({ intervalMs: 60_000 });
    sink(prog(1));
    sink(prog(2)); // throttled
    sink(prog(4)); // end of epoch: always shown
    expect(got).toHaveLength(2);
    expect(got[0].update).toBeFalsy();
    expect(got[1].update).toBe(true);
    expect(got[0].msg.transient.display_id).toBe(got[1].msg.transient.display_id);
    expect(got[1].msg.data['text/html']).toContain('step 4/4');
    expect(got[1].msg.data['text/html']).toContain('<progress value="0.5000"');
  });

  it('liveTraining: one display in place, a per-epoch curve once the run lasts curveAfterS; no stderr', () => {
    const got = fakeKernel();
    const errs: string[] = [];
    const write = process.stderr.write;
    process.stderr.write = ((s: string) => {
      errs.push(String(s));
      return true;
    }) as typeof process.stderr.write;
    try {
      const short = liveTraining({ label: 'short', intervalMs: 0, curveAfterS: 3600 });
      short.onProgress(prog(4));
      short.onEpoch({
        epoch: 1,
        step: 4,
        lr: 1e-3,
        trainLoss: 2,
        aux: {},
        trainTop1: 0.2,
        testLoss: 2.1,
        testTop1: 0.18,
        seconds: 1,
      });
      expect(got[got.length - 1].msg.data['text/html']).not.toContain('<svg'); // a short run stays one line
      const d = liveTraining({ label: 'vit', intervalMs: 0, curveAfterS: 0 });
      d.onProgress(prog(4));
      for (const e of [1, 2, 3])
        d.onEpoch({
          epoch: e,
          step: 4 * e,
          lr: 1e-3,
          trainLoss: 2 / e,
          aux: {},
          trainTop1: 0.2 * e,
          testLoss: 2.1 / e,
          testTop1: 0.18 * e,
          seconds: e,
        });
    } finally {
      process.stderr.write = write;
    }
    const mine = got.slice(2);
    expect(new Set(mine.map((g) => g.msg.transient.display_id)).size).toBe(1); // one output, updated
    expect(mine.slice(1).every((g) => g.update)).toBe(true);
    const html = mine[mine.length - 1].msg.data['text/html'];
    expect(html).toContain('step 4/4');
    expect((html.match(/<polyline/g) ?? []).length).toBe(4); // loss and top-1, train and test
    expect(html).toContain('epoch 1');
    expect(errs).toEqual([]);
  });

  it('showArchitecture draws the model as an SVG output', () => {
    const got = fakeKernel();
    showArchitecture(createModel('mlit-xxs', {}, { build: false }), { name: 'mlit-xxs' });
    expect(got[0].msg.data['text/html']).toMatch(/^<svg/);
    expect(got[0].msg.data['text/html']).toContain('grouped-query attention');
  });

  it('showImages: labelled grid of upscaled PNGs', () => {
    const got = fakeKernel();
    showImages([{ pixels: new Uint8Array(12).fill(200), width: 2, height: 2, channels: 3, label: 'a<b' }], {
      scale: 3,
    });
    const html = got[0].msg.data['text/html'];
    expect(html).toContain('data:image/png;base64,');
    expect(html).toContain('a&lt;b');
  });

  it.skipIf(!findChromium())(
    'showFigure embeds a Chromium-rendered PNG fallback that the live plot replaces',
    async () => {
      const got = fakeKernel();
      await showFigure(spec, { png: true });
      const html = got[0].msg.data['text/html'];
      const m = /data:image\/png;base64,([A-Za-z0-9+/=]+)/.exec(html);
      expect(m).not.toBeNull();
      expect(Buffer.from(m![1], 'base64').subarray(1, 4).toString()).toBe('PNG');
      expect(html).toContain('i.remove()');
    },
  );
});

describe('imagesToPng', () => {
  it('nearest-neighbour upscaling, grey and RGB, white gaps (golden pixels)', () => {
    const red = {
      pixels: Uint8Array.from([255, 0, 0, 0, 255, 0, 0, 0, 255, 10, 20, 30]),
      width: 2,
      height: 2,
      channels: 3 as const,
    };
    const grey = { pixels: Float32Array.from([0, 0.5, 1, 0.25]), width: 2, height: 2, channels: 1 as const };
    const png = PNG.sync.read(imagesToPng([red, grey], { scale: 2, gap: 1 }));
    expect([png.width, png.height]).toEqual([2 * 4 + 1, 4]);
    const px = (x: number, y: number) => [...png.data.subarray((y * png.width + x) * 4, (y * png.width + x) * 4 + 3)];
    expect(px(0, 0)).toEqual([255, 0, 0]);
    expect(px(1, 1)).toEqual([255, 0, 0]);
    expect(px(2, 0)).toEqual([0, 255, 0]);
    expect(px(3, 3)).toEqual([10, 20, 30]);
    expect(px(4, 0)).toEqual([255, 255, 255]); // gap
    expect(px(5, 0)).toEqual([0, 0, 0]);
    expect(px(7, 0)).toEqual([128, 128, 128]);
    expect(px(8, 3)).toEqual([64, 64, 64]);
    expect(() => imagesToPng([{ ...red, width: 3 }])).toThrow(/12 values; expected 2×3×3 = 18/);
  });

  it('figure fragments get distinct element ids', () => {
    const a = figureHtmlFragment(spec);
    const b = figureHtmlFragment(spec);
    expect(/id="([^"]+)"/.exec(a)![1]).not.toBe(/id="([^"]+)"/.exec(b)![1]);
  });
});
