import { describe, it, expect, beforeAll } from 'vitest';
import * as tf from '@tensorflow/tfjs';
import { initBackend } from '../src/backend';
import { makeCtx } from '../src/nn/module';
import { GroupedQueryAttention } from '../src/nn/gqa';
import { MoeLayer, NoisyTopKRouter, type MoeDispatch, routingKeys } from '../src/nn/moe';
import { createModel } from '../src/models';
import type { Mlit, MlitConfig } from '../src/models/mlit';
import { mlitScaleOverrides } from '../src/experiments/mlit';
import { Rng } from '../src/util/rng';

beforeAll(async () => {
  await initBackend('wasm');
});

const arr2 = (t: tf.Tensor) => t.arraySync() as number[][];
const maxDiff = (a: tf.Tensor, b: tf.Tensor) => tf.tidy(() => tf.max(tf.abs(a.sub(b))).dataSync()[0]);

/** erf by Abramowitz–Stegun 7.1.26 (|error| < 1.5e-7), for a JS reference of Φ. */
function erf(x: number): number {
  const s = Math.sign(x);
  const a = Math.abs(x);
  const t = 1 / (1 + 0.3275911 * a);
  const y =
    1 -
    ((((1.061405429 * t - 1.453152027) * t + 1.421413741) * t - 0.284496736) * t + 0.254829592) * t * Math.exp(-a * a);
  return s * y;
}
const Phi = (z: number) => 0.5 * (1 + erf(z / Math.SQRT2));
const cv2 = (v: number[]) => {
  const mean = v.reduce((a, b) => a + b, 0) / v.length;
  const variance = v.reduce((a, b) => a + (b - mean) ** 2, 0) / (v.length - 1);
  return variance / (mean * mean + 1e-10);
};
const silu = (z: number) => z / (1 + Math.exp(-z));

describe('grouped-query attention', () => {
  /** Per-head reference: query head i uses K/V group floor(i / (heads/groups)). */
  function reference(att: GroupedQueryAttention, x: tf.Tensor3D): tf.Tensor {
    return tf.tidy(() => {
      const { heads, groups, headDim: d, dim } = att;
      const [b, t] = x.shape;
      const x2 = x.reshape([b * t, dim]) as tf.Tensor2D;
      const q = tf.matMul(x2, att.q.weight.value as tf.Tensor2D).reshape([b, t, dim]);
      const k = tf.matMul(x2, att.k.weight.value as tf.Tensor2D).reshape([b, t, groups * d]);
      const v = tf.matMul(x2, att.v.weight.value as tf.Tensor2D).reshape([b, t, groups * d]);
      const outs: tf.Tensor[] = [];
      for (let i = 0; i < heads; i++) {
        const g = Math.floor(i / (heads / groups));
        const qi = q.slice([0, 0, i * d], [-1, -1, d]) as tf.Tensor3D;
        const kg = k.slice([0, 0, g * d], [-1, -1, d]) as tf.Tensor3D;
        const vg = v.slice([0, 0, g * d], [-1, -1, d]) as tf.Tensor3D;
        outs.push(tf.matMul(tf.softmax(tf.matMul(qi, kg, false, true).div(Math.sqrt(d))) as tf.Tensor3D, vg));
      }
      return tf
        .matMul(tf.concat(outs, 2).reshape([b * t, dim]) as tf.Tensor2D, att.proj.weight.value as tf.Tensor2D)
        .reshape([b, t, dim]);
    });
  }

  for (const [heads, groups] of [
    [6, 3],
    [6, 6],
    [6, 1],
    [4, 2],
  ]) {
    it(
      `heads ${heads}, groups ${groups} (${groups === heads ? 'MHA' : groups === 1 ? 'MQA' : 'GQA'}) equals the ` +
        `per-head reference`,
      () => {
        const att = new GroupedQueryAttention(24, heads, groups, { projDropout: 0.1 }).build(heads * 10 + groups);
        expect(att.paramCount()).toBe(2 * 24 * 24 + 2 * groups * (24 / heads) * 24);
        expect(att.paramCount()).toBe(GroupedQueryAttention.paramCount(24, heads, groups));
        const x = tf.randomNormal([2, 7, 24], 0, 1, 'float32', 3) as tf.Tensor3D;
        const before = tf.memory().numTensors;
        const y = att.forward(x, makeCtx({ training: false }));
        const r = reference(att, x);
        expect(maxDiff(y, r)).toBeLessThan(1e-5);
        tf.dispose([y, r]);
        expect(tf.memory().numTensors).toBe(before);
        x.dispose();
        att.dispose();
      },
    );
  }

  it('records [B, heads, T, T] probabilities that sum to 1', () => {
    const att = new GroupedQueryAttention(12, 4, 2).build(1);
    const x = tf.randomNormal([1, 5, 12], 0, 1, 'float32', 1) as tf.Tensor3D;
    const got: tf.Tensor[] = [];
    const y = att.forward(x, { ...makeCtx({ training: false }), record: (_k, v) => got.push(tf.keep(v.clone())) }, 'a');
    expect(got[0].shape).toEqual([1, 4, 5, 5]);
    expect(maxDiff(got[0].sum(-1), tf.onesLike(got[0].sum(-1)))).toBeLessThan(1e-5);
    tf.dispose([x, y, ...got]);
    att.dispose();
  });
});

