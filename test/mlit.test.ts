import { describe, it, expect, beforeAll } from 'vitest';
import * as tf from '@tensorflow/tfjs';
import { initBackend } from '../src/backend';
import { createModel, getModelEntry } from '../src/models';
import {
  type Mlit,
  type MlitConfig,
  depthwiseHidden,
  stagedExperts,
  mlitClosedFormMacs,
  mlitParamBudget,
} from '../src/models/mlit';
import { countMacs } from '../src/analysis/count';
import { makeCtx } from '../src/nn/module';
import { ConfigError } from '../src/util/errors';

beforeAll(async () => {
  await initBackend('wasm');
});

/** docs/mlit.md §2.1: variant, input, patch, params (10 classes), params (100 classes), MAE-only extras, GMACs. */
const TABLE: Array<[string, number, number, number, number, number, number]> = [
  ['mlit-xxs', 32, 2, 660_023, 669_833, 11_772, 0.291],
  ['mlit-xxs', 36, 2, 667_367, 677_177, 11_772, 0.411],
  ['mlit-xxs', 36, 3, 649_547, 659_357, 11_772, 0.133],
  ['mlit-xxs', 36, 4, 645_011, 654_821, 11_772, 0.065],
  ['mlit-xs', 32, 2, 1_211_446, 1_223_056, 16_512, 0.507],
  ['mlit-xs', 36, 3, 1_199_030, 1_210_640, 16_512, 0.236],
  ['mlit-xs', 36, 4, 1_193_654, 1_205_264, 16_512, 0.118],
  ['mlit-s', 32, 2, 2_367_120, 2_380_170, 20_880, 0.886],
  ['mlit-s', 36, 3, 2_353_152, 2_366_202, 20_880, 0.43],
  ['mlit-s', 36, 4, 2_347_104, 2_360_154, 20_880, 0.221],
];

describe('mLiT parameter counts: every row of the docs/mlit.md §2.1 table', () => {
  for (const [name, img, p, p10, p100, extras] of TABLE) {
    it(`${name} ${img}×${img} / patch ${p}: ${p10} (10 classes), ${p100} (100 classes), +${extras} MAE-only`, () => {
      const fam = getModelEntry(name).family;
      const m10 = createModel(name, { imageSize: img, patchSize: p, numClasses: 10 }, { build: false });
      const m100 = createModel(name, { imageSize: img, patchSize: p, numClasses: 100 }, { build: false });
      const mae = createModel(
        name,
        { imageSize: img, patchSize: p, numClasses: 10, maeExtras: true },
        { build: false },
      );
      expect(m10.paramCount()).toBe(p10);
      expect(m100.paramCount()).toBe(p100);
      expect(mae.paramCount() - p10).toBe(extras);
      expect(fam.closedFormParams!(m10.config)).toBe(p10);
      expect(fam.closedFormParams!(m100.config)).toBe(p100);
      expect(fam.closedFormParams!(mae.config)).toBe(p10 + extras);
    });
  }

  it('the defaults of mlit-xxs are the 36×36 / patch 3 / 10-class row (649,547)', () => {
    expect(createModel('mlit-xxs', {}, { build: false }).paramCount()).toBe(649_547);
  });
});

describe('mLiT MACs', () => {
  it('closed form is within 1% of the table for every row', () => {
    for (const [name, img, p, , , , gmacs] of TABLE) {
      const c = createModel(name, { imageSize: img, patchSize: p }, { build: false }).config as MlitConfig;
      const got = mlitClosedFormMacs(c) / 1e9;
      expect(Math.abs(got - gmacs) / gmacs, `${name} ${img}/${p}: ${got} vs ${gmacs} G`).toBeLessThan(0.01);
    }
  });

  it('countMacs on the built model equals the closed form (xxs 36/3 and xs 36/4)', () => {
    for (const [name, img, p] of [
      ['mlit-xxs', 36, 3],
      ['mlit-xs', 36, 4],
    ] as const) {
      const m = createModel(name, { imageSize: img, patchSize: p });
      const r = countMacs(m);
      expect(r.macs).toBe(mlitClosedFormMacs(m.config as MlitConfig));
      // attention matmuls: 2·T²·m per block
      const T = (img / p) ** 2 + 1;
      const c = m.config as MlitConfig;
      expect(r.byKind.attention).toBe(c.depth * 2 * T * T * c.embedDim);
      m.dispose();
    }
  });
});

