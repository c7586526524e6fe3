import { describe, it, expect, beforeAll } from 'vitest';
import * as tf from '@tensorflow/tfjs';
import { initBackend } from '../src/backend';
import { createModel, getModelEntry } from '../src/models';
import { type MobileVmoe, VMOE_GRID, gridLabel } from '../src/models/mobile-vmoe';
import { countMacs } from '../src/analysis/count';
import { makeCtx, type Ctx } from '../src/nn/module';
import { ConfigError } from '../src/util/errors';

beforeAll(async () => {
  await initBackend('wasm');
});

const millions = (n: number, digits = 2) => (n / 1e6).toFixed(digits);

describe('Mobile V-MoE registry: parameter counts (docs/mobile-vmoe.md §4 table, CIFAR-100, patch 4)', () => {
  it('12×192: dense 5.38M; MoE E=10, L=2: 10.71M total, 5.38M active', () => {
    const dense = createModel('vit-12x192', {}, { build: false });
    const moe = createModel('vmoe-12x192', {}, { build: false });
    expect(millions(dense.paramCount())).toBe('5.38');
    expect(millions(moe.paramCount())).toBe('10.71');
    expect(millions(moe.activeParamCount())).toBe('5.38');
    // 18 extra experts of 192·768·2 + 768 + 192 and one Linear(192 → 10) router
    expect(moe.paramCount() - dense.paramCount()).toBe(18 * 295_872 + 1_930);
    expect(moe.activeParamCount() - dense.paramCount()).toBe(1_930);
  });

  it('other grid rows match docs/mobile-vmoe.md §4 (6×192 2.71M, 12×96 1.36M, 6×96 0.69M, 6×64 0.31M)', () => {
    const want: Record<string, string> = { '6x192': '2.71', '12x96': '1.36', '6x96': '0.69', '6x64': '0.31' };
    for (const [label, m] of Object.entries(want))
      expect(millions(createModel(`vit-${label}`, {}, { build: false }).paramCount())).toBe(m);
  });

  it('closed form equals the built module count for every grid model and routing variant', () => {
    for (const g of VMOE_GRID) {
      for (const name of [`vit-${gridLabel(g.depth, g.dim)}`, `vmoe-${gridLabel(g.depth, g.dim)}`]) {
        const m = createModel(name, {}, { build: false });
        expect(getModelEntry(name).family.closedFormParams!(m.config)).toBe(m.paramCount());
      }
    }
    for (const o of [
      { routing: 'token' },
      { routing: 'e2e-image', numExperts: 20, moeLayers: 6, topK: 5 },
      { bias: false, routerInput: 'mean' },
    ]) {
      const m = createModel('vmoe-6x64', o, { build: false });
      expect(getModelEntry('vmoe-6x64').family.closedFormParams!(m.config)).toBe(m.paramCount());
    }
  });

  it('per-token routing: an image may touch all E experts (the paper\'s "up to" count); per token k', () => {
    const m = createModel('vmoe-12x192', { routing: 'token', topK: 2 }, { build: false }) as MobileVmoe;
    expect(m.activeParamCount()).toBe(m.paramCount());
    // 2 routers, k = 2 of 10 experts in each of 2 layers
    expect(m.activeParamsPerToken()).toBe(m.paramCount() - 2 * 8 * 295_872);
  });

  it('invalid configs are errors naming the values', () => {
    expect(() => createModel('vmoe-6x64', { topK: 11 }, { build: false })).toThrow(/topK=11 exceeds numExperts=10/);
    expect(() => createModel('vmoe-6x64', { moeLayers: 7 }, { build: false })).toThrow(/moeLayers=7 exceeds depth=6/);
    expect(() => createModel('vmoe-6x64', { pool: 'mean' }, { build: false })).toThrow(
      /routerInput='cls' needs a class token/,
    );
    expect(() => createModel('vmoe-6x64', { routing: 'per-patch' }, { build: false })).toThrow(
      /superclass-image, e2e-image, token/,
    );
    expect(() => createModel('vmoe-6x64', { superClassOf: [0, 1] }, { build: false })).toThrow(
      /superClassOf has 2 entries; expected 0.*numClasses=100/,
    );
    expect(() => createModel('vmoe-test', { superClassOf: [0, 1, 2, 3, 0, 1, 2, 0, 1, 2] }, { build: false })).toThrow(
      /superClassOf\[3\]=3/,
    );
  });
});