describe('noisy top-k router (docs/mlit.md §2.6, Shazeer et al. 2017)', () => {
  it('evaluation: deterministic softmax over the top-k clean logits, scattered; no loss', () => {
    const r = new NoisyTopKRouter(8, 5, 2).build(3);
    const x = tf.randomNormal([6, 8], 0, 1, 'float32', 2) as tf.Tensor2D;
    const out = r.route(x, makeCtx({ training: false }));
    expect(out.loss).toBeNull();
    const clean = arr2(tf.matMul(x, r.wg.value as tf.Tensor2D));
    const gates = arr2(out.gates);
    const idx = arr2(out.topIdx);
    clean.forEach((row, i) => {
      const order = row.map((v, e) => [v, e]).sort((a, b) => b[0] - a[0]);
      expect(idx[i]).toEqual([order[0][1], order[1][1]]);
      const z = Math.exp(order[0][0] - order[0][0]) + Math.exp(order[1][0] - order[0][0]);
      const want = new Array(5).fill(0);
      want[order[0][1]] = 1 / z;
      want[order[1][1]] = Math.exp(order[1][0] - order[0][0]) / z;
      gates[i].forEach((g, e) => expect(g).toBeCloseTo(want[e], 5));
    });
    tf.dispose([x, out.topIdx, out.topGates, out.gates, out.clean]);
    r.dispose();
  });

  it(
    'training: noise, smooth load via Φ, 0.01·(CV²(importance) + CV²(load)) with unbiased variance match a JS ' +
      'reference',
    () => {
      const [N, m, E, k] = [10, 6, 4, 2];
      const r = new NoisyTopKRouter(m, E, k).build(7);
      const x = tf.randomNormal([N, m], 0, 1, 'float32', 5) as tf.Tensor2D;
      const seed = 123;
      const out = r.route(x, makeCtx({ training: true, seed }));
      // the same ε: the router draws one seed from ctx.rng for tf.randomNormal
      const eps = arr2(tf.randomNormal([N, E], 0, 1, 'float32', new Rng(seed).int()));
      const clean = arr2(tf.matMul(x, r.wg.value as tf.Tensor2D));
      const raw = arr2(tf.matMul(x, r.wNoise.value as tf.Tensor2D));
      const importance = new Array(E).fill(0);
      const load = new Array(E).fill(0);
      const gates = arr2(out.gates);
      for (let i = 0; i < N; i++) {
        const sigma = raw[i].map((v) => Math.log1p(Math.exp(v)) + 0.01);
        const noisy = clean[i].map((c, e) => c + eps[i][e] * sigma[e]);
        const sorted = [...noisy].sort((a, b) => b - a);
        const top = noisy
          .map((v, e) => [v, e])
          .sort((a, b) => b[0] - a[0])
          .slice(0, k);
        const z = top.reduce((s, [v]) => s + Math.exp(v - top[0][0]), 0);
        const g = new Array(E).fill(0);
        top.forEach(([v, e]) => (g[e] = Math.exp(v - top[0][0]) / z));
        g.forEach((v, e) => {
          expect(gates[i][e]).toBeCloseTo(v, 5);
          importance[e] += v;
        });
        for (let e = 0; e < E; e++) {
          const isIn = noisy[e] > sorted[k];
          const thr = isIn ? sorted[k] : sorted[k - 1];
          load[e] += Phi((clean[i][e] - thr) / sigma[e]);
        }
      }
      const want = 0.01 * (cv2(importance) + cv2(load));
      expect(out.loss!.dataSync()[0]).toBeCloseTo(want, 5);
      expect(want).toBeGreaterThan(0);
      tf.dispose([x, out.topIdx, out.topGates, out.gates, out.clean, out.loss!]);
      r.dispose();
    },
  );
});

