import { describe, it, expect } from 'vitest';
import * as tf from '@tensorflow/tfjs';
import '../src/nn/fused';

/**
 * The gradients src/nn/fused.ts installs in place of tfjs's, on the cpu backend: Tile (one reshape + one sum) against
 * a direct JS loop, every element of dy added to the x element it was copied from (ranks 1–5, reps of 1 and more);
 * Sum and Mean (a broadcast of dy) against dy copied over the reduced axes (÷ the reduced size for Mean).
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
      [
        [1, 1, 8],
        [5, 1, 1],
      ],
      [
        [2, 3],
        [3, 2],
      ],
      [
        [2, 1, 3, 2],
        [1, 4, 2, 3],
      ],
      [
        [2, 2, 1, 3, 2],
        [2, 1, 3, 1, 2],
      ],
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

  it('Sum and Mean: dy spread over the reduced axes (any axes, keepDims, negative axes, all axes)', async () => {
    await tf.setBackend('cpu');
    const cases: Array<[number[], number[] | number | undefined, boolean]> = [
      [[4, 5, 3], [1], false],
      [[4, 5, 3], [0, 2], true],
      [[2, 3, 4, 5], -1, false],
      [[6, 7], undefined, false],
    ];
    for (const [shape, axis, keep] of cases) {
      const x = tf.randomNormal(shape, 0, 1, 'float32', 5);
      for (const op of ['sum', 'mean'] as const) {
        const reduced = tf.tidy(() => (op === 'sum' ? x.sum(axis, keep) : x.mean(axis, keep)));
        const w = tf.randomNormal(reduced.shape, 0, 1, 'float32', 6);
        const g = tf.grad((t: tf.Tensor) => (op === 'sum' ? t.sum(axis, keep) : t.mean(axis, keep)).mul(w).sum())(x);
        const axes = axis === undefined ? shape.map((_, i) => i) : tf.util.parseAxisParam(axis, shape);
        const n = op === 'mean' ? axes.reduce((a, d) => a * shape[d], 1) : 1;
        const wv = w.dataSync();
        const outShape = shape.map((d, i) => (axes.includes(i) ? 1 : d));
        const got = g.dataSync();
        expect(g.shape).toEqual(shape);
        for (let f = 0; f < got.length; f++) {
          let rem = f;
          let src = 0;
          let stride = 1;
          for (let d = shape.length - 1; d >= 0; d--) {
            const c = rem % shape[d];
            rem = Math.floor(rem / shape[d]);
            if (!axes.includes(d)) src += c * stride;
            stride *= outShape[d];
          }
          expect(got[f]).toBeCloseTo(wv[src] / n, 5);
        }
        tf.dispose([reduced, w, g]);
      }
      x.dispose();
    }
  });
});
