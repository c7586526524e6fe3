import { describe, it, expect, beforeAll } from 'vitest';
import * as tf from '@tensorflow/tfjs';
import { initBackend } from '../src/backend';
import { createModel } from '../src/models';
import { makeCtx } from '../src/nn/module';

beforeAll(async () => {
  await initBackend('cpu');
});

describe('mLiT gradients against central finite differences (cpu)', () => {
  it(
    'cross-entropy + balancing loss: router (W_g, W_noise), private W_e, shared V and W2, attention, position ' +
      'table',
    () => {
      // dropout off so that the loss is a deterministic function of the weights; routing noise fixed by the ctx seed
      const m = createModel('mlit-test', { dropout: 0, headDropout: 0 }, { seed: 2 });
      const x = tf.randomUniform([4, 8, 8, 3], -1, 1, 'float32', 1) as tf.Tensor4D;
      const y = tf.oneHot(tf.tensor1d([1, 3, 5, 7], 'int32'), 10);
      const loss = () =>
        tf.tidy(() => {
          const ctx = makeCtx({ training: true, seed: 17 });
          const logits = m.forward(x, ctx);
          return tf.losses.softmaxCrossEntropy(y, logits).add(tf.addN(ctx.aux.map((a) => a.value))) as tf.Scalar;
        });
      const named = new Map(m.namedParams());
      const checked = [
        'blocks.0.moe.router.w_gate',
        'blocks.2.moe.router.w_noise',
        'blocks.1.moe.experts.w',
        'blocks.1.moe.experts.v.weight',
        'blocks.2.moe.experts.w2.weight',
        'blocks.0.attn.k.weight',
        'pos_embed',
      ];
      const { value, grads } = tf.variableGrads(
        loss,
        checked.map((n) => named.get(n)!.value),
      );
      value.dispose();
      const eps = 2e-3;
      for (const name of checked) {
        const v = named.get(name)!.value;
        const g = grads[v.name].dataSync();
        // the entry with the largest analytic gradient, where float32 differences are most reliable
        let i = 0;
        for (let j = 1; j < g.length; j++) if (Math.abs(g[j]) > Math.abs(g[i])) i = j;
        const orig = v.dataSync().slice();
        const at = (d: number) => {
          const w = orig.slice();
          w[i] += d;
          v.assign(tf.tensor(w, v.shape));
          const l = loss();
          const out = l.dataSync()[0];
          l.dispose();
          return out;
        };
        const fd = (at(eps) - at(-eps)) / (2 * eps);
        v.assign(tf.tensor(orig, v.shape));
        expect(Math.abs(g[i]), name).toBeGreaterThan(1e-4);
        expect(Math.abs(fd - g[i]), `${name}[${i}]: finite difference ${fd} vs analytic ${g[i]}`).toBeLessThan(
          0.03 * Math.abs(g[i]) + 2e-4,
        );
      }
      tf.dispose([x, y, ...Object.values(grads)]);
      m.dispose();
    },
  );
});