describe("Mobile V-MoE MACs (2·MACs = the paper's FLOPs)", () => {
  it('12×192 dense: 365M MACs; the MoE adds only the router (D·E)', () => {
    const dense = createModel('vit-12x192');
    const moe = createModel('vmoe-12x192');
    const d = countMacs(dense);
    const m = countMacs(moe);
    expect(Math.round(d.macs / 1e6)).toBe(365);
    expect(m.macs - d.macs).toBe(192 * 10);
    // per token and block: qkv+proj 4D², MLP 8D²; attention 2·T²·D; embed 64·48·D; head D·100
    const D = 192;
    const T = 65;
    expect(d.macs).toBe(12 * (T * 12 * D * D + 2 * T * T * D) + 64 * 48 * D + D * 100);
    dense.dispose();
    moe.dispose();
  });

  it('k active experts cost k MLPs per MoE block; per-token adds a router per token and block', () => {
    const k1 = countMacs(createModel('vmoe-6x64'));
    const k3 = countMacs(createModel('vmoe-6x64', { topK: 3 }));
    const tok = countMacs(createModel('vmoe-6x64', { routing: 'token', topK: 1 }));
    const mlp = 65 * 2 * 64 * 256;
    expect(k3.macs - k1.macs).toBe(2 * 2 * mlp);
    expect(tok.macs - k1.macs).toBe(2 * 65 * 64 * 10 - 64 * 10);
  });
});

/** Sum of logits·w plus aux losses: a loss that touches every logit with distinct weights. */
function lossOf(m: MobileVmoe, x: tf.Tensor4D, w: tf.Tensor2D, ctx: Ctx): tf.Scalar {
  const y = m.forward(x, ctx);
  let l = y.mul(w).sum() as tf.Scalar;
  for (const a of ctx.aux) l = l.add(a.value);
  return l;
}

function gradsOf(m: MobileVmoe, x: tf.Tensor4D, w: tf.Tensor2D, targets: Ctx['targets']) {
  const names = m.namedParams().filter(([, p]) => p.trainable);
  const { value, grads } = tf.variableGrads(
    () => lossOf(m, x, w, makeCtx({ training: true, seed: 5, targets })),
    names.map(([, p]) => p.value),
  );
  const out = new Map<string, Float32Array>();
  for (const [n, p] of names) {
    const g = grads[p.value.name];
    out.set(n, g ? (g.dataSync() as Float32Array).slice() : new Float32Array(p.size));
  }
  const v = value.dataSync()[0];
  value.dispose();
  Object.values(grads).forEach((g) => g?.dispose());
  return { value: v, grads: out };
}

