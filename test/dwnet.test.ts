import { describe, it, expect, beforeAll } from 'vitest';
import * as tf from '@tensorflow/tfjs';
import { initBackend } from '../src/backend';
import { createModel, getModelEntry, listModels } from '../src/models';
import { makeCtx } from '../src/nn/module';
import { countMacs } from '../src/analysis/count';
import { ConfigError } from '../src/util/errors';
import type { LocalVisionNet, DwnetConfig } from '../src/models/dwnet';

beforeAll(async () => {
  await initBackend('wasm');
});

const TEST_MODELS = ['localvit-test', 'dwnet-test', 'ddwnet-test', 'iddwnet-test'];

describe('dwnet registry: paper parameter counts (docs/dwnet.md §2, official dwnet.py at 224², 1000 classes)', () => {
  const official: Array<[string, number]> = [
    ['dwnet-tiny', 24_172_744], // 24.17M
    ['ddwnet-tiny', 51_131_752], // 51.13M
    ['iddwnet-tiny', 26_244_280], // 26.24M
    ['dwnet-base', 74_347_112], // 74.35M
    ['ddwnet-base', 161_597_928], // 161.60M
    ['iddwnet-base', 80_253_608], // 80.25M
    ['swin-tiny', 28_288_354], // Swin-T (official 28.29M)
    ['swin-base', 87_768_224], // Swin-B (official 87.77M)
  ];
  for (const [name, n] of official) {
    it(`${name}: ${n.toLocaleString('en-US')} parameters`, () => {
      const m = createModel(name, {}, { build: false });
      expect(m.paramCount()).toBe(n);
      expect(getModelEntry(name).family.closedFormParams!(m.config)).toBe(n);
      expect(getModelEntry(name).tags).toContain('paper');
    });
  }

  it('the docs/dwnet.md §2 table in millions (rounded to 0.01M)', () => {
    const m = (name: string) => Math.round(createModel(name, {}, { build: false }).paramCount() / 1e4) / 100;
    expect([
      m('dwnet-tiny'),
      m('ddwnet-tiny'),
      m('iddwnet-tiny'),
      m('dwnet-base'),
      m('ddwnet-base'),
      m('iddwnet-base'),
    ]).toEqual([24.17, 51.13, 26.24, 74.35, 161.6, 80.25]);
  });

  it('closed form equals the built modules for every variant and switch', () => {
    const cases: Array<[string, Record<string, unknown>]> = [
      ...listModels({ family: 'dwnet' })
        .filter((e) => !e.tags.includes('paper'))
        .map((e) => [e.name, {}] as [string, Record<string, unknown>]),
      ['dwnet-mini', { dwSharing: 'head' }],
      ['localvit-mini', { attnWeights: 'channel' }],
      ['dwnet-mini', { se: true }],
      ['iddwnet-mini', { se: true, kernelSize: 3 }],
      ['localvit-mini', { se: true, relativePositionBias: false }],
      ['localvit-test', { windowSize: 8 }], // window clipped to the map: bias table of the map's size
    ];
    for (const [name, ov] of cases) {
      const m = createModel(name, ov, { build: false });
      const built = m.namedParams().reduce((s, [, p]) => s + (p.trainable ? p.size : 0), 0);
      expect(getModelEntry(name).family.closedFormParams!(m.config), `${name} ${JSON.stringify(ov)}`).toBe(built);
    }
  });

  it('test variants are tiny and tagged; mini variants exist for all four block types', () => {
    for (const n of TEST_MODELS) {
      expect(getModelEntry(n).tags).toContain('test');
      expect(createModel(n, {}, { build: false }).paramCount()).toBeLessThan(50_000);
    }
    const blocks = ['localvit-mini', 'dwnet-mini', 'ddwnet-mini', 'iddwnet-mini'].map(
      (n) => createModel<DwnetConfig>(n, {}, { build: false }).config.block,
    );
    expect(blocks).toEqual(['attn', 'dw', 'ddw', 'iddw']);
  });

  it('weight-sharing switches change exactly the spatial weights', () => {
    const count = (n: string, ov = {}) => createModel(n, ov, { build: false }).paramCount();
    // DW kernels shared over a head (32 channels): k²·(C − heads) fewer per block
    const mini = { C: [32, 64, 128], heads: [1, 2, 4] };
    const saved = mini.C.reduce((s, c, i) => s + 2 * 25 * (c - mini.heads[i]), 0);
    expect(count('dwnet-mini') - count('dwnet-mini', { dwSharing: 'head' })).toBe(saved);
    // per-channel attention: one relative-position-bias column per channel (window 4 → 49 rows)
    const extra = mini.C.reduce((s, c, i) => s + 2 * 49 * (c - mini.heads[i]), 0);
    expect(count('localvit-mini', { attnWeights: 'channel' }) - count('localvit-mini')).toBe(extra);
  });
});

