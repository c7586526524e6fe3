import { describe, it, expect, beforeAll } from 'vitest';
import * as tf from '@tensorflow/tfjs';
import { initBackend } from '../src/backend';
import { createModel, getModelEntry } from '../src/models';
import { type Eit, type EitBlock, type EitConfig, convChannelSplit, eitGridSize } from '../src/models/eit';
import { countMacs } from '../src/analysis/count';
import { makeCtx } from '../src/nn/module';
import { ConfigError } from '../src/util/errors';

beforeAll(async () => {
  await initBackend('wasm');
});

/** Plain-JS NHWC conv (PyTorch semantics: symmetric zero padding, floor output size) with optional bias. */
function refConv(
  x: Float32Array,
  [b, h, w, ci]: number[],
  wt: Float32Array,
  k: number,
  co: number,
  stride: number,
  pad: number,
  bias?: Float32Array,
) {
  const oh = Math.floor((h + 2 * pad - k) / stride) + 1;
  const ow = Math.floor((w + 2 * pad - k) / stride) + 1;
  const out = new Float32Array(b * oh * ow * co);
  for (let n = 0; n < b; n++)
    for (let i = 0; i < oh; i++)
      for (let j = 0; j < ow; j++)
        for (let o = 0; o < co; o++) {
          let s = bias ? bias[o] : 0;
          for (let u = 0; u < k; u++)
            for (let v = 0; v < k; v++) {
              const yi = i * stride + u - pad;
              const xj = j * stride + v - pad;
              if (yi < 0 || yi >= h || xj < 0 || xj >= w) continue;
              for (let c = 0; c < ci; c++)
                s += x[((n * h + yi) * w + xj) * ci + c] * wt[((u * k + v) * ci + c) * co + o];
            }
          out[((n * oh + i) * ow + j) * co + o] = s;
        }
  return { out, shape: [b, oh, ow, co] };
}

function refMaxPool(x: Float32Array, [b, h, w, c]: number[], p: number) {
  const oh = Math.floor(h / p);
  const ow = Math.floor(w / p);
  const out = new Float32Array(b * oh * ow * c).fill(-Infinity);
  for (let n = 0; n < b; n++)
    for (let i = 0; i < oh * p; i++)
      for (let j = 0; j < ow * p; j++)
        for (let ch = 0; ch < c; ch++) {
          const o = ((n * oh + Math.floor(i / p)) * ow + Math.floor(j / p)) * c + ch;
          out[o] = Math.max(out[o], x[((n * h + i) * w + j) * c + ch]);
        }
  return { out, shape: [b, oh, ow, c] };
}

/** Depth-wise k×k conv, padding k//2, no bias; x: [B, g, g, c], weight [k, k, c, 1]. */
function refDepthwise(x: Float32Array, b: number, g: number, c: number, wt: Float32Array, k: number) {
  const out = new Float32Array(b * g * g * c);
  const p = Math.floor(k / 2);
  for (let n = 0; n < b; n++)
    for (let i = 0; i < g; i++)
      for (let j = 0; j < g; j++)
        for (let ch = 0; ch < c; ch++) {
          let s = 0;
          for (let u = 0; u < k; u++)
            for (let v = 0; v < k; v++) {
              const yi = i + u - p;
              const xj = j + v - p;
              if (yi >= 0 && yi < g && xj >= 0 && xj < g)
                s += x[((n * g + yi) * g + xj) * c + ch] * wt[(u * k + v) * c + ch];
            }
          out[((n * g + i) * g + j) * c + ch] = s;
        }
  return out;
}

function expectClose(a: ArrayLike<number>, b: ArrayLike<number>, tol = 1e-4) {
  expect(a.length).toBe(b.length);
  let worst = 0;
  for (let i = 0; i < a.length; i++) worst = Math.max(worst, Math.abs(a[i] - b[i]) / (1 + Math.abs(b[i])));
  expect(worst).toBeLessThan(tol);
}