describe(
  'per-image dispatch (group by expert, gather, scatter back) ' + 'equals the dense compute-all-and-mask reference',
  () => {
    const cases: Array<[string, Record<string, unknown>]> = [
      ['super-class router, k = 1', { routing: 'superclass-image', topK: 1, routerInput: 'mean' }],
      [
        'end-to-end router, k = 2, raw gates',
        { routing: 'e2e-image', topK: 2, gateNormalise: 'none', routerInput: 'mean' },
      ],
      ['per-token router, k = 2', { routing: 'token', topK: 2 }],
    ];
    for (const [title, o] of cases) {
      it(`${title}: forward and gradients`, () => {
        const base = { ...o, dropPath: 0, numExperts: 4, depth: 3, moeLayers: 2 };
        const g = createModel('vmoe-test', { ...base, dispatch: 'gather' }, { seed: 11 }) as MobileVmoe;
        const d = createModel('vmoe-test', { ...base, dispatch: 'dense' }, { seed: 11 }) as MobileVmoe;
        // a freshly initialised router sends every image to one expert; sharpen it so that the batch is split
        for (const m of [g, d]) {
          for (const [n, p] of m.namedParams())
            if (n.includes('router') && n.endsWith('weight'))
              p.value.assign(tf.randomNormal(p.shape as number[], 0, 3, 'float32', 4));
        }
        const x = tf.randomUniform([6, 8, 8, 3], -1, 1, 'float32', 2) as tf.Tensor4D;
        const w = tf.randomNormal([6, 10], 0, 1, 'float32', 3) as tf.Tensor2D;
        const coarse = tf.tensor1d([0, 1, 2, 3, 1, 0], 'int32');
        const labels = tf.tensor1d([0, 1, 2, 3, 4, 5], 'int32');
        const yg = g.forward(x, makeCtx({ training: false }));
        const yd = d.forward(x, makeCtx({ training: false }));
        const a = yg.dataSync();
        const b = yd.dataSync();
        for (let i = 0; i < a.length; i++) expect(a[i]).toBeCloseTo(b[i], 5);
        // the routing of this batch must use more than k experts, or the test would not exercise the grouping
        const used = new Set(g.expertsUsed(x).flat(2));
        expect(used.size).toBeGreaterThan(o.topK as number);
        const before = tf.memory().numTensors;
        const rg = gradsOf(g, x, w, { coarse, labels });
        const rd = gradsOf(d, x, w, { coarse, labels });
        expect(tf.memory().numTensors).toBe(before);
        expect(rg.value).toBeCloseTo(rd.value, 4);
        let nonzeroRouter = 0;
        for (const [n, gd] of rd.grads) {
          const gg = rg.grads.get(n)!;
          const scale = Math.max(1e-3, ...Array.from(gd, Math.abs));
          for (let i = 0; i < gd.length; i++) expect(Math.abs(gg[i] - gd[i]) / scale).toBeLessThan(1e-4);
          if (n.includes('router') && gd.some((v) => Math.abs(v) > 1e-6)) nonzeroRouter++;
        }
        expect(nonzeroRouter).toBeGreaterThan(0);
        [yg, yd, x, w, coarse, labels].forEach((t) => t.dispose());
        g.dispose();
        d.dispose();
      });
    }
  },
);

