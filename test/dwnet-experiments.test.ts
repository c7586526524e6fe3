import { describe, it, expect, beforeAll } from 'vitest';
import * as tf from '@tensorflow/tfjs';
import { initBackend } from '../src/backend';
import { createModel } from '../src/models';
import { getExperiment, listExperiments } from '../src/experiments';
import { blockArms, dwnetScaleOverrides, dynamicArms, measureThroughput, sharingArms } from '../src/experiments/dwnet';
import type { ImageDataset } from '../src/data/types';
import { SCALES } from '../src/util/scale';
import { HEADLINE_SEEDS } from '../src/experiments/common';

beforeAll(async () => {
  await initBackend('wasm');
});

function tinyDataset(n: number, size: number): ImageDataset {
  const images = new Uint8Array(n * size * size * 3);
  for (let i = 0; i < images.length; i++) images[i] = (i * 37) % 256;
  return {
    name: 'synth10',
    split: 'test',
    images,
    labels: Int32Array.from({ length: n }, (_, i) => i % 10),
    numClasses: 10,
    imageSize: size,
    channels: 3,
    classNames: [],
    synthetic: true,
    mean: [0.5, 0.5, 0.5],
    std: [0.25, 0.25, 0.25],
  };
}

describe('dwnet experiments', () => {
  it('registers three experiments (and the ImageNet study) whose plans match their arms', () => {
    expect(listExperiments('dwnet').map((e) => e.id)).toEqual([
      'dwnet.blocks',
      'dwnet.sharing',
      'dwnet.dynamic',
      'dwnet.imagenet',
    ]);
    // every arm and the linear reference on raw pixels, each over the headline seeds (one seed at smoke)
    expect(getExperiment('dwnet.blocks').plan('quick').runs).toBe((blockArms().length + 1) * HEADLINE_SEEDS);
    expect(getExperiment('dwnet.blocks').plan('smoke').runs).toBe(blockArms().length + 1);
    expect(getExperiment('dwnet.sharing').plan('quick').runs).toBe(sharingArms().length);
    expect(getExperiment('dwnet.dynamic').plan('quick').runs).toBe(dynamicArms().length);
    expect(new Set(dynamicArms().map((a) => a.variant)).size).toBe(8);
  });

  it('every arm is a valid model at every scale, and one macro-architecture per scale', () => {
    for (const scale of SCALES) {
      const ov = dwnetScaleOverrides(scale);
      const shapes = new Set<string>();
      for (const arm of [...blockArms(), ...sharingArms(), ...dynamicArms()]) {
        const m = createModel(arm.model, { ...ov, ...arm.overrides, numClasses: 100 }, { build: false });
        const c = m.config as unknown as { depths: number[]; embedDim: number; patchSize: number };
        shapes.add(`${c.patchSize}/${c.embedDim}/${c.depths.join(',')}`);
        if (scale !== 'paper')
          expect(m.paramCount(), `${arm.variant} at ${scale}`).toBeLessThan(scale === 'smoke' ? 40_000 : 200_000);
      }
      expect(shapes.size, scale).toBe(1);
    }
  });

  it('measureThroughput reports positive rates and leaves BatchNorm running statistics as trained', () => {
    const m = createModel('dwnet-test', {}, { seed: 1 });
    const stats = () =>
      m
        .namedParams()
        .filter(([, p]) => !p.trainable)
        .map(([, p]) => Array.from(p.value.dataSync()));
    const before = stats();
    const n0 = tf.memory().numTensors;
    const r = measureThroughput(m, tinyDataset(8, 8), 'smoke');
    expect(tf.memory().numTensors).toBe(n0);
    expect(r.inferImgPerS).toBeGreaterThan(0);
    expect(r.trainImgPerS).toBeGreaterThan(0);
    expect(r.throughputBatch).toBe(8);
    expect(stats()).toEqual(before);
    m.dispose();
  });
});
