import { describe, it, expect, beforeAll } from 'vitest';
import * as tf from '@tensorflow/tfjs';
import { initBackend } from '../src/backend';
import { makeCtx } from '../src/nn/module';
import { BatchNorm } from '../src/nn/layers';
import { DWConv, DynamicDWConv, InhomogeneousDWConv, SqueezeExcite, involution } from '../src/nn/dwconv';
import {
  WindowAttention,
  cyclicShift,
  relativePositionIndex,
  shiftedWindowMask,
  windowPartition,
  windowReverse,
} from '../src/nn/window-attention';
import { PatchEmbed, PatchMerging } from '../src/models/dwnet';
import { Rng } from '../src/util/rng';

/**
 * Golden-value tests of the DWNet / local-attention blocks: each layer against a plain-JS loop implementation of
 * the paper's (and the official code's) definition, written independently of the tfjs code.
 */

beforeAll(async () => {
  await initBackend('wasm');
});

const evalCtx = () => makeCtx({ training: false });

function randArray(n: number, seed: number, scale = 1): Float32Array {
  const r = new Rng(seed);
  const a = new Float32Array(n);
  for (let i = 0; i < n; i++) a[i] = scale * (2 * r.next() - 1);
  return a;
}

function maxAbsDiff(a: ArrayLike<number>, b: ArrayLike<number>): number {
  expect(a.length).toBe(b.length);
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i] - b[i]));
  return m;
}

/** Plain-JS depth-wise conv, NHWC, zero padding k//2: y[b,h,w,c] = Σ_ij x[b,h+i−p,w+j−p,c]·K(b,h,w,c,i,j). */
function naiveDW(
  x: Float32Array,
  [B, H, W, C]: number[],
  k: number,
  kernel: (b: number, h: number, w: number, c: number, i: number, j: number) => number,
): Float32Array {
  const p = (k - 1) / 2;
  const y = new Float32Array(B * H * W * C);
  for (let b = 0; b < B; b++)
    for (let h = 0; h < H; h++)
      for (let w = 0; w < W; w++)
        for (let c = 0; c < C; c++) {
          let s = 0;
          for (let i = 0; i < k; i++)
            for (let j = 0; j < k; j++) {
              const hh = h + i - p;
              const ww = w + j - p;
              if (hh < 0 || hh >= H || ww < 0 || ww >= W) continue;
              s += x[((b * H + hh) * W + ww) * C + c] * kernel(b, h, w, c, i, j);
            }
          y[((b * H + h) * W + w) * C + c] = s;
        }
  return y;
}

/** rows [N, din] · W [din, dout] + bias */
function naiveLinear(
  x: Float32Array,
  n: number,
  din: number,
  w: Float32Array,
  dout: number,
  bias?: Float32Array,
): Float32Array {
  const y = new Float32Array(n * dout);
  for (let r = 0; r < n; r++)
    for (let o = 0; o < dout; o++) {
      let s = bias ? bias[o] : 0;
      for (let i = 0; i < din; i++) s += x[r * din + i] * w[i * dout + o];
      y[r * dout + o] = s;
    }
  return y;
}

const data = (t: tf.Tensor | { value: tf.Tensor }) => ('value' in t ? t.value : t).dataSync() as Float32Array;