describe('super-class router', () => {
  it("router_ce = λ·CE(router softmax, super-class) from the dataset's coarse labels or a fine→super-class map", () => {
    const m = createModel('vmoe-test', { dropPath: 0 }, { seed: 1 }) as MobileVmoe;
    const m2 = createModel(
      'vmoe-test',
      { dropPath: 0, superClassOf: [2, 1, 0, 2, 1, 0, 2, 1, 0, 0] },
      { seed: 1 },
    ) as MobileVmoe;
    const x = tf.randomUniform([4, 8, 8, 3], -1, 1, 'float32', 7) as tf.Tensor4D;
    const coarse = [2, 0, 1, 2];
    const labels = [0, 2, 1, 3]; // mapped by superClassOf to [2, 0, 1, 2]
    const probs = m.routerProbs(x);
    const p = probs.arraySync();
    const ce = -coarse.reduce((s, c, i) => s + Math.log(p[i][c]), 0) / coarse.length;
    const ctx = makeCtx({ training: true, targets: { coarse: tf.tensor1d(coarse, 'int32') } });
    m.forward(x, ctx).dispose();
    const aux = ctx.aux.find((a) => a.name === 'router_ce')!;
    expect(aux.value.dataSync()[0]).toBeCloseTo(0.3 * ce, 5);
    const ctx2 = makeCtx({ training: true, targets: { labels: tf.tensor1d(labels, 'int32') } });
    m2.forward(x, ctx2).dispose();
    expect(ctx2.aux.find((a) => a.name === 'router_ce')!.value.dataSync()[0]).toBeCloseTo(0.3 * ce, 5);
    expect(ctx.aux.some((a) => a.name === 'moe_balance')).toBe(false);
    // router predictions are the argmax of the same probabilities
    expect(Array.from(m.routerPredictions(x)!)).toEqual(p.map((r) => r.indexOf(Math.max(...r))));
    probs.dispose();
    x.dispose();
    m.dispose();
    m2.dispose();
  });

  it('a super-class label ≥ E is an error naming the label and E', () => {
    const m = createModel('vmoe-test') as MobileVmoe;
    const x = tf.zeros([2, 8, 8, 3]) as tf.Tensor4D;
    const ctx = makeCtx({ training: true, targets: { coarse: tf.tensor1d([0, 7], 'int32') } });
    expect(() => m.forward(x, ctx)).toThrow(/super-class label 7 ≥ numExperts=3/);
    expect(() => m.forward(x, ctx)).toThrow(ConfigError);
    m.dispose();
  });

  it(
    'end-to-end routers add the balancing loss instead; per-image routing uses the same k experts in every MoE ' +
      'block',
    () => {
      const m = createModel('vmoe-e2e-test', { moeLayers: 2 }) as MobileVmoe;
      const x = tf.randomUniform([5, 8, 8, 3], -1, 1, 'float32', 9) as tf.Tensor4D;
      const ctx = makeCtx({ training: true });
      m.forward(x, ctx).dispose();
      expect(ctx.aux.map((a) => a.name)).toEqual(['moe_balance']);
      for (const perLayer of m.expertsUsed(x)) {
        expect(perLayer).toHaveLength(2);
        expect(perLayer[0]).toHaveLength(2);
        expect(perLayer[1]).toEqual(perLayer[0]);
      }
      x.dispose();
      m.dispose();
    },
  );

  it(
    'training the router on super-classes drives router CE down and router accuracy to 1 (synthetic: super-class ' +
      '= brightest channel)',
    () => {
      const m = createModel(
        'vmoe-test',
        { dropPath: 0, routerLossWeight: 1, routerInput: 'mean' },
        { seed: 2 },
      ) as MobileVmoe;
      const n = 48;
      const data = new Float32Array(n * 8 * 8 * 3);
      const sc = new Int32Array(n);
      for (let i = 0; i < n; i++) {
        sc[i] = i % 3;
        for (let p = 0; p < 64; p++)
          for (let ch = 0; ch < 3; ch++)
            data[(i * 64 + p) * 3 + ch] = (ch === sc[i] ? 1 : -0.5) + 0.3 * Math.sin(i * 7 + p * 3 + ch);
      }
      const x = tf.tensor4d(data, [n, 8, 8, 3]);
      const coarse = tf.tensor1d(sc, 'int32');
      const acc = () => m.routerPredictions(x)!.reduce((s, p, i) => s + (p === sc[i] ? 1 : 0), 0) / n;
      const opt = tf.train.adam(0.03);
      const vars = m.trainableVariables();
      const losses: number[] = [];
      let count = 0;
      for (let step = 0; step < 12; step++) {
        losses.push(
          tf.tidy(() => {
            const { value, grads } = tf.variableGrads(() => {
              const ctx = makeCtx({ training: true, seed: step, targets: { coarse } });
              const y = m.forward(x, ctx);
              // router loss only: the test is about the super-class supervision
              return ctx.aux.reduce((l, a) => l.add(a.value), y.sum().mul(0) as tf.Scalar);
            }, vars);
            // unchosen experts get no gradient; tf Adam indexes its moments by position, so pass zeros for them
            opt.applyGradients(vars.map((v) => ({ name: v.name, tensor: grads[v.name] ?? tf.zerosLike(v) })));
            return value.dataSync()[0];
          }),
        );
        if (step === 1) count = tf.memory().numTensors;
      }
      expect(tf.memory().numTensors).toBe(count);
      expect(losses[0]).toBeGreaterThan(0.5);
      expect(losses[11]).toBeLessThan(0.1 * losses[0]);
      expect(acc()).toBe(1);
      opt.dispose();
      x.dispose();
      coarse.dispose();
      m.dispose();
    },
  );
});
