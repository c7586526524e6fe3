import { describe, it, expect, beforeAll } from 'vitest';
import * as tf from '@tensorflow/tfjs';
import { initBackend } from '../src/backend';
import { dropout } from '../src/nn/layers';
import { dropoutMask, hasKernel } from '../src/nn/fused';
import { FUSED, nativeStatus } from '../src/backend/native';
import { makeCtx } from '../src/nn/module';
import { Rng, aleaUniform, dropoutMultiplier } from '../src/util/rng';

/**
 * The kit builds dropout masks itself (one pass in JS) instead of calling tf.dropout, for speed; these tests hold it
 * to tf.dropout's values bit for bit, so that no run changes: the same uniform stream as tf.randomUniform for a
 * seed, the same multiplier floor(u + keep) / keep, the same layer output and gradient.
 */
const SEEDS = [0, 1, 7, 123456789, 2147483647, -5];
const bits = (a: ArrayLike<number>) => Array.from(new Uint32Array(Float32Array.from(a).buffer));

describe('dropout masks equal tf.dropout bit for bit', () => {
  beforeAll(async () => {
    await initBackend('cpu');
  });

  it('aleaUniform(seed, n) is tf.randomUniform([n], 0, 1, float32, seed)', () => {
    for (const seed of SEEDS) {
      const ref = tf.tidy(() => tf.randomUniform([1000], 0, 1, 'float32', seed).dataSync());
      expect(bits(aleaUniform(seed, 1000)), `seed ${seed}`).toEqual(bits(ref));
    }
    // string seeds are hashed the same way, and different seeds give different streams
    const s = tf.tidy(() => tf.randomUniform([50], 0, 1, 'float32', 'abc' as unknown as number).dataSync());
    expect(bits(aleaUniform('abc', 50))).toEqual(bits(s));
    expect(bits(aleaUniform(1, 50))).not.toEqual(bits(aleaUniform(2, 50)));
  });

  for (const backend of ['cpu', 'wasm'] as const) {
    it(`dropoutMultiplier is tf.dropout(ones)'s multiplier on ${backend}, for rates 0.05–0.9`, async () => {
      await initBackend(backend);
      for (const rate of [0.05, 0.1, 1 / 3, 0.5, 0.9]) {
        for (const seed of SEEDS) {
          const ref = tf.tidy(() => tf.dropout(tf.ones([3, 7, 11]), rate, undefined, seed).dataSync());
          const got = dropoutMultiplier(seed, 3 * 7 * 11, rate);
          expect(bits(got), `rate ${rate} seed ${seed}`).toEqual(bits(ref));
          // the layers' path: the native kernel on wasm when it is built, else the same JS values
          const fused = tf.tidy(() => dropoutMask([3, 7, 11], seed, rate).dataSync());
          expect(bits(fused), `dropoutMask rate ${rate} seed ${seed}`).toEqual(bits(ref));
          // the rate is what is dropped (a loose check that the mask is not all ones or all zeros)
          const dropped = got.filter((v) => v === 0).length / got.length;
          expect(Math.abs(dropped - rate)).toBeLessThan(0.12);
        }
      }
      // a long stream (drift in the recurrence would show late) and an empty one
      const long = tf.tidy(() => tf.dropout(tf.ones([200_000]), 0.1, undefined, 99).dataSync());
      expect(bits(tf.tidy(() => dropoutMask([200_000], 99, 0.1).dataSync()))).toEqual(bits(long));
      expect(tf.tidy(() => dropoutMask([0, 4], 99, 0.1).shape)).toEqual([0, 4]);
      if (backend === 'wasm') expect(hasKernel(FUSED.dropoutMask)).toBe(nativeStatus().enabled);
      await initBackend('cpu');
    });
  }

  it("the layer's dropout equals tf.dropout with the seed it draws, forward and gradient", () => {
    const x = tf.randomNormal([4, 9, 6], 0, 1, 'float32', 3);
    const dy = tf.randomNormal([4, 9, 6], 0, 1, 'float32', 4);
    const seed = new Rng(42).int(); // makeCtx({ seed: 42 }) draws this first
    const ours = tf.grad((t: tf.Tensor) =>
      dropout(t, 0.3, makeCtx({ training: true, seed: 42 }))
        .mul(dy)
        .sum(),
    );
    const theirs = tf.grad((t: tf.Tensor) => tf.dropout(t, 0.3, undefined, seed).mul(dy).sum());
    expect(bits(dropout(x, 0.3, makeCtx({ training: true, seed: 42 })).dataSync())).toEqual(
      bits(tf.dropout(x, 0.3, undefined, seed).dataSync()),
    );
    expect(bits(ours(x).dataSync())).toEqual(bits(theirs(x).dataSync()));
    // evaluation and rate 0 pass x through; rate 1 is refused with the value named
    expect(dropout(x, 0.3, makeCtx({ training: false }))).toBe(x);
    expect(dropout(x, 0, makeCtx({ training: true, seed: 1 }))).toBe(x);
    expect(() => dropout(x, 1, makeCtx({ training: true, seed: 1 }))).toThrow(/dropout rate 1; expected .*\[0, 1\)/);
  });
});