describe('BatchNorm (PyTorch semantics) against hand-computed values', () => {
  it('train-mode output, running-stat update (momentum 0.1, unbiased var), eval-mode output', () => {
    const bn = new BatchNorm(2).build(0);
    bn.gamma.value.assign(tf.tensor1d([2, 1]));
    bn.beta.value.assign(tf.tensor1d([0.5, 0]));
    // [B=2, H=1, W=2, C=2]: channel 0 = 1, 2, 3, 4; channel 1 = 0, 0, 0, 8
    const x = tf.tensor4d([1, 0, 2, 0, 3, 0, 4, 8], [2, 1, 2, 2]);
    const y = bn.forward(x, makeCtx({ training: true }));
    // channel 0: mean 2.5, biased var 1.25 ; channel 1: mean 2, biased var 12 (unbiased 16)
    const s0 = 1 / Math.sqrt(1.25 + 1e-5);
    const s1 = 1 / Math.sqrt(12 + 1e-5);
    const want = [
      2 * -1.5 * s0 + 0.5,
      -2 * s1,
      2 * -0.5 * s0 + 0.5,
      -2 * s1,
      2 * 0.5 * s0 + 0.5,
      -2 * s1,
      2 * 1.5 * s0 + 0.5,
      6 * s1,
    ];
    expect(maxAbsDiff(y.dataSync(), want)).toBeLessThan(1e-5);
    // running = 0.9·running + 0.1·batch, variance unbiased: 1.25·4/3 and 12·4/3
    expect(maxAbsDiff(data(bn.runningMean), [0.25, 0.2])).toBeLessThan(1e-6);
    expect(maxAbsDiff(data(bn.runningVar), [0.9 + 0.1 * (5 / 3), 0.9 + 0.1 * 16])).toBeLessThan(1e-5);
    const e = bn.forward(x, evalCtx());
    const rv0 = 0.9 + 0.5 / 3;
    const rv1 = 2.5;
    const we = [1, 0, 2, 0, 3, 0, 4, 8].map((v, i) =>
      i % 2 === 0 ? (2 * (v - 0.25)) / Math.sqrt(rv0 + 1e-5) + 0.5 : (v - 0.2) / Math.sqrt(rv1 + 1e-5),
    );
    expect(maxAbsDiff(e.dataSync(), we)).toBeLessThan(1e-5);
    // eval mode leaves the running statistics alone
    expect(maxAbsDiff(data(bn.runningMean), [0.25, 0.2])).toBeLessThan(1e-6);
    tf.dispose([x, y, e]);
    bn.dispose();
  });

  it('running statistics are not trainable and not counted as parameters', () => {
    const bn = new BatchNorm(5);
    expect(bn.paramCount()).toBe(10);
    expect(bn.namedParams().length).toBe(4);
  });
});

describe('window helpers', () => {
  it('partition/reverse round-trip and window order (row-major windows, row-major tokens)', () => {
    const x = tf.range(0, 2 * 4 * 4 * 3).reshape([2, 4, 4, 3]) as tf.Tensor4D;
    const w = windowPartition(x, 2);
    expect(w.shape).toEqual([8, 4, 3]);
    // window 1 of image 0 holds rows 0-1, columns 2-3; its token 2 is (row 1, col 2)
    expect(Array.from(w.slice([1, 2, 0], [1, 1, 3]).dataSync())).toEqual([18, 19, 20]);
    expect(Array.from(windowReverse(w, 2, 4, 4).dataSync())).toEqual(Array.from(x.dataSync()));
    tf.dispose([x, w]);
  });

  it('cyclicShift is torch.roll on H and W', () => {
    const x = tf.range(0, 16).reshape([1, 4, 4, 1]) as tf.Tensor4D;
    const y = cyclicShift(x, -1).dataSync();
    for (let i = 0; i < 4; i++)
      for (let j = 0; j < 4; j++) expect(y[i * 4 + j]).toBe(((i + 1) % 4) * 4 + ((j + 1) % 4));
    expect(Array.from(cyclicShift(cyclicShift(x, -1), 1).dataSync())).toEqual(Array.from(x.dataSync()));
    x.dispose();
  });

  it('relative position index covers (2w−1)² offsets, symmetric around the centre', () => {
    const idx = relativePositionIndex(3);
    expect(Math.max(...idx)).toBe(24);
    expect(idx[0]).toBe(12); // a token with itself: offset (0, 0)
    expect(idx[0 * 9 + 8]).toBe(0); // token (0,0) to (2,2): offset (−2, −2)
    expect(idx[8 * 9 + 0]).toBe(24);
    // a 2×2 window clipped from a 3-wide one indexes the 5×5 table: (0,0)→(1,1) is offset (−1, −1)
    const clipped = relativePositionIndex(2, 3);
    expect(clipped[0]).toBe(12);
    expect(clipped[0 * 4 + 3]).toBe(6);
    expect(clipped[3 * 4 + 0]).toBe(18);
  });

  it('shift mask blocks exactly the pairs that only meet by wrapping around', () => {
    const H = 4;
    const w = 2;
    const s = 1;
    const m = shiftedWindowMask(H, H, w, s);
    const wrapped = (i: number) => i + s >= H;
    for (let win = 0; win < 4; win++) {
      const [a, b] = [Math.floor(win / 2), win % 2];
      for (let i = 0; i < 4; i++)
        for (let j = 0; j < 4; j++) {
          const [hi, wi, hj, wj] = [a * w + (i >> 1), b * w + (i & 1), a * w + (j >> 1), b * w + (j & 1)];
          const same = wrapped(hi) === wrapped(hj) && wrapped(wi) === wrapped(wj);
          expect(m[(win * 4 + i) * 4 + j]).toBe(same ? 0 : -100);
        }
    }
  });
});

