import type { ImageDataset } from '../../src/data/types';
import { Rng } from '../../src/util/rng';

/**
 * A tiny in-memory dataset whose label is easy to learn from pixels: class c images have one colour channel
 * (c mod 3) brighter, and c ≥ 3 is brighter overall, on noise. For trainer tests that must not depend on dataset files.
 */
export function tinyDataset(n = 64, size = 8, numClasses = 4, seed = 1): ImageDataset {
  const rng = new Rng(seed);
  const images = new Uint8Array(n * size * size * 3);
  const labels = new Int32Array(n);
  for (let i = 0; i < n; i++) {
    const c = i % numClasses;
    labels[i] = c;
    for (let y = 0; y < size; y++)
      for (let x = 0; x < size; x++)
        for (let ch = 0; ch < 3; ch++) {
          const base = (c >= 3 ? 60 : 0) + (ch === c % 3 ? 120 : 0);
          images[((i * size + y) * size + x) * 3 + ch] = base + rng.below(70);
        }
  }
  return {
    name: 'tiny',
    split: 'train',
    images,
    labels,
    numClasses,
    imageSize: size,
    channels: 3,
    classNames: Array.from({ length: numClasses }, (_, i) => `q${i}`),
    synthetic: true,
    mean: [0.5, 0.5, 0.5],
    std: [0.25, 0.25, 0.25],
  };
}
