import { describe, it, expect, beforeAll } from 'vitest';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import * as tf from '@tensorflow/tfjs';
import { initBackend } from '../src/backend';
import { createModel, listModels } from '../src/models';
import { makeCtx } from '../src/nn/module';
import { randomPatchMask, visibleCount, maeLoss, MaeDecoder, gatherPatches } from '../src/nn/mae';
import { type MaePretrainer, maeVitClosedFormMacs, type MaeVitConfig } from '../src/models/mae';
import { countMacs } from '../src/analysis/count';
import { Rng } from '../src/util/rng';
import { train } from '../src/train/trainer';
import { defaultRecipe } from '../src/train/recipes';
import { saveCheckpoint, loadCheckpoint } from '../src/train/checkpoint';
import { maeLossFn, fineTuneInit, linearProbeLossFn, reconstructionSamples } from '../src/train/mae';
import type { Recipe } from '../src/train/types';
import { tinyDataset } from './helpers/tiny-data';

const tmp = () => fs.mkdtempSync(path.join(os.tmpdir(), 'lightvit-mae-'));
const recipe = (over: Partial<Recipe> = {}): Recipe => ({
  ...defaultRecipe('smoke'),
  epochs: 1,
  batchSize: 8,
  maxStepsPerEpoch: 3,
  trainSubset: 0,
  maxEvalImages: 0,
  warmupEpochs: 0,
  lr: 3e-3,
  ...over,
});
const values = (t: tf.Tensor) => Array.from(t.dataSync());

beforeAll(async () => {
  await initBackend('wasm');
});

describe('per-image random masking', () => {
  it('keeps exactly ⌊N(1−r)⌋ patches per image, visible and masked partition the grid', () => {
    for (const [N, r, nv] of [
      [36, 0.75, 9],
      [64, 0.75, 16],
      [16, 0.5, 8],
      [10, 0.9, 1],
      [49, 0.6, 19],
    ] as const) {
      expect(visibleCount(N, r)).toBe(nv);
      const m = randomPatchMask(5, N, r, new Rng(3));
      expect(m.numVisible).toBe(nv);
      expect(m.numMasked).toBe(N - nv);
      for (let b = 0; b < 5; b++) {
        const vis = Array.from(m.visible.subarray(b * nv, (b + 1) * nv));
        const msk = Array.from(m.masked.subarray(b * (N - nv), (b + 1) * (N - nv)));
        expect([...vis, ...msk].sort((a, c) => a - c)).toEqual(Array.from({ length: N }, (_, i) => i));
      }
    }
    expect(() => visibleCount(4, 0.9)).toThrow(/no visible patch/);
    expect(() => visibleCount(4, 1)).toThrow(/maskRatio=1/);
  });

  it('differs per image and is deterministic given the seed', () => {
    const a = randomPatchMask(4, 36, 0.75, new Rng(11));
    const b = randomPatchMask(4, 36, 0.75, new Rng(11));
    const c = randomPatchMask(4, 36, 0.75, new Rng(12));
    expect(Array.from(a.visible)).toEqual(Array.from(b.visible));
    expect(Array.from(a.visible)).not.toEqual(Array.from(c.visible));
    const rows = [0, 1, 2, 3].map((i) => Array.from(a.visible.subarray(i * 9, (i + 1) * 9)).join(','));
    expect(new Set(rows).size).toBe(4);
  });

  it('gathers the rows each image keeps', () => {
    const x = tf.tensor3d(
      Array.from({ length: 2 * 4 * 2 }, (_, i) => i),
      [2, 4, 2],
    );
    const g = gatherPatches(x, Int32Array.from([1, 3, 0, 2]), 2);
    expect(values(g)).toEqual([2, 3, 6, 7, 8, 9, 12, 13]);
    tf.dispose([x, g]);
  });
});