/** Plain-JS shifted-window attention with relative position bias (Swin), on one NHWC map. */
function naiveWindowAttention(
  x: Float32Array,
  [B, H, W, C]: number[],
  heads: number,
  w: number,
  s: number,
  p: { qkvW: Float32Array; qkvB: Float32Array; projW: Float32Array; projB: Float32Array; table: Float32Array },
): Float32Array {
  const d = C / heads;
  const at = (b: number, h: number, ww: number) => ((b * H + h) * W + ww) * C;
  const y = new Float32Array(x.length);
  for (let b = 0; b < B; b++)
    for (let wh = 0; wh < H / w; wh++)
      for (let wwi = 0; wwi < W / w; wwi++) {
        // tokens of this window in the shifted frame; their source position in the original map is (i + s) mod n
        const src: number[][] = [];
        const flags: boolean[][] = [];
        for (let t = 0; t < w * w; t++) {
          const hs = wh * w + Math.floor(t / w);
          const ws = wwi * w + (t % w);
          src.push([(hs + s) % H, (ws + s) % W]);
          flags.push([hs + s >= H, ws + s >= W]);
        }
        const feats = src.map(([h, ww]) => x.slice(at(b, h, ww), at(b, h, ww) + C));
        const qkv = feats.map((f) => naiveLinear(f, 1, C, p.qkvW, 3 * C, p.qkvB));
        const out = feats.map(() => new Float32Array(C));
        for (let hd = 0; hd < heads; hd++) {
          for (let i = 0; i < w * w; i++) {
            const logits = new Float64Array(w * w);
            for (let j = 0; j < w * w; j++) {
              let dot = 0;
              for (let e = 0; e < d; e++) dot += qkv[i][hd * d + e] * qkv[j][C + hd * d + e];
              const dh = Math.floor(i / w) - Math.floor(j / w) + w - 1;
              const dw = (i % w) - (j % w) + w - 1;
              const masked = s > 0 && (flags[i][0] !== flags[j][0] || flags[i][1] !== flags[j][1]);
              logits[j] = dot / Math.sqrt(d) + p.table[(dh * (2 * w - 1) + dw) * heads + hd] + (masked ? -100 : 0);
            }
            const mx = Math.max(...logits);
            const ex = Array.from(logits, (l) => Math.exp(l - mx));
            const z = ex.reduce((a2, b2) => a2 + b2, 0);
            for (let j = 0; j < w * w; j++)
              for (let e = 0; e < d; e++) out[i][hd * d + e] += (ex[j] / z) * qkv[j][2 * C + hd * d + e];
          }
        }
        src.forEach(([h, ww], i) => y.set(naiveLinear(out[i], 1, C, p.projW, C, p.projB), at(b, h, ww)));
      }
  return y;
}

describe('WindowAttention against a plain-JS Swin reference', () => {
  for (const [shift, heads] of [
    [0, 2],
    [1, 2],
    [1, 1],
  ]) {
    it(`shift ${shift}, ${heads} head(s): relative position bias and shift mask`, () => {
      const [B, H, W, C] = [2, 4, 4, 4];
      const attn = new WindowAttention(C, heads, 2).build(7);
      // a large bias table makes a wrong index visible
      attn.relBiasTable!.value.assign(tf.tensor(randArray(9 * heads, 3, 2), [9, heads]));
      const xv = randArray(B * H * W * C, 1);
      const x = tf.tensor4d(xv, [B, H, W, C]);
      const y = attn.forward(x, evalCtx(), shift);
      const ref = naiveWindowAttention(xv, [B, H, W, C], heads, 2, shift, {
        qkvW: data(attn.qkv.weight),
        qkvB: data(attn.qkv.bias!),
        projW: data(attn.proj.weight),
        projB: data(attn.proj.bias!),
        table: data(attn.relBiasTable!),
      });
      expect(maxAbsDiff(y.dataSync(), ref)).toBeLessThan(1e-4);
      tf.dispose([x, y]);
      attn.dispose();
    });
  }

  it('weights() are a softmax over each window (rows sum to 1), one map per head', () => {
    const attn = new WindowAttention(4, 2, 2).build(1);
    const x = tf.tensor3d(randArray(3 * 4 * 4, 5), [3, 4, 4]);
    const a = attn.weights(x, evalCtx(), 2);
    expect(a.shape).toEqual([3, 2, 4, 4]);
    const sums = a.sum(-1).dataSync();
    for (const v of sums) expect(v).toBeCloseTo(1, 5);
    tf.dispose([x, a]);
    attn.dispose();
  });
});

