import { describe, it, expect, beforeAll } from 'vitest';
import * as tf from '@tensorflow/tfjs';
import { initBackend } from '../src/backend';
import { createModel, getModelEntry } from '../src/models';
import { countMacs } from '../src/analysis/count';
import { makeCtx } from '../src/nn/module';
import { ConfigError, UnknownNameError } from '../src/util/errors';

beforeAll(async () => {
  await initBackend('wasm');
});

describe('vit registry entries', () => {
  it('bench-vit has the PyTorch reference script parameter count (456,384)', () => {
    const m = createModel('bench-vit', {}, { build: false });
    expect(m.paramCount()).toBe(456_384);
    expect(getModelEntry('bench-vit').family.closedFormParams!(m.config)).toBe(456_384);
  });

  it('bench-vit MACs: linear layers plus attention matmuls', () => {
    const m = createModel('bench-vit');
    const r = countMacs(m);
    // per block: qkv 64·96·288 + proj 64·96·96 + fc1/fc2 2·64·96·192; attention 2·64·64·96; embed 64·48·96; head 96·10
    const lin = 6 * (64 * 96 * 288 + 64 * 96 * 96 + 2 * 64 * 96 * 192) + 64 * 48 * 96 + 96 * 10;
    expect(r.macsWithoutAttention).toBe(lin);
    expect(r.macs - r.macsWithoutAttention).toBe(6 * 2 * 64 * 64 * 96);
    m.dispose();
  });

  it('unknown keys and impossible dims are errors naming the values', () => {
    expect(() => createModel('vit', { embdDim: 3 }, { build: false })).toThrow(
      /unknown config key 'embdDim'.*embedDim/,
    );
    expect(() => createModel('vit', { embedDim: 100, numHeads: 3 }, { build: false })).toThrow(ConfigError);
    expect(() => createModel('vit', { embedDim: 100, numHeads: 3 }, { build: false })).toThrow(
      /embedDim=100 is not divisible by numHeads=3/,
    );
    expect(() => createModel('vit', { imageSize: 30, patchSize: 4 }, { build: false })).toThrow(
      /imageSize=30.*patchSize=4/,
    );
    expect(() => createModel('vit', { pool: 'max' }, { build: false })).toThrow(/pool.*cls, mean/);
    expect(() => createModel('no-such-model')).toThrow(UnknownNameError);
  });

  it('same seed gives identical weights and logits; forward keeps tensor count flat', () => {
    const a = createModel('vit-tiny-test', {}, { seed: 3 });
    const b = createModel('vit-tiny-test', {}, { seed: 3 });
    const x = tf.randomUniform([2, 8, 8, 3], -1, 1, 'float32', 1) as tf.Tensor4D;
    const before = tf.memory().numTensors;
    const ya = a.forward(x, makeCtx({ training: false }));
    const yb = b.forward(x, makeCtx({ training: false }));
    expect(ya.shape).toEqual([2, 10]);
    expect(Array.from(ya.dataSync())).toEqual(Array.from(yb.dataSync()));
    ya.dispose();
    yb.dispose();
    expect(tf.memory().numTensors).toBe(before);
    a.dispose();
    b.dispose();
    x.dispose();
  });
});