/**
 * Compute-all-and-mask reference from the raw weights: y = Σ_e g_e · (W2_e(SiLU(xW_e + b_e) ⊙ (xV_e + b_V,e)) + b2_e).
 */
function denseReference(layer: MoeLayer, x2: number[][], gates: number[][]): number[][] {
  const ex = layer.experts;
  const [m, h, E] = [ex.dim, ex.hidden, ex.numExperts];
  const W = arr2(ex.w.value);
  const B = Array.from(ex.b.value.dataSync());
  const V = ex.vShared ? arr2(ex.vShared.weight.value) : arr2(ex.vPriv!.value);
  const BV = Array.from(ex.vShared ? ex.vShared.bias!.value.dataSync() : ex.bvPriv!.value.dataSync());
  const W2 = ex.w2Shared ? [arr2(ex.w2Shared.weight.value)] : (ex.w2Priv!.value.arraySync() as number[][][]);
  const B2 = ex.w2Shared
    ? [Array.from(ex.w2Shared.bias!.value.dataSync())]
    : (ex.b2Priv!.value.arraySync() as number[][][]).map((r) => r[0]);
  return x2.map((xi, n) => {
    const y = new Array(m).fill(0);
    for (let e = 0; e < E; e++) {
      const vOff = ex.vShared ? 0 : e * h;
      const w2 = W2[ex.w2Shared ? 0 : e];
      const b2 = B2[ex.w2Shared ? 0 : e];
      const hid = new Array(h).fill(0).map((_, j) => {
        let u = B[e * h + j];
        let g = BV[vOff + j];
        for (let i = 0; i < m; i++) {
          u += xi[i] * W[i][e * h + j];
          g += xi[i] * V[i][vOff + j];
        }
        return silu(u) * g;
      });
      for (let o = 0; o < m; o++) {
        let s = b2[o];
        for (let j = 0; j < h; j++) s += hid[j] * w2[j][o];
        y[o] += gates[n][e] * s;
      }
    }
    return y;
  });
}

describe('MoE dispatch: every strategy equals the compute-all-and-mask reference', () => {
  const dispatches: MoeDispatch[] = ['dense', 'sparse', 'slots', 'fused'];
  for (const shareVW2 of [true, false]) {
    for (const training of [false, true]) {
      it(`shareVW2=${shareVW2}, ${training ? 'training (noisy routing, dropout 0)' : 'evaluation'}`, () => {
        const [B, T, m, h, E, k] = [2, 5, 8, 6, 4, 2];
        const x = tf.randomNormal([B, T, m], 0, 1, 'float32', 11) as tf.Tensor3D;
        let gatesRef: number[][] | null = null;
        let ref: number[][] | null = null;
        const before = tf.memory().numTensors;
        for (const dispatch of dispatches) {
          if (!shareVW2 && (dispatch === 'slots' || dispatch === 'fused')) continue;
          const layer = new MoeLayer(m, { numExperts: E, topK: k, hidden: h, shareVW2, dispatch, dropout: 0 }).build(
            21,
          );
          const recs: Record<string, tf.Tensor> = {};
          const ctx = {
            ...makeCtx({ training, seed: 8 }),
            record: (key: string, v: tf.Tensor) => (recs[key] = tf.keep(v.clone())),
          };
          const { y, aux } = layer.forward(x, ctx, 'moe');
          if (!gatesRef) {
            gatesRef = arr2(recs['moe.gates']);
            ref = denseReference(layer, x.arraySync().flat(), gatesRef);
          } else {
            expect(arr2(recs['moe.gates'])).toEqual(gatesRef);
          }
          const got = (y.arraySync() as number[][][]).flat();
          got.forEach((row, i) =>
            row.forEach((v, o) => expect(Math.abs(v - ref![i][o]), `${dispatch} token ${i}`).toBeLessThan(1e-4)),
          );
          expect(aux === null).toBe(!training);
          tf.dispose([y, ...(aux ? [aux] : []), ...Object.values(recs)]);
          layer.dispose();
        }
        expect(tf.memory().numTensors).toBe(before);
        // every token gets exactly k experts whose gates sum to 1
        gatesRef!.forEach((g) => {
          expect(g.filter((v) => v > 0)).toHaveLength(k);
          expect(g.reduce((a, b) => a + b, 0)).toBeCloseTo(1, 5);
        });
        x.dispose();
      });
    }
  }

  it('MACs: router plus k experts of 3·m·h each, whatever the dispatch', () => {
    const layer = new MoeLayer(8, { numExperts: 4, topK: 2, hidden: 6 }).build(1);
    let macs = 0;
    const x = tf.zeros([1, 5, 8]) as tf.Tensor3D;
    const { y } = layer.forward(x, { ...makeCtx({ training: false }), macs: { add: (_k, n) => (macs += n) } });
    expect(macs).toBe(5 * 8 * 4 + 5 * 2 * 3 * 8 * 6);
    expect(MoeLayer.paramCount(8, 6, 4)).toBe(layer.paramCount());
    expect(MoeLayer.activeParamCount(8, 6, 4, 2)).toBe(layer.paramCount() - 2 * (8 * 6 + 6));
    tf.dispose([x, y]);
    layer.dispose();
  });
});