describe('reconstruction loss (golden values)', () => {
  it('equals masked MSE + 0.1 · visible MSE computed by hand', () => {
    // one image, 2 visible and 2 masked patches of 2 values
    const pv = tf.tensor3d([
      [
        [1, 2],
        [0, 0],
      ],
    ]);
    const tv = tf.tensor3d([
      [
        [0, 2],
        [1, 1],
      ],
    ]); // squared errors 1,0,1,1 → MSE 0.75
    const pm = tf.tensor3d([
      [
        [3, 1],
        [2, 2],
      ],
    ]);
    const tm = tf.tensor3d([
      [
        [1, 1],
        [2, 0],
      ],
    ]); // squared errors 4,0,0,4 → MSE 2
    const out = maeLoss(
      { visible: pv, masked: pm },
      { visible: tv, masked: tm },
      { visibleWeight: 0.1, normPix: false },
    );
    expect(out.maskedMse.dataSync()[0]).toBeCloseTo(2, 6);
    expect(out.visibleMse.dataSync()[0]).toBeCloseTo(0.75, 6);
    expect(out.loss.dataSync()[0]).toBeCloseTo(2 + 0.1 * 0.75, 6);
    const zero = maeLoss(
      { visible: pv, masked: pm },
      { visible: tv, masked: tm },
      { visibleWeight: 0, normPix: false },
    );
    expect(zero.loss.dataSync()[0]).toBeCloseTo(2, 6);
    // per-patch normalised targets: [1,1] → [0,0]; [2,0] → mean 1, unbiased var 2 → [1/√(2+1e-6), −1/√(2+1e-6)]
    const np = maeLoss({ visible: pv, masked: pm }, { visible: tv, masked: tm }, { visibleWeight: 0, normPix: true });
    const s = 1 / Math.sqrt(2 + 1e-6);
    const expected = ((3 - 0) ** 2 + (1 - 0) ** 2 + (2 - s) ** 2 + (2 + s) ** 2) / 4;
    expect(np.loss.dataSync()[0]).toBeCloseTo(expected, 5);
    tf.dispose([pv, tv, pm, tm, out as never, zero as never, np as never]);
  });
});

