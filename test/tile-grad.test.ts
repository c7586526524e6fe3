import { describe, it, expect } from 'vitest';
import * as tf from '@tensorflow/tfjs';
import '../src/nn/fused';

/**
 * The Tile gradient installed by src/nn/fused.ts (one reshape + one sum) against a direct JS loop: every element of
 * dy is added to the x element it was copied from. Ranks 1–5, reps of 1 and more, on the cpu backend.
 */
function expected(xShape: number[], reps: number[], dy: Float32Array): Float32Array {
  const outShape = xShape.map((d, i) => d * reps[i]);
  const out = new Float32Array(xShape.reduce((a, b) => a * b, 1));
  const idx = new Array(outShape.length).fill(0);
  for (let f = 0; f < dy.length; f++) {
    let rem = f;
    for (let d = outShape.length - 1; d >= 0; d--) {
      idx[d] = rem % outShape[d];
      rem = Math.floor(rem / outShape[d]);
    }
    let src = 0;
    for (let d = 0; d < xShape.length; d++) src = src * xShape[d] + (idx[d] % xShape[d]);
    out[src] += dy[f];
  }
  return out;
}

describe('Tile gradient', () => {
  it('matches the copy-by-copy sum for ranks 1–5', async () => {
    await tf.setBackend('cpu');
    const cases: Array<[number[], number[]]> = [
      [[3], [4]],
      [[1, 1, 8], [5, 1, 1]],
      [[2, 3], [3, 2]],
      [[2, 1, 3, 2], [1, 4, 2, 3]],
      [[2, 2, 1, 3, 2], [2, 1, 3, 1, 2]],
    ];
    for (const [shape, reps] of cases) {
      const x = tf.randomNormal(shape, 0, 1, 'float32', 1);
      const outShape = shape.map((d, i) => d * reps[i]);
      const w = tf.randomNormal(outShape, 0, 1, 'float32', 2);
      const g = tf.grad((t: tf.Tensor) => tf.tile(t, reps).mul(w).sum())(x);
      expect(g.shape).toEqual(shape);
      const want = expected(shape, reps, w.dataSync() as Float32Array);
      const got = g.dataSync();
      for (let i = 0; i < want.length; i++) expect(got[i]).toBeCloseTo(want[i], 4);
      tf.dispose([x, w, g]);
    }
  });
});