describe('EIT registry (docs/eit.md §2 table, 1000 classes, no pre-logits)', () => {
  it.each([
    ['eit-cifar', 3_079_010],
    ['eit-mini', 3_512_750],
    ['eit-tiny', 8_927_230],
    ['eit-base', 15_972_280],
    ['eit-large', 25_305_592],
  ])('%s has %i parameters, and the closed form agrees', (name, n) => {
    const m = createModel(name, {}, { build: false });
    expect(m.paramCount()).toBe(n);
    expect(getModelEntry(name).family.closedFormParams!(m.config)).toBe(n);
  });

  it('ablation switches change the count as docs/eit.md §2 says; the ViT baseline is EIT with every switch off', () => {
    // docs/eit.md §2: without EIT_T (pure attention everywhere) 3.78M
    expect(createModel('eit-cifar', { eitT: false }, { build: false }).paramCount()).toBe(3_776_510);
    expect(createModel('eit-cifar', { convSchedule: 'none' }, { build: false }).paramCount()).toBe(3_776_510);
    const vit = createModel('vit-eit-baseline', {}, { build: false }).paramCount();
    expect(vit).toBe(3_798_010);
    expect(
      createModel('eit-cifar', { eitP: false, eitT: false, posEmbed: 'learned' }, { build: false }).paramCount(),
    ).toBe(vit);
    // pre-logits of the eit_* factories with has_logits=True: Linear(250 → 768) + head from 768
    expect(createModel('eit-mini', { representationSize: 768 }, { build: false }).paramCount()).toBe(
      3_512_750 + 250 * 768 + 768 + 1000 * (768 - 250),
    );
  });

  it('token grid: 19×19 at 224 with 16/4/3 (57×57 conv output), 8×8 at 32 with 3/1/4 and with 4×4 patchify', () => {
    const g = (name: string, o = {}) => eitGridSize(createModel(name, o, { build: false }).config as EitConfig);
    expect(g('eit-mini')).toBe(19);
    expect(g('eit-cifar')).toBe(8);
    expect(g('eit-cifar', { eitP: false })).toBe(8);
  });
});

describe('decreasing convolution channel split (docs/eit.md §2)', () => {
  it('EIT-Mini (250, 5 blocks, 10 heads): (attention, conv) = (50,200) (100,150) (150,100) (200,50) (250,0)', () => {
    expect(convChannelSplit(250, 10, 5, 'decreasing')).toEqual([
      { attn: 50, conv: 200 },
      { attn: 100, conv: 150 },
      { attn: 150, conv: 100 },
      { attn: 200, conv: 50 },
      { attn: 250, conv: 0 },
    ]);
  });
  it('truncates as Python int(): EIT-Tiny 330/10 heads, 8 blocks → a_0 = int(33·1/8)·10 = 40', () => {
    const s = convChannelSplit(330, 10, 8, 'decreasing');
    expect(s.map((x) => x.attn)).toEqual([40, 80, 120, 160, 200, 240, 280, 330]);
  });
  it('the other schedules', () => {
    expect(convChannelSplit(250, 10, 5, 'increasing').map((s) => s.conv)).toEqual([0, 50, 100, 150, 200]);
    expect(convChannelSplit(250, 10, 5, 'constant-half').map((s) => s.attn)).toEqual([120, 120, 120, 120, 120]);
    expect(convChannelSplit(250, 10, 5, 'none').map((s) => s.conv)).toEqual([0, 0, 0, 0, 0]);
  });
  it('built blocks carry the split; head dim a_i/h varies', () => {
    const m = createModel('eit-cifar', {}, { build: false }) as Eit;
    expect(m.blocks.map((b) => (b.attn ? b.attn.dim / b.attn.heads : 0))).toEqual([5, 10, 15, 20, 25]);
    expect(m.blocks.map((b) => (b.conv ? b.conv.channels : 0))).toEqual([200, 150, 100, 50, 0]);
  });
  it('impossible configs are errors naming the values', () => {
    expect(() => createModel('eit-cifar', { embedDim: 40, numHeads: 10 }, { build: false })).toThrow(ConfigError);
    expect(() => createModel('eit-cifar', { embedDim: 40, numHeads: 10 }, { build: false })).toThrow(
      /block 0 0 attention channels for numHeads=10.*embedDim \/\/ numHeads = 4 ≥ depth = 5/,
    );
    expect(() => createModel('eit-cifar', { convSchedule: 'random' }, { build: false })).toThrow(
      /convSchedule.*decreasing, constant-half, increasing, none/,
    );
    expect(() => createModel('eit-cifar', { imageSize: 2 }, { build: false })).toThrow(/leaves no tokens/);
    expect(() => createModel('eit-cifar', { eitP: false, patchSize: 5 }, { build: false })).toThrow(
      /imageSize=32 is not divisible by patchSize=5/,
    );
  });
});