describe('mLiT schedules (docs/mlit.md §2.2)', () => {
  it('depth-wise hidden sizes', () => {
    expect(depthwiseHidden(9, 81, 27)).toEqual([81, 74, 67, 60, 54, 47, 40, 33, 27]);
    expect(depthwiseHidden(12, 96, 32)).toEqual([96, 90, 84, 78, 72, 66, 61, 55, 49, 43, 37, 32]);
    expect(depthwiseHidden(15, 144, 72)).toEqual([144, 138, 133, 128, 123, 118, 113, 108, 102, 97, 92, 87, 82, 77, 72]);
  });

  it('experts in stages of ceil(L/3) blocks: 3, 4, 5', () => {
    expect(stagedExperts(9, 3)).toEqual([3, 3, 3, 4, 4, 4, 5, 5, 5]);
    expect(stagedExperts(12, 3)).toEqual([3, 3, 3, 3, 4, 4, 4, 4, 5, 5, 5, 5]);
    expect(stagedExperts(15, 3)).toEqual([3, 3, 3, 3, 3, 4, 4, 4, 4, 4, 5, 5, 5, 5, 5]);
    expect(stagedExperts(7, 3)).toEqual([3, 3, 3, 4, 4, 4, 5]);
    const m = createModel('mlit-s', {}, { build: false }) as Mlit;
    expect(m.expertCounts).toEqual(stagedExperts(15, 3));
    expect(m.hiddenSizes).toEqual(depthwiseHidden(15, 144, 72));
  });

  it('active parameters: XXS without the private W_e of the E − k idle experts', () => {
    const m = createModel('mlit-xxs', {}, { build: false });
    // idle experts per block: 1,1,1,2,2,2,3,3,3; each idle W_e is 108·h + h
    const idle = [1, 1, 1, 2, 2, 2, 3, 3, 3].reduce(
      (s, n, i) => s + n * (109 * [81, 74, 67, 60, 54, 47, 40, 33, 27][i]),
      0,
    );
    expect(m.activeParamCount()).toBe(649_547 - idle);
    const k1 = createModel('mlit-xxs', { topK: 1 }, { build: false });
    expect(k1.activeParamCount()).toBeLessThan(m.activeParamCount());
    expect(k1.paramCount()).toBe(649_547);
  });

  it('private V/W2 cost (E − 1)·(2·m·h + h + m) per block more', () => {
    const shared = createModel('mlit-xxs', {}, { build: false }).paramCount();
    const priv = createModel('mlit-xxs', { shareVW2: false }, { build: false }).paramCount();
    const hs = [81, 74, 67, 60, 54, 47, 40, 33, 27];
    const es = [3, 3, 3, 4, 4, 4, 5, 5, 5];
    expect(priv - shared).toBe(hs.reduce((s, h, i) => s + (es[i] - 1) * (2 * 108 * h + h + 108), 0));
  });

  it('GQA groups change only the K/V projections: 2·(G·hd)·m per block', () => {
    const g3 = createModel('mlit-xxs', {}, { build: false }).paramCount();
    const g1 = createModel('mlit-xxs', { kvGroups: 1 }, { build: false }).paramCount();
    const g6 = createModel('mlit-xxs', { kvGroups: 6 }, { build: false }).paramCount();
    expect(g3 - g1).toBe(9 * 2 * 2 * 18 * 108);
    expect(g6 - g3).toBe(9 * 2 * 3 * 18 * 108);
  });
});

describe('mLiT parameter budget', () => {
  it('components sum to the model count; private V/W2 and a dense 2× FFN cost more', () => {
    for (const extra of [{}, { shareVW2: false }, { maeExtras: true }]) {
      const m = createModel('mlit-xxs', extra, { build: false });
      expect(mlitParamBudget(m.config as MlitConfig).total).toBe(m.paramCount());
    }
    const b = mlitParamBudget(createModel('mlit-xxs', {}, { build: false }).config as MlitConfig);
    const moe = b.rows.filter((r) => /W_e|V, W2/.test(r.component)).reduce((s, r) => s + r.params, 0);
    const priv = createModel('mlit-xxs', { shareVW2: false }, { build: false }).paramCount() - 649_547;
    expect(b.ffnIfPrivateVW2 - moe).toBe(priv);
    expect(b.ffnIfDense2x).toBe(9 * (4 * 108 * 108 + 3 * 108));
  });
});