describe('MoE gradients reach the router, the private experts and the shared matrices', () => {
  for (const [dispatch, topK] of [
    ['slots', 2],
    ['dense', 2],
    ['sparse', 2],
    ['slots', 1],
  ] as Array<[MoeDispatch, number]>) {
    it(`dispatch ${dispatch}, top-${topK}: every parameter gets a nonzero finite gradient`, () => {
      const layer = new MoeLayer(8, { numExperts: 4, topK, hidden: 6, dispatch, dropout: 0.1 }).build(4);
      const x = tf.randomNormal([3, 6, 8], 0, 1, 'float32', 2) as tf.Tensor3D;
      const w = tf.randomNormal([3, 6, 8], 0, 1, 'float32', 3);
      const vars = layer.trainableVariables();
      const before = tf.memory().numTensors;
      const { value, grads } = tf.variableGrads(() => {
        const { y, aux } = layer.forward(x, makeCtx({ training: true, seed: 1 }));
        return y.mul(w).sum().add(aux!) as tf.Scalar;
      }, vars);
      const names = layer.namedParams().map(([n]) => n);
      expect(names).toEqual([
        'router.w_gate',
        'router.w_noise',
        'experts.w',
        'experts.b',
        'experts.v.weight',
        'experts.v.bias',
        'experts.w2.weight',
        'experts.w2.bias',
      ]);
      for (const [name, p] of layer.namedParams()) {
        const g = grads[p.value.name];
        const norm = tf.tidy(() => g.norm().dataSync()[0]);
        expect(Number.isFinite(norm), name).toBe(true);
        expect(norm, name).toBeGreaterThan(0);
      }
      tf.dispose([value, ...Object.values(grads)]);
      expect(tf.memory().numTensors).toBe(before);
      tf.dispose([x, w]);
      layer.dispose();
    });
  }

  it('W_noise is trained by the balancing loss alone through the smooth load estimate', () => {
    const layer = new MoeLayer(8, { numExperts: 4, topK: 2, hidden: 6 }).build(4);
    const x = tf.randomNormal([3, 6, 8], 0, 1, 'float32', 2) as tf.Tensor3D;
    const { grads, value } = tf.variableGrads(
      () => layer.forward(x, makeCtx({ training: true, seed: 1 })).aux!,
      [layer.router.wNoise.value],
    );
    expect(tf.tidy(() => grads[layer.router.wNoise.value.name].norm().dataSync()[0])).toBeGreaterThan(0);
    tf.dispose([x, value, ...Object.values(grads)]);
    layer.dispose();
  });
});

describe('routing keys', () => {
  it(
    "a recording mLiT forward stores each block's gates and noise-free logits under routingKeys, one row per " +
      'token',
    () => {
      const model = createModel<MlitConfig>(
        'mlit-xxs',
        { ...mlitScaleOverrides('smoke'), numClasses: 3 },
        { seed: 1 },
      ) as unknown as Mlit;
      const keys: Record<string, number[]> = {};
      const ctx = { ...makeCtx({ training: false }), record: (key: string, v: tf.Tensor) => (keys[key] = v.shape) };
      tf.tidy(() => {
        model.forward(tf.zeros([2, model.config.imageSize, model.config.imageSize, 3]) as tf.Tensor4D, ctx);
      });
      model.dispose();
      const experts = model.expertCounts;
      expect(experts.length).toBe(model.config.depth);
      experts.forEach((E, i) => {
        const moe = routingKeys.moe(routingKeys.block(i));
        expect(moe).toBe(`block.${i}.moe`);
        expect(keys[routingKeys.gates(moe)]?.[1], `block ${i} gates`).toBe(E);
        expect(keys[routingKeys.logits(moe)]?.[1], `block ${i} logits`).toBe(E);
        expect(keys[routingKeys.gates(moe)][0] % 2).toBe(0); // tokens of both images
      });
    },
  );
});
