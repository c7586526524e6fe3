import { describe, it, expect } from 'vitest';
import { prepareBatch, epochOrder, resizeBilinear } from '../src/data/augment';
import type { ImageDataset } from '../src/data/types';
import { Rng } from '../src/util/rng';

/** A tiny dataset: image i has pixel (y, x, c) = (i*50 + y*8 + x*2 + c) mod 256, S×S, 3 channels. */
function tinyDataset(n: number, S: number): ImageDataset {
  const images = new Uint8Array(n * S * S * 3);
  for (let i = 0; i < n; i++)
    for (let y = 0; y < S; y++)
      for (let x = 0; x < S; x++)
        for (let c = 0; c < 3; c++) images[((i * S + y) * S + x) * 3 + c] = (i * 50 + y * 8 + x * 2 + c) % 256;
  return {
    name: 'tiny',
    split: 'train',
    images,
    labels: Int32Array.from({ length: n }, (_, i) => i % 3),
    coarseLabels: Int32Array.from({ length: n }, (_, i) => i % 2),
    numClasses: 3,
    imageSize: S,
    channels: 3,
    classNames: ['a', 'b', 'c'],
    synthetic: true,
    mean: [0.5, 0.25, 0.125],
    std: [0.5, 0.25, 0.2],
  };
}

const px = (ds: ImageDataset, i: number, y: number, x: number, c: number) =>
  ds.images[((i * ds.imageSize + y) * ds.imageSize + x) * 3 + c];
const norm = (ds: ImageDataset, v: number, c: number) => (v / 255 - ds.mean[c]) / ds.std[c];