describe('mLiT config checks', () => {
  it('errors name the bad values', () => {
    expect(() => createModel('mlit-xxs', { kvGroups: 4 }, { build: false })).toThrow(
      /numHeads=6 is not divisible by kvGroups=4/,
    );
    expect(() => createModel('mlit-xxs', { topK: 4, expertsStart: 3 }, { build: false })).toThrow(
      /3 experts with topK=4/,
    );
    expect(() => createModel('mlit-xxs', { hiddenSizes: [10, 10] }, { build: false })).toThrow(
      /hiddenSizes has 2 entries; expected depth=9/,
    );
    expect(() => createModel('mlit-xxs', { shareVW2: false, moeDispatch: 'fused' }, { build: false })).toThrow(
      ConfigError,
    );
    expect(() => createModel('mlit-xxs', { blockOrder: 'post-norm' }, { build: false })).toThrow(
      /ln-then-residual, pre-norm/,
    );
  });
});

describe('mLiT forward', () => {
  it('logits shape, determinism in evaluation, flat tensor count; training adds one moe_balance loss', () => {
    const m = createModel('mlit-test', {}, { seed: 1 });
    const x = tf.randomUniform([3, 8, 8, 3], -1, 1, 'float32', 2) as tf.Tensor4D;
    const before = tf.memory().numTensors;
    const a = m.forward(x, makeCtx({ training: false }));
    const b = m.forward(x, makeCtx({ training: false }));
    expect(a.shape).toEqual([3, 10]);
    expect(Array.from(a.dataSync())).toEqual(Array.from(b.dataSync()));
    a.dispose();
    b.dispose();
    expect(tf.memory().numTensors).toBe(before);
    const ctx = makeCtx({ training: true, seed: 4 });
    const y = m.forward(x, ctx);
    expect(ctx.aux.map((a) => a.name)).toEqual(['moe_balance']);
    const v = ctx.aux[0].value.dataSync()[0];
    expect(v).toBeGreaterThan(0);
    y.dispose();
    ctx.aux[0].value.dispose();
    expect(tf.memory().numTensors).toBe(before);
    // what forward adds is auxWeight × Σ_layers L_aux: the encoder's own sum under the same noise seed, halved at 0.5
    const mm = m as Mlit;
    const summed = tf.tidy(
      () => mm.encode(mm.patches(x), null, makeCtx({ training: true, seed: 4 })).aux!.dataSync()[0],
    );
    expect(v).toBeCloseTo(summed, 5);
    const half = createModel('mlit-test', { auxWeight: 0.5 }, { seed: 1 });
    const ctxh = makeCtx({ training: true, seed: 4 });
    half.forward(x, ctxh).dispose();
    expect(ctxh.aux[0].value.dataSync()[0]).toBeCloseTo(v / 2, 5);
    ctxh.aux[0].value.dispose();
    half.dispose();
    // auxWeight 0 switches the balancing loss off
    const off = createModel('mlit-test', { auxWeight: 0 }, { seed: 1 });
    const ctx0 = makeCtx({ training: true, seed: 4 });
    off.forward(x, ctx0).dispose();
    expect(ctx0.aux).toHaveLength(0);
    m.dispose();
    off.dispose();
    x.dispose();
  });

  it('auxWeight scales the summed per-layer losses', () => {
    const x = tf.randomUniform([2, 8, 8, 3], -1, 1, 'float32', 5) as tf.Tensor4D;
    const vals = [1, 2.5].map((w) => {
      const m = createModel('mlit-test', { auxWeight: w }, { seed: 1 });
      const ctx = makeCtx({ training: true, seed: 9 });
      m.forward(x, ctx).dispose();
      const v = ctx.aux[0].value.dataSync()[0];
      ctx.aux[0].value.dispose();
      m.dispose();
      return v;
    });
    expect(vals[1] / vals[0]).toBeCloseTo(2.5, 4);
    x.dispose();
  });

  it('the class token is a zero patch appended last: its input embedding is PosEmbed(N)', () => {
    const m = createModel('mlit-test', { depth: 1, hiddenSizes: [3], expertsPerBlock: [3] }, { seed: 2 }) as Mlit;
    const x = tf.randomUniform([1, 8, 8, 3], -1, 1, 'float32', 3) as tf.Tensor4D;
    const patches = m.patches(x);
    expect(patches.shape).toEqual([1, 4, 48]);
    // chw order: the first p² entries of a patch vector are channel 0 of its pixels, row-major
    const px = x.slice([0, 0, 0, 0], [1, 4, 4, 1]).reshape([16]).arraySync() as number[];
    const pv = (patches.arraySync() as number[][][])[0][0].slice(0, 16);
    pv.forEach((v, i) => expect(v).toBeCloseTo(px[i], 6));
    const t = m.embed(patches, null, makeCtx({ training: false }));
    expect(t.shape).toEqual([1, 5, 12]);
    const cls = t.slice([0, 4, 0], [1, 1, 12]).reshape([12]);
    const pos4 = m.posEmbed.value.slice([4, 0], [1, 12]).reshape([12]);
    expect(Array.from(cls.dataSync())).toEqual(Array.from(pos4.dataSync()));
    // patch token 0 = Proj(patch 0) + PosEmbed(0), no bias
    const p0 = tf
      .matMul(patches.slice([0, 0, 0], [1, 1, 48]).reshape([1, 48]), m.patchEmbed.weight.value as tf.Tensor2D)
      .add(m.posEmbed.value.slice([0, 0], [1, 12]));
    expect(tf.max(tf.abs(t.slice([0, 0, 0], [1, 1, 12]).reshape([1, 12]).sub(p0))).dataSync()[0]).toBeLessThan(1e-5);
    tf.dispose([x, patches, t, cls, pos4, p0]);
    m.dispose();
  });

  it('encode(visible patches, positions) is permutation-equivariant and matches the full path', () => {
    const m = createModel('mlit-test', {}, { seed: 3 }) as Mlit;
    const x = tf.randomUniform([2, 8, 8, 3], -1, 1, 'float32', 7) as tf.Tensor4D;
    const ctx = () => makeCtx({ training: false });
    const patches = m.patches(x);
    const full = m.encode(patches, null, ctx()).tokens;
    const perm = [2, 0, 3, 1];
    const permT = tf.tensor1d(perm, 'int32');
    const pos = tf.tensor2d([perm, perm], [2, 4], 'int32');
    const enc = m.encode(tf.gather(patches, permT, 1) as tf.Tensor3D, pos, ctx()).tokens;
    const expected = tf.concat(
      [tf.gather(full.slice([0, 0, 0], [-1, 4, -1]), permT, 1), full.slice([0, 4, 0], [-1, 1, -1])],
      1,
    );
    expect(tf.max(tf.abs(enc.sub(expected))).dataSync()[0]).toBeLessThan(1e-4);
    // a subset of visible patches (MAE): shapes and finiteness
    const sub = m.encode(
      tf.gather(patches, tf.tensor1d([1, 3], 'int32'), 1) as tf.Tensor3D,
      tf.tensor2d(
        [
          [1, 3],
          [1, 3],
        ],
        [2, 2],
        'int32',
      ),
      ctx(),
    );
    expect(sub.tokens.shape).toEqual([2, 3, 12]);
    expect(sub.aux).toBeNull();
    const tr = m.encode(patches, null, makeCtx({ training: true, seed: 1 }));
    expect(tr.aux!.dataSync()[0]).toBeGreaterThan(0);
    tf.dispose([x, patches, full, permT, pos, enc, expected, sub.tokens, tr.tokens, tr.aux!]);
    m.dispose();
  });

  it('maeExtras: mask tokens are LN(PosEmbed(i) + MaskEmbed)', () => {
    const m = createModel('mlit-test', { maeExtras: true }, { seed: 3 }) as Mlit;
    const t = m.maskTokens(tf.tensor2d([[0, 2]], [1, 2], 'int32'));
    expect(t.shape).toEqual([1, 2, 12]);
    const ref = m.norm.forward(m.posEmbed.value.slice([2, 0], [1, 12]).add(m.maskEmbed!.value));
    expect(tf.max(tf.abs(t.slice([0, 1, 0], [1, 1, 12]).reshape([1, 12]).sub(ref))).dataSync()[0]).toBeLessThan(1e-5);
    tf.dispose([t, ref]);
    m.dispose();
  });

  it('block order switch changes the function, not the parameters', () => {
    const a = createModel('mlit-test', {}, { seed: 5 });
    const b = createModel('mlit-test', { blockOrder: 'pre-norm' }, { seed: 5 });
    expect(a.paramCount()).toBe(b.paramCount());
    const x = tf.randomUniform([1, 8, 8, 3], -1, 1, 'float32', 1) as tf.Tensor4D;
    const ya = a.forward(x, makeCtx({ training: false }));
    const yb = b.forward(x, makeCtx({ training: false }));
    expect(tf.max(tf.abs(ya.sub(yb))).dataSync()[0]).toBeGreaterThan(1e-3);
    tf.dispose([x, ya, yb]);
    a.dispose();
    b.dispose();
  });
});
