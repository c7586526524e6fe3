import { describe, it, expect } from 'vitest';
import { holdoutSplit } from '../src/data/split';
import type { ImageDataset } from '../src/data/types';
import { DataError } from '../src/util/errors';

/**
 * n images of 2×2×3 whose first byte is the image's index (mod 256) and second byte its index / 256, so every image
 * can be traced back; labels by `label(i)`, coarse labels label(i) mod 3.
 */
function dataset(n: number, label: (i: number) => number, split: ImageDataset['split'] = 'train'): ImageDataset {
  const images = new Uint8Array(n * 12);
  const labels = new Int32Array(n);
  const coarseLabels = new Int32Array(n);
  for (let i = 0; i < n; i++) {
    images[i * 12] = i % 256;
    images[i * 12 + 1] = Math.floor(i / 256);
    labels[i] = label(i);
    coarseLabels[i] = label(i) % 3;
  }
  return {
    name: 'toy',
    split,
    images,
    labels,
    coarseLabels,
    numClasses: 10,
    numCoarse: 3,
    imageSize: 2,
    channels: 3,
    classNames: [],
    synthetic: true,
    mean: [0.5, 0.5, 0.5],
    std: [0.25, 0.25, 0.25],
  };
}

const ids = (ds: ImageDataset) =>
  Array.from({ length: ds.labels.length }, (_, k) => ds.images[k * 12] + 256 * ds.images[k * 12 + 1]);

describe('holdoutSplit', () => {
  // unbalanced classes: class c has 20 + 10·c images, interleaved
  const sizes = Array.from({ length: 10 }, (_, c) => 20 + 10 * c);
  const labelsOf: number[] = [];
  for (let round = 0; labelsOf.length < sizes.reduce((a, b) => a + b, 0); round++) {
    for (let c = 0; c < 10; c++) if (round < sizes[c]) labelsOf.push(c);
  }
  const ds = dataset(labelsOf.length, (i) => labelsOf[i]);

  it('is disjoint and covering, keeps order, labels and coarse labels, and marks val as val', () => {
    const { train, val } = holdoutSplit(ds, { fraction: 0.2, seed: 7 });
    expect(val.split).toBe('val');
    expect(train.split).toBe('train');
    const t = ids(train);
    const v = ids(val);
    expect(t.length + v.length).toBe(ds.labels.length);
    expect(new Set([...t, ...v]).size).toBe(ds.labels.length);
    expect([...t].sort((a, b) => a - b)).toEqual(t); // input order kept
    expect([...v].sort((a, b) => a - b)).toEqual(v);
    for (const [part, list] of [
      [train, t],
      [val, v],
    ] as const) {
      list.forEach((id, k) => {
        expect(part.labels[k]).toBe(labelsOf[id]);
        expect(part.coarseLabels![k]).toBe(labelsOf[id] % 3);
      });
      expect(part.images.length).toBe(list.length * 12);
      expect(part.numClasses).toBe(10);
      expect(part.numCoarse).toBe(3);
    }
  });

  it('is stratified: each class gives round(fraction · count) images', () => {
    const { val } = holdoutSplit(ds, { fraction: 0.2, seed: 7 });
    const counts = new Array(10).fill(0);
    for (const y of val.labels) counts[y]++;
    expect(counts).toEqual(sizes.map((s) => Math.round(0.2 * s)));
    // default fraction 0.1
    const d = holdoutSplit(ds).val;
    expect(d.labels.length).toBe(sizes.reduce((a, s) => a + Math.round(0.1 * s), 0));
  });

  it('is deterministic for a seed, and another seed draws other images', () => {
    const a = ids(holdoutSplit(ds, { fraction: 0.1, seed: 1 }).val);
    const b = ids(holdoutSplit(ds, { fraction: 0.1, seed: 1 }).val);
    const c = ids(holdoutSplit(ds, { fraction: 0.1, seed: 2 }).val);
    expect(a).toEqual(b);
    expect(c).not.toEqual(a);
    // not simply the first images of each class
    const firsts = ids(holdoutSplit(ds, { fraction: 0.1, seed: 1 }).val).every((id) => id < 100);
    expect(firsts).toBe(false);
  });

  it('keeps at least one image of every class in train', () => {
    const small = dataset(6, (i) => i % 3); // 2 images per class
    const { train, val } = holdoutSplit(small, { fraction: 0.9, seed: 0 });
    expect(new Set(train.labels).size).toBe(3);
    expect(val.labels.length).toBe(3);
  });

  it('refuses bad fractions, test splits and splits that leave val empty, naming the value', () => {
    expect(() => holdoutSplit(ds, { fraction: 0 })).toThrow('holdoutSplit fraction 0; expected a number in (0, 1)');
    expect(() => holdoutSplit(ds, { fraction: 1 })).toThrow(DataError);
    expect(() => holdoutSplit(ds, { fraction: Number.NaN })).toThrow('fraction NaN');
    expect(() => holdoutSplit(ds, { seed: 0.5 })).toThrow('holdoutSplit seed 0.5; expected an integer');
    expect(() => holdoutSplit(dataset(10, () => 0, 'test'))).toThrow(
      "holdoutSplit of toy's 'test' split; expected a 'train' split (validation data is never taken from the test set)",
    );
    expect(() =>
      holdoutSplit(
        dataset(10, (i) => i),
        { fraction: 0.1 },
      ),
    ).toThrow('leaves no validation image');
  });
});
