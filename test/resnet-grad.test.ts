import { describe, it, expect, beforeAll } from 'vitest';
import * as tf from '@tensorflow/tfjs';
import { initBackend } from '../src/backend';
import { createModel } from '../src/models';
import type { Param } from '../src/nn/module';
import { checkGradients, expectTrainsWithFlatTensorCount } from './eit-gradcheck';

// Gradients of conv models run on `cpu` until the wasm conv backprop kernels land (backend work).
beforeAll(async () => {
  await initBackend('cpu');
});

describe('CIFAR ResNet gradients (cpu)', () => {
  it.each(['resnet-test', 'resnet-b-test'])(
    '%s: stem, block convs, BN, shortcut projection and fc match finite differences',
    (name) => {
      const m = createModel(name, {}, { seed: 2 });
      // evaluation mode (running statistics): the loss is a smooth function of each weight away from ReLU kinks
      const x = tf.randomNormal([2, 8, 8, 3], 0, 1, 'float32', 3) as tf.Tensor4D;
      const named = new Map(m.namedParams());
      const pick = [
        'conv1.weight',
        'layers.0.conv1.weight',
        'layers.1.conv2.weight',
        'layers.1.bn1.gamma',
        'fc.weight',
      ];
      if (name === 'resnet-b-test') pick.push('layers.1.shortcut.weight');
      // a small step: ReLU and max-pool kinks sit within 1e-2 of some weights
      const rows = checkGradients(
        m,
        x,
        pick.map((n) => [n, named.get(n)!] as [string, Param]),
        3,
        1e-3,
      );
      for (const row of rows)
        expect(Math.abs(row.analytic - row.numeric), JSON.stringify(row)).toBeLessThan(
          1.5e-2 * Math.abs(row.numeric) + 1e-3,
        );
      m.dispose();
      x.dispose();
    },
  );

  it('trains in training mode (batch statistics); tensor count flat over steps', () => {
    expectTrainsWithFlatTensorCount('resnet-test');
  });
});
