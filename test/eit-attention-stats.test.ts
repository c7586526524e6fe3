import { describe, it, expect, beforeAll } from 'vitest';
import * as tf from '@tensorflow/tfjs';
import { initBackend } from '../src/backend';
import { createModel } from '../src/models';
import {
  meanAttentionDistance,
  dft2dEnergy,
  highFrequencyShare,
  highFrequencyMask,
  captureLayers,
  analyseTokenModel,
} from '../src/analysis/attention-stats';
import type { ImageDataset } from '../src/data/types';

beforeAll(async () => {
  await initBackend('wasm');
});

/** Naive O(n⁴) 2-D DFT energy, the textbook definition. */
function naiveDftEnergy(m: number[], n: number): number[] {
  const out: number[] = [];
  for (let u = 0; u < n; u++)
    for (let v = 0; v < n; v++) {
      let re = 0;
      let im = 0;
      for (let y = 0; y < n; y++)
        for (let x = 0; x < n; x++) {
          const a = (-2 * Math.PI * (u * y + v * x)) / n;
          re += m[y * n + x] * Math.cos(a);
          im += m[y * n + x] * Math.sin(a);
        }
      out.push(re * re + im * im);
    }
  return out;
}

describe('mean attention distance (ViT paper method)', () => {
  it('uniform attention on a 2×2 grid: (0 + 1 + 1 + √2)/4 patch spacings per query, scaled to pixels', () => {
    const probs = new Float32Array(1 * 2 * 4 * 4).fill(0.25);
    const d = meanAttentionDistance(probs, [1, 2, 4, 4], { grid: 2, hasCls: false, pixelsPerToken: 4 });
    expect(d[0]).toBeCloseTo((4 * (2 + Math.SQRT2)) / 4, 6);
    expect(d[1]).toBeCloseTo(d[0], 6);
  });

  it('class token: dropped as query and key; weights renormalised over patch keys unless told not to', () => {
    const probs = new Float32Array(5 * 5).fill(0.2);
    const a = meanAttentionDistance(probs, [1, 1, 5, 5], { grid: 2, hasCls: true });
    expect(a[0]).toBeCloseTo((2 + Math.SQRT2) / 4, 6);
    const b = meanAttentionDistance(probs, [1, 1, 5, 5], { grid: 2, hasCls: true, renormalise: false });
    expect(b[0]).toBeCloseTo((0.8 * (2 + Math.SQRT2)) / 4, 6);
  });

  it(
    'self-attention only is distance 0; everyone attending the top-left patch of a 3×3 grid averages the ' +
      'distances to it',
    () => {
      const self = new Float32Array(81);
      const corner = new Float32Array(81);
      for (let q = 0; q < 9; q++) {
        self[q * 9 + q] = 1;
        corner[q * 9] = 1;
      }
      // two heads: per-head values are kept apart, images are averaged
      const probs = new Float32Array([...self, ...corner]);
      const d = meanAttentionDistance(probs, [1, 2, 9, 9], { grid: 3, hasCls: false });
      const want =
        [0, 1, 2, 1, Math.SQRT2, Math.hypot(1, 2), 2, Math.hypot(2, 1), Math.hypot(2, 2)].reduce((s, v) => s + v, 0) /
        9;
      expect(d[0]).toBe(0);
      expect(d[1]).toBeCloseTo(want, 6);
      expect(() => meanAttentionDistance(probs, [1, 2, 9, 9], { grid: 3, hasCls: true })).toThrow(/\[B, H, 10, 10\]/);
    },
  );
});

describe('high-frequency share of token maps (2-D DFT)', () => {
  it('separable DFT equals the textbook definition (odd and even sizes) and satisfies Parseval', () => {
    for (const n of [5, 8]) {
      const m = Array.from({ length: n * n }, (_, i) => Math.sin(i * 1.7) + 0.3 * Math.cos(i * i));
      const e = Array.from(dft2dEnergy(m, n));
      const ref = naiveDftEnergy(m, n);
      e.forEach((v, i) => expect(v).toBeCloseTo(ref[i], 8));
      expect(e.reduce((s, v) => s + v, 0)).toBeCloseTo(n * n * m.reduce((s, v) => s + v * v, 0), 6);
    }
  });

  it('a constant map has share 0, a ±1 checkerboard share 1, a slow cosine share 0, a fast one share 1', () => {
    const g = 8;
    const tok = (f: (y: number, x: number) => number) => {
      // [1, 1 + g², 1] with a class token that must be ignored
      const t = new Float32Array(1 + g * g);
      t[0] = 1e3;
      for (let y = 0; y < g; y++) for (let x = 0; x < g; x++) t[1 + y * g + x] = f(y, x);
      return t;
    };
    const share = (f: (y: number, x: number) => number, removeMean = false) =>
      highFrequencyShare(tok(f), [1, 1 + g * g, 1], { grid: g, hasCls: true, removeMean });
    expect(share(() => 3)).toBeCloseTo(0, 12);
    expect(share((y, x) => ((x + y) % 2 ? 1 : -1))).toBeCloseTo(1, 10);
    expect(share((_y, x) => Math.cos((2 * Math.PI * x) / g))).toBeCloseTo(0, 10); // radius 1/4 of Nyquist
    expect(share((_y, x) => Math.cos((2 * Math.PI * 3 * x) / g))).toBeCloseTo(1, 10); // radius 3/4
    // a checkerboard on a constant: half the energy is DC; removing the mean leaves only the checkerboard
    expect(share((y, x) => 1 + ((x + y) % 2 ? 1 : -1))).toBeCloseTo(0.5, 10);
    expect(share((y, x) => 1 + ((x + y) % 2 ? 1 : -1), true)).toBeCloseTo(1, 10);
  });

  it('the high-frequency mask: DC is low, the Nyquist corner high, symmetric in ±frequency', () => {
    const m = highFrequencyMask(19, 0.5);
    expect(m[0]).toBe(0);
    expect(m[9 * 19 + 9]).toBe(1);
    for (let u = 0; u < 19; u++)
      for (let v = 0; v < 19; v++) expect(m[u * 19 + v]).toBe(m[((19 - u) % 19) * 19 + ((19 - v) % 19)]);
  });
});

