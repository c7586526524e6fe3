import { describe, it, expect, beforeAll } from 'vitest';
import * as tf from '@tensorflow/tfjs';
import { initBackend } from '../src/backend';
import { createModel, getModelEntry } from '../src/models';
import { type ResNet, type ResNetConfig, BasicBlock } from '../src/models/resnet';
import { countMacs } from '../src/analysis/count';
import { makeCtx } from '../src/nn/module';
import { ConfigError } from '../src/util/errors';

beforeAll(async () => {
  await initBackend('wasm');
});

describe('CIFAR ResNets: parameter counts against the well-known values (10 classes)', () => {
  it.each([
    ['resnet18-cifar', 11_173_962], // the common CIFAR ResNet-18 (11.17M)
    ['resnet56-cifar', 853_018], // He et al. Table 6: 0.85M (option A)
    ['resnet56-cifar-b', 855_770], // option A + two 1×1 projections with BN (16→32, 32→64)
    ['resnet20-cifar', 269_722], // He et al. Table 6: 0.27M
  ])('%s has %i parameters, and the closed form agrees', (name, n) => {
    const m = createModel(name, {}, { build: false });
    expect(m.paramCount()).toBe(n);
    expect(getModelEntry(name).family.closedFormParams!(m.config)).toBe(n);
  });

  it(
    'EIT-CIFAR has 27.6% of ResNet-18-CIFAR parameters (the v1 abstract claims "17.7%" of a ResNet it does not ' +
      'name)',
    () => {
      const ratio =
        createModel('eit-cifar', {}, { build: false }).paramCount() /
        createModel('resnet18-cifar', {}, { build: false }).paramCount();
      expect(ratio).toBeCloseTo(0.2756, 3);
    },
  );

  it('bad configs are errors naming the values', () => {
    expect(() => createModel('resnet56-cifar', { widths: [16, 32], blocks: [9, 9, 9] }, { build: false })).toThrow(
      /widths=\[16,32\] and blocks=\[9,9,9\]/,
    );
    expect(() => createModel('resnet56-cifar', { widths: [32, 16, 64] }, { build: false })).toThrow(ConfigError);
    expect(() => createModel('resnet56-cifar', { widths: [32, 16, 64] }, { build: false })).toThrow(
      /32 → 16.*shortcut='B'/,
    );
    expect(() => createModel('resnet56-cifar', { shortcut: 'C' }, { build: false })).toThrow(/shortcut.*A, B/);
  });
});

/** Conv MACs of a CIFAR ResNet, computed from the architecture table (3×3 convs at 32/16/8 pixels, 1×1 projections). */
function resnetMacs(c: ResNetConfig): number {
  let hw = c.imageSize;
  let macs = hw * hw * c.stemChannels * c.inChannels * 9;
  let cin = c.stemChannels;
  c.widths.forEach((w, s) => {
    for (let j = 0; j < c.blocks[s]; j++) {
      const stride = s > 0 && j === 0 ? 2 : 1;
      hw /= stride;
      macs += hw * hw * w * cin * 9 + hw * hw * w * w * 9;
      if (c.shortcut === 'B' && (stride !== 1 || cin !== w)) macs += hw * hw * w * cin;
      cin = w;
    }
  });
  return macs + cin * c.numClasses;
}

describe('CIFAR ResNets forward', () => {
  it('ResNet-56 MACs: 125.5M, matching the architecture table', () => {
    const m = createModel('resnet56-cifar');
    const r = countMacs(m);
    expect(r.macs).toBe(resnetMacs(m.config as ResNetConfig));
    expect(r.macs / 1e6).toBeCloseTo(125.49, 1);
    m.dispose();
  });

  it('option-A shortcut: stride-2 subsampling (even rows/cols) then zero channels on both sides', () => {
    const blk = new BasicBlock(2, 6, 2, 'A').build(1);
    expect(blk.paramCount()).toBe(2 * 6 * 9 + 6 * 6 * 9 + 4 * 6);
    // zero the residual branch's last BN scale and shift: the block output is relu(shortcut(x))
    blk.bn2.gamma.value.assign(tf.zeros([6]));
    const x = tf.randomNormal([1, 4, 4, 2], 0, 1, 'float32', 2) as tf.Tensor4D;
    const y = blk.forward(x, makeCtx({ training: false }));
    const xa = x.arraySync()[0];
    const ya = y.arraySync()[0];
    for (let i = 0; i < 2; i++)
      for (let j = 0; j < 2; j++)
        expect(ya[i][j].map((v) => +v.toFixed(5))).toEqual([
          0,
          0,
          ...xa[2 * i][2 * j].map((v) => +Math.max(0, v).toFixed(5)),
          0,
          0,
        ]);
    tf.dispose([x, y]);
    blk.dispose();
  });

  it('BatchNorm: training updates running statistics, evaluation uses them; forward leaks nothing', () => {
    const m = createModel('resnet-b-test', {}, { seed: 3 }) as ResNet;
    const x = tf.randomNormal([4, 8, 8, 3], 2, 3, 'float32', 4) as tf.Tensor4D;
    const before = tf.memory().numTensors;
    const e1 = m.forward(x, makeCtx({ training: false }));
    const rm0 = m.stemBn.runningMean.value.dataSync().slice();
    const t = m.forward(x, makeCtx({ training: true }));
    const rm1 = m.stemBn.runningMean.value.dataSync();
    expect(Array.from(rm0).every((v) => v === 0)).toBe(true);
    expect(Array.from(rm1).some((v) => Math.abs(v) > 1e-3)).toBe(true);
    const e2 = m.forward(x, makeCtx({ training: false }));
    expect(Array.from(e2.dataSync())).not.toEqual(Array.from(e1.dataSync()));
    expect(t.shape).toEqual([4, 10]);
    tf.dispose([e1, e2, t]);
    expect(tf.memory().numTensors).toBe(before);
    m.dispose();
    x.dispose();
  });
});
