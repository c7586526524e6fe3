import { describe, it, expect } from 'vitest';
import { evalBatch, evalBatches } from '../src/data/eval-batches';
import { prepareBatch } from '../src/data/augment';
import type { ImageDataset } from '../src/data/types';
import { Rng } from '../src/util/rng';

function tinyDataset(n: number, S: number): ImageDataset {
  const images = new Uint8Array(n * S * S * 3).map((_, i) => (i * 7) % 256);
  return {
    name: 'tiny',
    split: 'test',
    images,
    labels: Int32Array.from({ length: n }, (_, i) => i % 4),
    numClasses: 4,
    imageSize: S,
    channels: 3,
    classNames: ['a', 'b', 'c', 'd'],
    synthetic: true,
    mean: [0.5, 0.5, 0.5],
    std: [0.25, 0.25, 0.25],
  };
}

const model = { config: { imageSize: 6 } };

describe('evalBatches', () => {
  it('walks the first maxImages images in order, in batches of batchSize', () => {
    const ds = tinyDataset(10, 4);
    const batches = [...evalBatches(model, ds, { maxImages: 7, batchSize: 3 })];
    expect(batches.map((b) => Array.from(b.indices))).toEqual([[0, 1, 2], [3, 4, 5], [6]]);
    expect(batches.map((b) => Array.from(b.labels))).toEqual([[0, 1, 2], [3, 0, 1], [2]]);
    expect(batches[0].shape).toEqual([3, 6, 6, 3]);
  });

  it('all images when maxImages is 0 or absent; the order given when there is one', () => {
    const ds = tinyDataset(5, 4);
    expect([...evalBatches(model, ds, { maxImages: 0 })].map((b) => b.indices.length)).toEqual([5]);
    const picked = [...evalBatches(model, ds, { order: [4, 1, 3], batchSize: 2 })];
    expect(picked.map((b) => Array.from(b.indices))).toEqual([[4, 1], [3]]);
  });

  it('a batch is the un-augmented pipeline output for its images', () => {
    const ds = tinyDataset(5, 4);
    const want = prepareBatch(ds, [2, 3], { augment: null, targetSize: 6, rng: new Rng(99) });
    expect(Array.from(evalBatch(model, ds, [2, 3]).x)).toEqual(Array.from(want.x));
    const [b] = evalBatches(model, ds, { order: [2, 3] });
    expect(Array.from(b.x)).toEqual(Array.from(want.x));
  });

  it('a centre crop when evalCropFraction is set', () => {
    const ds = tinyDataset(2, 8);
    const crop = prepareBatch(ds, [0], {
      augment: { cropPadding: 0, flip: false, evalCropFraction: 0.5 },
      targetSize: 6,
      rng: new Rng(0),
    });
    const plain = evalBatch(model, ds, [0]);
    const cropped = evalBatch(model, ds, [0], { evalCropFraction: 0.5 });
    expect(Array.from(cropped.x)).toEqual(Array.from(crop.x));
    expect(Array.from(cropped.x)).not.toEqual(Array.from(plain.x));
  });

  it('refuses a batch size that is not a positive integer', () => {
    expect(() => [...evalBatches(model, tinyDataset(2, 4), { batchSize: 0 })]).toThrow(/batchSize 0/);
  });
});
