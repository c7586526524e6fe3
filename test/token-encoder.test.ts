import { describe, it, expect, beforeAll } from 'vitest';
import * as tf from '@tensorflow/tfjs';
import { initBackend } from '../src/backend';
import { createModel } from '../src/models';
import { makeCtx } from '../src/nn/module';
import { LayerNorm } from '../src/nn/layers';
import { TokenEncoder, attentionResidual } from '../src/models/token-encoder';
import type { MaeVitConfig } from '../src/models/mae';

const values = (t: tf.Tensor) => Array.from(t.dataSync());

beforeAll(async () => {
  await initBackend('cpu');
});

describe('attentionResidual: the two block orders', () => {
  const x = tf.tensor3d([
    [
      [1, 2, 3, 6],
      [0, -1, 4, 1],
    ],
  ]);
  const norm = new LayerNorm(4, 1e-5).build(0);
  const double = (xn: tf.Tensor3D) => xn.mul(2) as tf.Tensor3D;

  it("'pre-norm' is x + f(LN(x))", () => {
    const want = values(x.add(norm.forward(x).mul(2)));
    expect(values(attentionResidual('pre-norm', x, norm, double))).toEqual(want);
  });

  it("'ln-then-residual' restarts the residual stream from LN(x): LN(x) + f(LN(x))", () => {
    const want = values(norm.forward(x).mul(3));
    const got = values(attentionResidual('ln-then-residual', x, norm, double));
    got.forEach((v, i) => expect(v).toBeCloseTo(want[i], 6));
    expect(got).not.toEqual(values(attentionResidual('pre-norm', x, norm, double)));
  });
});

describe('MaeVit and Mlit share one token encoder', () => {
  it('both are TokenEncoders: class token last, equal to its position row (+ the projection bias when present)', () => {
    const cases: Array<[string, Record<string, unknown>]> = [
      ['mae-vit-test', {}],
      ['mae-vit-test', { patchBias: true }],
      ['mlit-test', {}],
    ];
    for (const [name, over] of cases) {
      const m = createModel(name, over, { seed: 3 });
      expect(m).toBeInstanceOf(TokenEncoder);
      const enc = m as unknown as TokenEncoder<MaeVitConfig>;
      const c = enc.config;
      const patches = tf.randomNormal(
        [2, enc.numPatches, c.inChannels * c.patchSize ** 2],
        0,
        1,
        'float32',
        4,
      ) as tf.Tensor3D;
      const t = enc.embed(patches, null, makeCtx({ training: false }));
      expect(t.shape).toEqual([2, enc.numPatches + 1, c.embedDim]);
      const clsRow = enc.posEmbed.value.slice([enc.numPatches, 0], [1, c.embedDim]);
      const want = values(enc.patchEmbed.bias ? clsRow.add(enc.patchEmbed.bias.value) : clsRow);
      for (const b of [0, 1]) {
        values(t.slice([b, enc.numPatches, 0], [1, 1, c.embedDim])).forEach((v, i) =>
          expect(v).toBeCloseTo(want[i], 6),
        );
      }
      // the first patch token is Proj(patch 0) + PosEmbed(0), not the class token
      expect(values(t.slice([0, 0, 0], [1, 1, c.embedDim]))).not.toEqual(want);
      tf.dispose([patches, t]);
      m.dispose();
    }
  });

  it(
    'positions pick position rows: encoding visible patches at their indices equals slicing the full encoding ' +
      'input',
    () => {
      const m = createModel('mlit-test', {}, { seed: 5 }) as unknown as TokenEncoder<MaeVitConfig>;
      const c = m.config;
      const n = m.numPatches;
      const patches = tf.randomNormal([1, n, c.inChannels * c.patchSize ** 2], 0, 1, 'float32', 6) as tf.Tensor3D;
      const ctx = makeCtx({ training: false });
      const full = m.embed(patches, null, ctx, { withClass: false });
      const idx = [n - 1, 0];
      const picked = m.embed(tf.gather(patches, idx, 1) as tf.Tensor3D, tf.tensor2d([idx], [1, 2], 'int32'), ctx, {
        withClass: false,
      });
      const want = values(tf.gather(full, idx, 1));
      values(picked).forEach((v, i) => expect(v).toBeCloseTo(want[i], 5));
      m.dispose();
    },
  );
});