describe('EIT forward', () => {
  it('EIT_P equals a plain-JS conv (explicit PyTorch padding) + max-pool, for odd and even kernels', () => {
    for (const [K, S, P] of [
      [3, 1, 2],
      [4, 2, 3],
    ]) {
      const m = createModel(
        'eit-test',
        { imageSize: 13, kernelSize: K, strideSize: S, poolSize: P },
        { seed: 1 },
      ) as Eit;
      const x = tf.randomNormal([2, 13, 13, 3], 0, 1, 'float32', 7) as tf.Tensor4D;
      const y = tf.tidy(() => m.patchEmbed.forward(x, makeCtx({ training: false })));
      const conv = m.patchEmbed.conv;
      const c = refConv(
        x.dataSync() as Float32Array,
        [2, 13, 13, 3],
        conv.weight.value.dataSync() as Float32Array,
        K,
        16,
        S,
        Math.floor(K / 2),
        conv.bias!.value.dataSync() as Float32Array,
      );
      const p = refMaxPool(c.out, c.shape, P);
      const g = eitGridSize(m.config);
      expect(p.shape.slice(1, 3)).toEqual([g, g]);
      expect(y.shape).toEqual([2, g * g, 16]);
      expectClose(y.dataSync(), p.out);
      x.dispose();
      y.dispose();
      m.dispose();
    }
  });

  it(
    'block: conv channels of patch tokens get a depth-wise 3×3 conv, the class token passes them unchanged, the ' +
      'rest is MHSA',
    () => {
      const m = createModel('eit-test', {}, { seed: 2 }) as Eit;
      const blk: EitBlock = m.blocks[0];
      expect(blk.split).toEqual({ attn: 8, conv: 8 });
      // silence the MLP so the block output is x + mixer(LN(x))
      blk.mlp.fc2.weight.value.assign(tf.zerosLike(blk.mlp.fc2.weight.value));
      blk.mlp.fc2.bias!.value.assign(tf.zerosLike(blk.mlp.fc2.bias!.value));
      const ctx = makeCtx({ training: false });
      const x = tf.randomNormal([2, 17, 16], 0, 1, 'float32', 3) as tf.Tensor3D;
      const [out, xn, attn] = tf.tidy(() => {
        const xn = blk.norm1.forward(x) as tf.Tensor3D;
        return [blk.forward(x, ctx), xn, blk.attn!.forward(xn.slice([0, 0, 8], [2, 17, 8]), ctx)];
      });
      const o = out.arraySync() as number[][][];
      const n = xn.arraySync() as number[][][];
      const a = attn.arraySync() as number[][][];
      const xa = x.arraySync() as number[][][];
      const grid = new Float32Array(2 * 16 * 8);
      for (let b = 0; b < 2; b++)
        for (let t = 0; t < 16; t++) for (let c = 0; c < 8; c++) grid[(b * 16 + t) * 8 + c] = n[b][t + 1][c];
      const dw = refDepthwise(grid, 2, 4, 8, blk.conv!.dw.weight.value.dataSync() as Float32Array, 3);
      const got: number[] = [];
      const want: number[] = [];
      for (let b = 0; b < 2; b++)
        for (let t = 0; t < 17; t++)
          for (let c = 0; c < 16; c++) {
            got.push(o[b][t][c] - xa[b][t][c]);
            if (c >= 8) want.push(a[b][t][c - 8]);
            else if (t === 0) want.push(n[b][0][c]);
            else want.push(dw[(b * 16 + t - 1) * 8 + c]);
          }
      expectClose(got, want, 1e-4);
      for (const t of [out, xn, attn, x]) t.dispose();
      m.dispose();
    },
  );

  it(
    'records attention per block ([B, h, T, T]) and token maps per layer; same seed → same logits; tensor count ' +
      'flat',
    () => {
      const m = createModel('eit-test', {}, { seed: 5 });
      const m2 = createModel('eit-test', {}, { seed: 5 });
      const x = tf.randomUniform([2, 8, 8, 3], -1, 1, 'float32', 1) as tf.Tensor4D;
      const seen: Record<string, number[]> = {};
      const ctx = makeCtx({ training: false, record: (k, v) => (seen[k] = v.shape) });
      const before = tf.memory().numTensors;
      const y = m.forward(x, ctx);
      const y2 = m2.forward(x, makeCtx({ training: false }));
      expect(y.shape).toEqual([2, 10]);
      expect(Array.from(y.dataSync())).toEqual(Array.from(y2.dataSync()));
      expect(seen).toEqual({
        'tokens.embed': [2, 17, 16],
        'attn.0': [2, 2, 17, 17],
        'tokens.0': [2, 17, 16],
        'attn.1': [2, 2, 17, 17],
        'tokens.1': [2, 17, 16],
      });
      y.dispose();
      y2.dispose();
      expect(tf.memory().numTensors).toBe(before);
      // training mode with dropout and drop path stays deterministic given the ctx seed, and leaks nothing
      const md = createModel('eit-test', { dropout: 0.2, attnDropout: 0.15, dropPath: 0.2 }, { seed: 5 });
      const before2 = tf.memory().numTensors;
      const t1 = md.forward(x, makeCtx({ training: true, seed: 9 }));
      const t2 = md.forward(x, makeCtx({ training: true, seed: 9 }));
      expect(Array.from(t1.dataSync())).toEqual(Array.from(t2.dataSync()));
      tf.dispose([t1, t2]);
      expect(tf.memory().numTensors).toBe(before2);
      for (const mm of [m, m2, md]) mm.dispose();
      x.dispose();
    },
  );

  it('eit-test MACs match the closed form; attention matmuls are reported separately', () => {
    const m = createModel('eit-test');
    const r = countMacs(m);
    const T = 17;
    const stem = 8 * 8 * 16 * 3 * 9;
    const blocks = [8, 16].reduce((s, a) => s + T * 4 * a * a + T * 2 * 16 * 64, 0) + 16 * 8 * 9;
    expect(r.macsWithoutAttention).toBe(stem + blocks + 16 * 10);
    expect(r.macs - r.macsWithoutAttention).toBe(2 * T * T * (8 + 16));
    m.dispose();
  });

  it('EIT-CIFAR: ~212M MACs with attention, ~261M without EIT_T (docs/eit.md §2, within 1%)', () => {
    for (const [o, want] of [
      [{}, 212e6],
      [{ eitT: false }, 261e6],
    ] as const) {
      const m = createModel('eit-cifar', o);
      expect(Math.abs(countMacs(m).macs / want - 1)).toBeLessThan(0.01);
      m.dispose();
    }
  });

  it('EIT-Mini at 224: 1.73G MACs without attention matmuls and 1.93G with them (docs/eit.md §2, within 1%)', () => {
    const m = createModel('eit-mini');
    const r = countMacs(m);
    expect(Math.abs(r.macsWithoutAttention / 1.73e9 - 1)).toBeLessThan(0.01);
    expect(Math.abs(r.macs / 1.93e9 - 1)).toBeLessThan(0.01);
    m.dispose();
  });
});