describe('depth-wise convolutions against plain-JS loops', () => {
  const shape = [2, 5, 5, 4];
  const [B, H, W, C] = shape;
  const xv = randArray(B * H * W * C, 11);

  it('static DWConv (bias) and its head-group weight sharing', () => {
    for (const gc of [1, 2]) {
      const conv = new DWConv(C, 3, { groupChannels: gc }).build(2);
      const x = tf.tensor4d(xv, shape as [number, number, number, number]);
      const y = conv.forward(x);
      const kw = data(conv.weight); // [3, 3, C/gc, 1]
      const bias = data(conv.bias!);
      const G = C / gc;
      const ref = naiveDW(xv, shape, 3, (_b, _h, _w, c, i, j) => kw[(i * 3 + j) * G + Math.floor(c / gc)]);
      for (let t = 0; t < ref.length; t++) ref[t] += bias[t % C];
      expect(maxAbsDiff(y.dataSync(), ref)).toBeLessThan(1e-5);
      expect(conv.paramCount()).toBe(9 * G + C);
      tf.dispose([x, y]);
      conv.dispose();
    }
  });

  it('DynamicDWConv: SE-style generator (official layout c·k² + t) and per-image kernels shared over positions', () => {
    const k = 3;
    const conv = new DynamicDWConv(C, k).build(3);
    conv.bias!.value.assign(tf.tensor1d([0.1, -0.2, 0.3, 0]));
    const x = tf.tensor4d(xv, shape as [number, number, number, number]);
    const y = conv.forward(x, evalCtx());
    // generator in eval mode: BN with fresh running stats (0, 1) divides by √(1 + eps)
    const pooled = new Float32Array(B * C);
    for (let b = 0; b < B; b++)
      for (let p = 0; p < H * W; p++)
        for (let c = 0; c < C; c++) pooled[b * C + c] += xv[(b * H * W + p) * C + c] / (H * W);
    const hid = naiveLinear(pooled, B, C, data(conv.reduce.weight), 1).map((v) => Math.max(0, v / Math.sqrt(1 + 1e-5)));
    const gen = naiveLinear(hid, B, 1, data(conv.expand.weight), C * k * k, data(conv.expand.bias!));
    const bias = data(conv.bias!);
    const ref = naiveDW(xv, shape, k, (b, _h, _w, c, i, j) => gen[b * C * k * k + c * k * k + i * k + j]);
    for (let t = 0; t < ref.length; t++) ref[t] += bias[t % C];
    expect(maxAbsDiff(y.dataSync(), ref)).toBeLessThan(1e-5);
    tf.dispose([x, y]);
    conv.dispose();
  });

  it('InhomogeneousDWConv: per-position kernels shared within channel groups (official CUDA kernel semantics)', () => {
    const k = 3;
    const gc = 2;
    const conv = new InhomogeneousDWConv(C, k, gc).build(4);
    const x = tf.tensor4d(xv, shape as [number, number, number, number]);
    const y = conv.forward(x, evalCtx());
    const G = C / gc;
    const hid = naiveLinear(xv, B * H * W, C, data(conv.reduce.weight), 1, data(conv.reduce.bias!)).map((v) =>
      Math.max(0, v / Math.sqrt(1 + 1e-5)),
    );
    const gen = naiveLinear(hid, B * H * W, 1, data(conv.expand.weight), G * k * k, data(conv.expand.bias!));
    const ref = naiveDW(
      xv,
      shape,
      k,
      (b, h, w, c, i, j) => gen[((b * H + h) * W + w) * G * k * k + Math.floor(c / gc) * k * k + i * k + j],
    );
    expect(maxAbsDiff(y.dataSync(), ref)).toBeLessThan(1e-5);
    // generator: C·C/4 + C/4 (bias) + 2·C/4 (BN) + C/4·G·k² + G·k²
    expect(conv.paramCount()).toBe(4 + 1 + 2 + 1 * G * 9 + G * 9);
    tf.dispose([x, y]);
    conv.dispose();
  });

  it('involution: hand-written backward equals autodiff of the plain shifted-view sum', () => {
    const [b, h, w, c, g, k] = [2, 4, 5, 6, 3, 3];
    const v = tf.tensor4d(randArray(b * h * w * c, 21), [b, h, w, c]);
    const wt = tf.tensor(randArray(b * h * w * g * k * k, 22), [b, h, w, g, k * k]);
    const r = tf.tensor4d(randArray(b * h * w * c, 23), [b, h, w, c]);
    const plain = (vv: tf.Tensor, ww: tf.Tensor) => {
      const pv = tf.pad(vv, [
        [0, 0],
        [1, 1],
        [1, 1],
        [0, 0],
      ]);
      let acc: tf.Tensor = tf.zeros([b * h * w, g, c / g]);
      for (let i = 0; i < k; i++)
        for (let j = 0; j < k; j++)
          acc = acc.add(
            pv
              .slice([0, i, j, 0], [b, h, w, c])
              .reshape([b * h * w, g, c / g])
              .mul(ww.reshape([b * h * w, g, k * k]).slice([0, 0, i * k + j], [-1, -1, 1])),
          );
      return acc.reshape([b, h, w, c]);
    };
    const loss = (f: (a: tf.Tensor, bb: tf.Tensor) => tf.Tensor) => (a: tf.Tensor, bb: tf.Tensor) =>
      f(a, bb).mul(r).sum();
    const [gv, gw] = tf.grads(loss((a, bb) => involution(a as tf.Tensor4D, bb, k)))([v, wt]);
    const [rv, rw] = tf.grads(loss(plain))([v, wt]);
    expect(maxAbsDiff(involution(v, wt, k).dataSync(), plain(v, wt).dataSync())).toBeLessThan(1e-5);
    expect(maxAbsDiff(gv.dataSync(), rv.dataSync())).toBeLessThan(1e-5);
    expect(maxAbsDiff(gw.dataSync(), rw.dataSync())).toBeLessThan(1e-5);
    tf.dispose([v, wt, r, gv, gw, rv, rw]);
  });

  it('SqueezeExcite gates each channel by sigmoid(MLP(GAP(x)))', () => {
    const se = new SqueezeExcite(C, 2).build(5);
    const x = tf.tensor4d(xv, shape as [number, number, number, number]);
    const y = se.forward(x, evalCtx());
    const pooled = new Float32Array(B * C);
    for (let b = 0; b < B; b++)
      for (let p = 0; p < H * W; p++)
        for (let c = 0; c < C; c++) pooled[b * C + c] += xv[(b * H * W + p) * C + c] / (H * W);
    const h1 = naiveLinear(pooled, B, C, data(se.fc1.weight), 2, data(se.fc1.bias!)).map((v) => Math.max(0, v));
    const g = naiveLinear(h1, B, 2, data(se.fc2.weight), C, data(se.fc2.bias!)).map((v) => 1 / (1 + Math.exp(-v)));
    const ref = xv.map((v, t) => v * g[Math.floor(t / (H * W * C)) * C + (t % C)]);
    expect(maxAbsDiff(y.dataSync(), ref)).toBeLessThan(1e-5);
    tf.dispose([x, y]);
    se.dispose();
  });
});