describe('decoder and pre-trainer', () => {
  it('the decoder predicts one C·p² vector per token and per masked position', () => {
    const dec = new MaeDecoder({
      inDim: 6,
      dim: 8,
      depth: 2,
      heads: 2,
      mlpRatio: 2,
      numPatches: 16,
      patchDim: 12,
      maskToken: true,
    }).build(1);
    const y = tf.tidy(() => {
      const tokens = tf.randomNormal([3, 5, 6]) as tf.Tensor3D;
      const pos = tf.tensor2d(
        Array.from({ length: 3 }, () => [0, 5, 9, 2, 16, 1, 3, 4, 6, 7, 8, 10, 11, 12, 13, 14, 15]),
        [3, 17],
        'int32',
      );
      return dec.forward(tokens, pos, 12, makeCtx({ training: false }));
    });
    expect(y.shape).toEqual([3, 17, 12]);
    y.dispose();
    dec.dispose();
  });

  it.each(['mae-vit-pretrain-test', 'mmlit-test-pretrain'])(
    '%s: shapes, class token kept, gradients reach encoder and decoder',
    (name) => {
      const m = createModel(name, {}, { seed: 2 }) as MaePretrainer;
      const N = m.encoder.numPatches;
      const nv = visibleCount(N, 0.75);
      const x = tf.randomNormal([2, 8, 8, 3], 0, 1, 'float32', 5) as tf.Tensor4D;
      const r = m.reconstruct(x, makeCtx({ training: true, seed: 1 }));
      const P = 3 * 2 * 2;
      expect(r.predVisible.shape).toEqual([2, nv, P]);
      expect(r.predMasked.shape).toEqual([2, N - nv, P]);
      expect(r.targetMasked.shape).toEqual([2, N - nv, P]);
      tf.dispose([r.predVisible, r.predMasked, r.targetVisible, r.targetMasked, ...(r.aux ? [r.aux] : [])]);
      const params = m.namedParams().filter(([, p]) => p.trainable);
      const byVar = new Map(params.map(([k, p]) => [p.value.name, k]));
      const ctx = makeCtx({ training: true, seed: 4 });
      const got = new Map<string, number>();
      tf.tidy(() => {
        const { grads } = tf.variableGrads(
          () => {
            const l = maeLossFn()(m, x, tf.zeros([2], 'int32') as tf.Tensor1D, ctx);
            return (ctx.aux.length ? l.add(tf.addN(ctx.aux.map((a) => a.value))) : l) as tf.Scalar;
          },
          params.map(([, p]) => p.value),
        );
        for (const [vn, g] of Object.entries(grads)) got.set(byVar.get(vn)!, g.abs().max().dataSync()[0]);
      });
      // only the MoE encoder adds an auxiliary loss (its balancing term)
      expect(ctx.aux.map((a) => a.name)).toEqual(name.startsWith('mmlit') ? ['moe_balance'] : []);
      const withoutGrad = params.map(([k]) => k).filter((k) => !(got.get(k)! > 0));
      // the classifier head is not part of the MAE objective; everything else learns
      expect(withoutGrad.filter((k) => !k.startsWith('encoder.head.'))).toEqual([]);
      expect([...got.keys()].some((k) => k.startsWith('decoder.'))).toBe(true);
      expect([...got.keys()].some((k) => k.startsWith('encoder.blocks.'))).toBe(true);
      x.dispose();
      m.dispose();
    },
  );

  it('pre-training with the trainer: loss falls, tensor count flat across steps, aux recorded for mmLiT', async () => {
    const ds = tinyDataset(64, 8, 4);
    for (const name of ['mae-vit-pretrain-test', 'mmlit-test-pretrain']) {
      const m = createModel(name, { numClasses: 4 }, { seed: 0 });
      await train({ model: m, train: ds, recipe: recipe({ maxStepsPerEpoch: 1 }), lossFn: maeLossFn() });
      const before = tf.memory().numTensors;
      const res = await train({
        model: m,
        train: ds,
        recipe: recipe({ epochs: 3, maxStepsPerEpoch: 0 }),
        lossFn: maeLossFn(),
      });
      expect(tf.memory().numTensors).toBe(before);
      const losses = res.history.map((h) => h.trainLoss);
      expect(losses.every(Number.isFinite)).toBe(true);
      expect(losses[2]).toBeLessThan(losses[0]);
      if (name.startsWith('mmlit')) expect(res.history[0].aux.moe_balance).toBeGreaterThan(0);
      m.dispose();
    }
  });

  it('reconstruction samples: uint8 arrays; visible patches pasted from the input', () => {
    const ds = tinyDataset(8, 8, 4);
    const m = createModel('mae-vit-pretrain-test', { numClasses: 4 }, { seed: 0 });
    const before = tf.memory().numTensors;
    const s = reconstructionSamples(m, ds, { indices: [0, 3] });
    expect(tf.memory().numTensors).toBe(before);
    expect(s.images).toHaveLength(2);
    const img = s.images[1];
    for (const k of ['original', 'masked', 'reconstruction', 'pasted'] as const) expect(img[k]).toHaveLength(8 * 8 * 3);
    // 16 patches, 4 visible: exactly 4·(2·2·3) values of `pasted` equal the original … at least those; masked ones are
    // predictions
    let same = 0;
    for (let i = 0; i < img.original.length; i++) if (Math.abs(img.pasted[i] - img.original[i]) <= 1) same++;
    expect(same).toBeGreaterThanOrEqual(4 * 12);
    let greyed = 0;
    for (let i = 0; i < img.masked.length; i++) if (img.masked[i] !== img.original[i]) greyed++;
    expect(greyed).toBeGreaterThan(0);
    m.dispose();
  });
});

describe('mae-vit (2402.03752)', () => {
  it('default: 12 blocks, width 192, FFN 384, 36×36 / patch 6: params and MACs pinned, under 3.65M and 0.27 G', () => {
    const m10 = createModel<MaeVitConfig>('mae-vit', {}, { build: false });
    expect(m10.config.depth).toBe(12);
    expect(m10.config.embedDim * m10.config.mlpRatio).toBe(384);
    // hand count: patch 108·192, table 37·192, 12 blocks of 297,024, final LN 384, head 192·K + K
    expect(m10.paramCount()).toBe(20736 + 7104 + 12 * 297024 + 384 + 1930);
    expect(m10.paramCount()).toBe(3_594_442);
    expect(createModel('mae-vit', { numClasses: 100 }, { build: false }).paramCount()).toBe(3_611_812);
    expect(3_611_812).toBeLessThan(3.65e6);
    // MACs as the layers count them in a forward pass of the built model (the closed form is checked against this
    // counter below): 36 patches + class token, 12 blocks
    const built = createModel<MaeVitConfig>('mae-vit', {}, { seed: 0 });
    const counted = countMacs(built).macs;
    built.dispose();
    expect(counted).toBe(137_997_696);
    expect(counted).toBeLessThan(0.27e9);
  });

  it('countMacs on the built model equals the closed form', () => {
    const m = createModel<MaeVitConfig>('mae-vit', { depth: 2 }, { seed: 0 });
    expect(countMacs(m).macs).toBe(maeVitClosedFormMacs(m.config));
    m.dispose();
  });

  it('the class token is a zero patch appended last: its embedding is position row N', () => {
    const m = createModel('mae-vit-test', {}, { seed: 1 }) as unknown as {
      embed: (...args: unknown[]) => unknown;
      posEmbed: { value: tf.Tensor };
      numPatches: number;
      dispose(): void;
    };
    const t = tf.tidy(() => m.embed(tf.zeros([1, 16, 12]), null, makeCtx({ training: false })) as tf.Tensor3D);
    expect(t.shape).toEqual([1, 17, 8]);
    const last = values(t.slice([0, 16, 0], [1, 1, 8]));
    const row = values(m.posEmbed.value.slice([16, 0], [1, 8]));
    last.forEach((v, i) => expect(v).toBeCloseTo(row[i], 6));
    t.dispose();
    m.dispose();
  });

  it('pre-trainer parameters = encoder + decoder (closed forms)', () => {
    for (const e of listModels({ tag: 'pretrain' })) {
      const m = createModel(e.name, {}, { build: false });
      expect(m.paramCount(), e.name).toBe(e.family.closedFormParams!(m.config));
    }
  });
});