describe('prepareBatch', () => {
  it('normalises with the dataset mean/std (golden values) and keeps labels', () => {
    const ds = tinyDataset(4, 8);
    const b = prepareBatch(ds, [2, 0], { augment: null, targetSize: 8, rng: new Rng(1) });
    expect(b.shape).toEqual([2, 8, 8, 3]);
    expect(Array.from(b.labels)).toEqual([2, 0]);
    expect(Array.from(b.coarse!)).toEqual([0, 0]);
    // image 2, (y=1, x=3, c=1): value 100 + 8 + 6 + 1 = 115 → (115/255 − 0.25)/0.25
    expect(b.x[((0 * 8 + 1) * 8 + 3) * 3 + 1]).toBeCloseTo((115 / 255 - 0.25) / 0.25, 5);
    // image 0, (0, 0, 2): value 2 → (2/255 − 0.125)/0.2 = −0.585784...
    expect(b.x[(64 + 0) * 3 + 2]).toBeCloseTo(-0.5857843, 5);
  });

  it('random crop shifts the content and fills the padding with zeros (the normalised mean)', () => {
    const ds = tinyDataset(1, 8);
    const S = 8;
    let sawShift = false;
    for (let seed = 0; seed < 20; seed++) {
      // replay the rng to know the offsets drawn: dx, dy in −pad..pad, drawn in that order
      const probe = new Rng(seed);
      const dx = probe.below(5) - 2;
      const dy = probe.below(5) - 2;
      const b = prepareBatch(ds, [0], { augment: { cropPadding: 2, flip: false }, targetSize: S, rng: new Rng(seed) });
      for (let y = 0; y < S; y++)
        for (let x = 0; x < S; x++)
          for (let c = 0; c < 3; c++) {
            const sy = y + dy;
            const sx = x + dx;
            const want = sy < 0 || sy >= S || sx < 0 || sx >= S ? 0 : norm(ds, px(ds, 0, sy, sx, c), c);
            expect(b.x[(y * S + x) * 3 + c]).toBeCloseTo(want, 5);
          }
      if (dx !== 0 || dy !== 0) sawShift = true;
    }
    expect(sawShift).toBe(true);
  });

  it('a crop by +2 in x puts zeros in the last two columns', () => {
    const ds = tinyDataset(1, 8);
    // find a seed whose first draw gives dx = +2 and second dy = 0
    let seed = 0;
    for (; seed < 1000; seed++) {
      const r = new Rng(seed);
      if (r.below(5) === 4 && r.below(5) === 2) break;
    }
    const b = prepareBatch(ds, [0], { augment: { cropPadding: 2, flip: false }, targetSize: 8, rng: new Rng(seed) });
    for (let y = 0; y < 8; y++) {
      expect(b.x[(y * 8 + 6) * 3]).toBe(0);
      expect(b.x[(y * 8 + 7) * 3]).toBe(0);
      expect(b.x[(y * 8 + 0) * 3]).toBeCloseTo(norm(ds, px(ds, 0, y, 2, 0), 0), 5);
    }
  });

  it('flip mirrors the image horizontally', () => {
    const ds = tinyDataset(1, 8);
    let flips = 0;
    for (let seed = 0; seed < 16; seed++) {
      const mirrored = new Rng(seed).next() < 0.5;
      const b = prepareBatch(ds, [0], { augment: { cropPadding: 0, flip: true }, targetSize: 8, rng: new Rng(seed) });
      const sx = mirrored ? 8 - 1 - 2 : 2;
      expect(b.x[(3 * 8 + 2) * 3 + 1]).toBeCloseTo(norm(ds, px(ds, 0, 3, sx, 1), 1), 5);
      if (mirrored) flips++;
    }
    expect(flips).toBeGreaterThan(0);
    expect(flips).toBeLessThan(16);
  });

  it('is deterministic given the rng, and different for another seed', () => {
    const ds = tinyDataset(6, 8);
    const aug = { cropPadding: 2, flip: true };
    const a = prepareBatch(ds, [0, 1, 2, 3, 4, 5], { augment: aug, targetSize: 8, rng: new Rng(7) });
    const b = prepareBatch(ds, [0, 1, 2, 3, 4, 5], { augment: aug, targetSize: 8, rng: new Rng(7) });
    const c = prepareBatch(ds, [0, 1, 2, 3, 4, 5], { augment: aug, targetSize: 8, rng: new Rng(8) });
    expect(Array.from(a.x)).toEqual(Array.from(b.x));
    expect(Array.from(a.x)).not.toEqual(Array.from(c.x));
  });

  it('resizes 32 → 36 bilinearly with half-pixel centres (hand-computed value)', () => {
    const ds = tinyDataset(1, 32);
    ds.images = ds.images.map((_, i) => (i * 37) % 256);
    const b = prepareBatch(ds, [0], { augment: null, targetSize: 36, rng: new Rng(0) });
    expect(b.shape).toEqual([1, 36, 36, 3]);
    // output (y=10, x=20): source y = 10.5·32/36 − 0.5 = 8.8333, x = 20.5·32/36 − 0.5 = 17.7222
    const fy = 10.5 * (32 / 36) - 0.5;
    const fx = 20.5 * (32 / 36) - 0.5;
    const wy = fy - 8;
    const wx = fx - 17;
    for (let c = 0; c < 3; c++) {
      const v = (y: number, x: number) => norm(ds, px(ds, 0, y, x, c), c);
      const want = (1 - wy) * ((1 - wx) * v(8, 17) + wx * v(8, 18)) + wy * ((1 - wx) * v(9, 17) + wx * v(9, 18));
      expect(b.x[(10 * 36 + 20) * 3 + c]).toBeCloseTo(want, 4);
    }
    // the corner samples source −0.0556, clamped to pixel 0
    expect(b.x[0]).toBeCloseTo(norm(ds, px(ds, 0, 0, 0, 0), 0), 5);
    expect(b.x[(35 * 36 + 35) * 3 + 2]).toBeCloseTo(norm(ds, px(ds, 0, 31, 31, 2), 2), 5);
  });

  it('resizeBilinear: 2×2 → 4×4 golden values (PyTorch align_corners=False)', () => {
    // torch.nn.functional.interpolate([[1,2],[3,4]], size=4, mode='bilinear', align_corners=False) row 1:
    // [1.5, 1.75, 2.25, 2.5]
    const out = resizeBilinear(Float32Array.from([1, 2, 3, 4]), 2, 2, 1, 4, 4);
    expect(Array.from(out.slice(0, 4))).toEqual([1, 1.25, 1.75, 2]);
    expect(Array.from(out.slice(4, 8))).toEqual([1.5, 1.75, 2.25, 2.5]);
    expect(Array.from(out.slice(12, 16))).toEqual([3, 3.25, 3.75, 4]);
  });

  it('rejects out-of-range indices and bad padding', () => {
    const ds = tinyDataset(2, 8);
    expect(() => prepareBatch(ds, [2], { augment: null, targetSize: 8, rng: new Rng(0) })).toThrow(
      'batch index 2 is outside tiny train (0..1)',
    );
    expect(() =>
      prepareBatch(ds, [0], { augment: { cropPadding: -1, flip: false }, targetSize: 8, rng: new Rng(0) }),
    ).toThrow('cropPadding -1');
  });
});

describe('epochOrder', () => {
  it('is a permutation, deterministic from the seed', () => {
    const a = epochOrder(100, new Rng(3));
    const b = epochOrder(100, new Rng(3));
    const c = epochOrder(100, new Rng(4));
    expect(Array.from(a)).toEqual(Array.from(b));
    expect(Array.from(a)).not.toEqual(Array.from(c));
    expect(Array.from(a).sort((x, y) => x - y)).toEqual(Array.from({ length: 100 }, (_, i) => i));
  });
});