describe('macro-architecture pieces', () => {
  it('PatchEmbed equals a strided Conv2d(k = stride = p) with bias', () => {
    const pe = new PatchEmbed(3, 5, 2).build(1);
    const x = tf.tensor4d(randArray(2 * 6 * 6 * 3, 8), [2, 6, 6, 3]);
    const y = pe.forward(x, evalCtx());
    const ref = tf.conv2d(x, pe.weight.value as tf.Tensor4D, 2, 'valid').add(pe.bias.value);
    expect(maxAbsDiff(y.dataSync(), ref.dataSync())).toBeLessThan(1e-5);
    tf.dispose([x, y, ref]);
    pe.dispose();
  });

  it(
    'PatchMerging concatenates x[0::2,0::2], x[1::2,0::2], x[0::2,1::2], x[1::2,1::2], then LN(4C) and Linear ' +
      '4C→2C',
    () => {
      const C = 2;
      const pm = new PatchMerging(C, 1e-5).build(2);
      const xv = randArray(1 * 4 * 4 * C, 9);
      const x = tf.tensor4d(xv, [1, 4, 4, C]);
      const y = pm.forward(x, evalCtx());
      expect(y.shape).toEqual([1, 2, 2, 2 * C]);
      const rw = data(pm.reduction.weight);
      const ref: number[] = [];
      for (let i = 0; i < 2; i++)
        for (let j = 0; j < 2; j++) {
          const cat: number[] = [];
          for (const [dh, dw] of [
            [0, 0],
            [1, 0],
            [0, 1],
            [1, 1],
          ])
            for (let c = 0; c < C; c++) cat.push(xv[((2 * i + dh) * 4 + 2 * j + dw) * C + c]);
          const m = cat.reduce((a, b) => a + b, 0) / cat.length;
          const v = cat.reduce((a, b) => a + (b - m) ** 2, 0) / cat.length;
          const n = Float32Array.from(cat.map((u) => (u - m) / Math.sqrt(v + 1e-5)));
          ref.push(...naiveLinear(n, 1, 4 * C, rw, 2 * C));
        }
      expect(maxAbsDiff(y.dataSync(), ref)).toBeLessThan(1e-5);
      expect(pm.paramCount()).toBe(8 * C + 8 * C * C);
      tf.dispose([x, y]);
      pm.dispose();
    },
  );
});