describe('fine-tuning from a pre-trained encoder', () => {
  it('loads encoder.* into the classifier (fresh head); mmLiT drops MaskEmbed/OutProj', () => {
    const dir = tmp();
    for (const [pre, cls, ov] of [
      ['mae-vit-pretrain-test', 'mae-vit-test', {}],
      ['mmlit-test-pretrain', 'mlit-test', { patchSize: 2 }],
    ] as const) {
      const p = createModel(pre, { numClasses: 4 }, { seed: 1 });
      const file = path.join(dir, `${pre}.ckpt`);
      saveCheckpoint(file, p);
      const c = createModel(cls, { numClasses: 10, ...ov }, { seed: 9 });
      const headBefore = values(c.namedParams().find(([k]) => k === 'head.weight')![1].value);
      const init = fineTuneInit(file);
      loadCheckpoint(init.file, c, init);
      const enc = new Map(p.namedParams());
      for (const [k, param] of c.namedParams()) {
        if (k.startsWith('head.')) continue;
        expect(values(param.value), k).toEqual(values(enc.get(`encoder.${k}`)!.value));
      }
      expect(values(c.namedParams().find(([k]) => k === 'head.weight')![1].value)).toEqual(headBefore);
      p.dispose();
      c.dispose();
    }
  });

  it('a checkpoint that does not fit is an error listing missing and unexpected names', () => {
    const dir = tmp();
    const p = createModel('mae-vit-pretrain-test', {}, { seed: 1 });
    const file = path.join(dir, 'p.ckpt');
    saveCheckpoint(file, p);
    const deeper = createModel('mae-vit-test', { depth: 3 }, { seed: 0 });
    const init = fineTuneInit(file);
    expect(() => loadCheckpoint(init.file, deeper, init)).toThrow(/missing in checkpoint: blocks\.2\.norm1\.gamma/);
    const shallower = createModel('mae-vit-test', { depth: 1 }, { seed: 0 });
    expect(() => loadCheckpoint(init.file, shallower, init)).toThrow(
      /unexpected in checkpoint: blocks\.1\.norm1\.gamma/,
    );
    const wider = createModel('mae-vit-test', { embedDim: 12 }, { seed: 0 });
    expect(() => loadCheckpoint(init.file, wider, init)).toThrow(
      /shape mismatch: .*patch_embed\.weight: checkpoint \[12, 8\] vs model \[12, 12\]/,
    );
    for (const m of [p, deeper, shallower, wider]) m.dispose();
  });

  it('linear probe: only the head changes', async () => {
    const ds = tinyDataset(32, 8, 4);
    const m = createModel('mae-vit-test', { numClasses: 4 }, { seed: 3 });
    const snap = () => new Map(m.namedParams().map(([k, p]) => [k, values(p.value)]));
    const a = snap();
    await train({ model: m, train: ds, recipe: recipe({ weightDecay: 0, epochs: 2 }), lossFn: linearProbeLossFn(0.1) });
    const b = snap();
    for (const [k, v] of a) {
      if (k.startsWith('head.')) expect(b.get(k), k).not.toEqual(v);
      else expect(b.get(k), k).toEqual(v);
    }
    m.dispose();
  });
});