function tinyDataset(n: number, size: number): ImageDataset {
  const images = new Uint8Array(n * size * size * 3);
  for (let i = 0; i < images.length; i++) images[i] = (i * 37) % 251;
  return {
    name: 'synth10',
    split: 'test',
    images,
    labels: new Int32Array(n).map((_, i) => i % 10),
    numClasses: 10,
    imageSize: size,
    channels: 3,
    classNames: Array.from({ length: 10 }, (_, i) => `c${i}`),
    synthetic: true,
    mean: [0.5, 0.5, 0.5],
    std: [0.25, 0.25, 0.25],
  };
}

describe('capturing trained token models', () => {
  it('EIT and ViT: attention per block and token maps per layer, with the right geometry; no leaked tensors', () => {
    const eit = createModel('eit-test', {}, { seed: 1 });
    const vit = createModel('vit-tiny-test', {}, { seed: 1 });
    const x = tf.randomNormal([2, 8, 8, 3], 0, 1, 'float32', 1) as tf.Tensor4D;
    const before = tf.memory().numTensors;
    const ce = captureLayers(eit, x);
    expect([ce.grid, ce.hasCls, ce.pixelsPerToken]).toEqual([4, true, 2]);
    expect(ce.attn.map((a) => a!.shape)).toEqual([
      [2, 2, 17, 17],
      [2, 2, 17, 17],
    ]);
    expect(ce.tokens.map((t) => t.shape)).toEqual([
      [2, 17, 16],
      [2, 17, 16],
      [2, 17, 16],
    ]);
    const cv = captureLayers(vit, x);
    expect([cv.grid, cv.hasCls, cv.pixelsPerToken]).toEqual([2, true, 4]);
    expect(cv.tokens.length).toBe(3);
    expect(tf.memory().numTensors).toBe(before);
    tf.dispose(x);
    eit.dispose();
    vit.dispose();
  });

  it('refuses a model that is not a token model, naming it', () => {
    const resnet = createModel('resnet-test', {}, { seed: 1 });
    const x = tf.zeros([1, resnet.config.imageSize, resnet.config.imageSize, 3]) as tf.Tensor4D;
    expect(() => captureLayers(resnet, x)).toThrow(/need a token model .*got 'resnet-test'/);
    tf.dispose(x);
    resnet.dispose();
  });

  it('analyseTokenModel returns a distance per head per layer within the grid diameter and shares in [0, 1]', () => {
    const m = createModel('eit-test', {}, { seed: 2 });
    const s = analyseTokenModel(m, tinyDataset(10, 8), { maxImages: 10, batch: 4 });
    expect(s.images).toBe(10);
    expect(s.attentionDistance.map((r) => r.length)).toEqual([2, 2]);
    for (const r of s.attentionDistance) {
      for (const d of r) {
        expect(d).toBeGreaterThan(0);
        expect(d).toBeLessThanOrEqual(2 * Math.hypot(3, 3));
      }
    }
    expect(s.highFreqShare.length).toBe(3);
    for (const v of [...s.highFreqShare, ...s.highFreqShareNoMean]) {
      expect(v).toBeGreaterThanOrEqual(0);
      expect(v).toBeLessThanOrEqual(1);
    }
    // at initialisation attention is near-uniform: the mean distance is close to the uniform one on a 4×4 grid
    const uniform = meanAttentionDistance(new Float32Array(16 * 16).fill(1 / 16), [1, 1, 16, 16], {
      grid: 4,
      hasCls: false,
      pixelsPerToken: 2,
    })[0];
    expect(Math.abs(s.attentionDistance[0][0] - uniform)).toBeLessThan(0.05 * uniform);
    m.dispose();
  });
});