describe('dwnet configs: errors name the values', () => {
  it('rejects impossible geometry', () => {
    expect(() => createModel('dwnet-mini', { kernelSize: 4 }, { build: false })).toThrow(/kernelSize=4 must be odd/);
    expect(() => createModel('localvit-mini', { windowSize: 3 }, { build: false })).toThrow(
      /16×16 is not divisible by windowSize=3/,
    );
    expect(() => createModel('dwnet-mini', { numHeads: [1, 2] }, { build: false })).toThrow(
      /numHeads=1,2 has 2 entries; expected one per stage \(3/,
    );
    expect(() => createModel('iddwnet-mini', { groupChannels: [3, 2, 4] }, { build: false })).toThrow(
      /width 32 is not divisible by groupChannels\[0\]=3/,
    );
    expect(() => createModel('dwnet-mini', { imageSize: 36 }, { build: false })).toThrow(ConfigError);
    expect(() => createModel('dwnet-mini', { block: 'conv' }, { build: false })).toThrow(/block.*attn, dw, ddw, iddw/);
  });
});

describe('dwnet forward: shapes, MACs, backends, memory', () => {
  it('mini MACs: DW blocks count 1×1 convs, k×k depth-wise convs, MLPs, merging, head', () => {
    const m = createModel('dwnet-mini');
    const r = countMacs(m);
    // per block at (res r, width c): 2c² (1×1 convs) + 8c² (MLP) per position, 25c depth-wise per position
    const stages = [
      [16, 32],
      [8, 64],
      [4, 128],
    ];
    let lin = 0;
    let conv = 256 * 32 * 12; // patch embedding 2×2×3 → 32
    for (const [res, c] of stages) {
      lin += 2 * res * res * 10 * c * c;
      conv += 2 * res * res * 25 * c;
    }
    lin += 64 * 128 * 64 + 16 * 256 * 128; // patch merging 4C→2C at 8² and 4²
    lin += 128 * 100; // head
    expect(r.byKind.linear).toBe(lin);
    expect(r.byKind.conv).toBe(conv);
    expect(r.byKind.attention).toBe(0);
    m.dispose();
  });

  it('local attention counts q·kᵀ and a·v per window', () => {
    const m = createModel('localvit-mini');
    const r = countMacs(m);
    // 2·N·d per token per head = 2·16·C per token (window 4 → N = 16), over 256, 64, 16 tokens
    expect(r.byKind.attention).toBe(2 * (2 * 16 * 32 * 256 + 2 * 16 * 64 * 64 + 2 * 16 * 128 * 16));
    m.dispose();
  });

  it('every test variant: same logits on wasm and cpu, tensor count flat', async () => {
    const x = tf.randomUniform([2, 8, 8, 3], -1, 1, 'float32', 4) as tf.Tensor4D;
    const xv = x.dataSync().slice();
    x.dispose();
    const out: Record<string, Float32Array[]> = {};
    for (const backend of ['wasm', 'cpu'] as const) {
      await initBackend(backend);
      const xb = tf.tensor4d(xv, [2, 8, 8, 3]);
      for (const n of TEST_MODELS) {
        const m = createModel(n, {}, { seed: 5 });
        const before = tf.memory().numTensors;
        for (const training of [true, false]) {
          const y = m.forward(xb, makeCtx({ training, seed: 1 }));
          expect(y.shape).toEqual([2, 10]);
          if (!training) {
            out[n] ??= [];
            out[n].push(y.dataSync().slice() as Float32Array);
          }
          y.dispose();
        }
        expect(tf.memory().numTensors, `${n} on ${backend}`).toBe(before);
        m.dispose();
      }
      xb.dispose();
    }
    await initBackend('wasm');
    for (const n of TEST_MODELS) {
      const [a, b] = out[n];
      for (let i = 0; i < a.length; i++) expect(Math.abs(a[i] - b[i]), n).toBeLessThan(1e-4);
    }
  });

  it('training-mode BatchNorm updates running statistics; eval mode uses them', () => {
    const m = createModel('dwnet-test', {}, { seed: 1 }) as LocalVisionNet;
    const bn = m.layers[0].blocks[0] as unknown as { bn: { runningMean: { value: tf.Tensor } } };
    const x = tf.randomUniform([4, 8, 8, 3], -1, 1, 'float32', 2) as tf.Tensor4D;
    const r0 = bn.bn.runningMean.value.dataSync().slice();
    m.forward(x, makeCtx({ training: false })).dispose();
    expect(Array.from(bn.bn.runningMean.value.dataSync())).toEqual(Array.from(r0));
    m.forward(x, makeCtx({ training: true })).dispose();
    expect(Array.from(bn.bn.runningMean.value.dataSync())).not.toEqual(Array.from(r0));
    x.dispose();
    m.dispose();
  });
});

describe('dwnet gradients on cpu (cpu/wasm agreement of every test variant: test/registry.test.ts)', () => {
  it('every trainable parameter of every test variant gets a finite gradient; memory flat over steps', async () => {
    await initBackend('cpu');
    try {
      const x = tf.randomUniform([2, 8, 8, 3], -1, 1, 'float32', 6) as tf.Tensor4D;
      for (const n of TEST_MODELS) {
        const m = createModel(n, {}, { seed: 2 });
        const vars = m.trainableVariables();
        const step = () => {
          const { value, grads } = tf.variableGrads(
            () =>
              m
                .forward(x, makeCtx({ training: true, seed: 3 }))
                .square()
                .mean() as tf.Scalar,
            vars,
          );
          const norms = vars.map((v) => tf.tidy(() => grads[v.name].abs().max().dataSync()[0]));
          tf.dispose([value, ...Object.values(grads)]);
          return norms;
        };
        step();
        const before = tf.memory().numTensors;
        const norms = step();
        expect(tf.memory().numTensors, n).toBe(before);
        expect(norms.every(Number.isFinite), n).toBe(true);
        // the generators' BN betas before a linear layer can be the only exception; everything else moves
        expect(norms.filter((g) => g > 0).length, n).toBeGreaterThan(0.9 * norms.length);
        m.dispose();
      }
      x.dispose();
    } finally {
      await initBackend('wasm');
    }
  });

  it('dynamic kernel generators: analytic gradient matches central finite differences (cpu)', async () => {
    await initBackend('cpu');
    try {
      const x = tf.randomUniform([2, 8, 8, 3], -1, 1, 'float32', 7) as tf.Tensor4D;
      for (const n of ['ddwnet-test', 'iddwnet-test', 'localvit-test']) {
        const m = createModel(n, {}, { seed: 4 });
        const named = m
          .namedParams()
          .filter(
            ([p, q]) => q.trainable && /conv\.conv2\.weight|conv\.conv1\.weight|relative_position_bias_table/.test(p),
          );
        expect(named.length, n).toBeGreaterThan(0);
        const r = tf.randomNormal([2, 10], 0, 1, 'float32', 8);
        const loss = () =>
          m
            .forward(x, makeCtx({ training: false }))
            .mul(r)
            .sum() as tf.Scalar;
        for (const [path, p] of named.slice(0, 2)) {
          const v = p.value;
          const g = tf.variableGrads(loss, [v]);
          const gv = g.grads[v.name].dataSync().slice();
          tf.dispose([g.value, ...Object.values(g.grads)]);
          const orig = v.dataSync().slice();
          for (const idx of [0, Math.floor(orig.length / 2)]) {
            const eps = 1e-2;
            const at = (delta: number) => {
              const a = orig.slice();
              a[idx] += delta;
              v.assign(tf.tensor(a, v.shape));
              return tf.tidy(() => loss().dataSync()[0]);
            };
            const fd = (at(eps) - at(-eps)) / (2 * eps);
            v.assign(tf.tensor(orig, v.shape));
            expect(Math.abs(fd - gv[idx]), `${n} ${path}[${idx}]: fd ${fd} vs ${gv[idx]}`).toBeLessThan(
              2e-3 + 0.03 * Math.abs(fd),
            );
          }
        }
        r.dispose();
        m.dispose();
      }
      x.dispose();
    } finally {
      await initBackend('wasm');
    }
  });
});
