import { describe, it, expect, beforeAll } from 'vitest';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { initBackend } from '../src/backend';
import { getExperiment, listExperiments } from '../src/experiments';
import { loadRecords } from '../src/report/store';
import type { ReconSamples } from '../src/train/mae';
import { ablationArms, ablationLength, pretrainerName, classifierName, encoderOverrides } from '../src/experiments/mae';
import { createModel } from '../src/models';
import { datasetFor } from '../src/experiments/common';

beforeAll(async () => {
  process.env.LIGHTVIT_DATA_DIR = fs.mkdtempSync(path.join(os.tmpdir(), 'lightvit-mae-exp-'));
  await initBackend('wasm');
});

const ctx = (log: string[] = []) => ({
  scale: 'smoke' as const,
  preferReal: true,
  force: false,
  seed: 0,
  log: (m: string) => log.push(m),
});

describe('MAE experiments', () => {
  it('are registered for every part of the issue', () => {
    expect(listExperiments('mae').map((e) => e.id)).toEqual([
      'mae.scratch',
      'mae.ablations',
      'mae.sample-efficiency',
      'mae.mmlit',
      'mae.transfer',
    ]);
    const arms = ablationArms('quick');
    expect(arms.map((a) => a.group)).toEqual([
      'length',
      'length',
      'length',
      'mask ratio',
      'mask ratio',
      'discount',
      'discount',
    ]);
    // quick: 1, 3 and 30 pre-training epochs; the mask-ratio and discount arms stay at the main length (3), not 30
    expect(arms.filter((a) => a.group === 'length').map((a) => a.arm.epochs)).toEqual([1, 3, 30]);
    expect(arms.filter((a) => a.group !== 'length').map((a) => a.arm.epochs)).toEqual([3, 3, 3, 3]);
    expect(ablationLength('quick')).toBe(3);
    expect(ablationLength('paper')).toBe(400);
  });

  it('stand-in encoders of pre-trainer and classifier have the same parameter names (fine-tuning fits)', () => {
    for (const enc of ['vit', 'mlit-xxs'] as const) {
      for (const scale of ['smoke', 'quick', 'paper'] as const) {
        const ov = encoderOverrides(enc, scale);
        const pre = createModel(pretrainerName(enc), ov, { build: false });
        const cls = createModel(classifierName(enc), ov, { build: false });
        const encNames = pre
          .namedParams()
          .map(([k]) => k)
          .filter((k) => k.startsWith('encoder.') && !/^encoder\.(out_proj|mask_embed)/.test(k))
          .map((k) => k.slice(8));
        expect(encNames, `${enc} ${scale}`).toEqual(cls.namedParams().map(([k]) => k));
      }
    }
  });

  it(
    'mae.scratch at smoke: pre-train, fine-tune same/cross, ' + 'scratch; records, reconstructions and figures',
    async () => {
      const e = getExperiment('mae.scratch');
      await e.run(ctx());
      const recs = loadRecords({ experiment: 'mae.scratch', scale: 'smoke' });
      expect(recs).toHaveLength(e.plan('smoke').runs);
      const pre = recs.filter((r) => r.extra?.role === 'pretrain');
      // the 10-class slot takes the best data present (Fashion-MNIST where installed, else synth10); 100 classes:
      // synth100
      const ten = datasetFor(ctx(), 'cifar10');
      expect(['fashion-mnist', 'synth10']).toContain(ten);
      expect(pre.map((r) => r.dataset).sort()).toEqual([ten, 'synth100'].sort());
      for (const r of pre) {
        expect(Number.isFinite(r.metrics.top1)).toBe(false); // no evaluation of a pre-training run
        const s = r.extra!.reconstructions as ReconSamples;
        expect(s.images).toHaveLength(3);
        expect(s.images[0].pasted).toHaveLength(36 * 36 * 3);
      }
      // below paper scale one target (the 10-class slot): fine-tuned from the same and from the other dataset
      const ft = recs.filter((r) => r.extra?.role === 'finetune');
      expect(ft.map((r) => r.variant).sort()).toEqual([
        'MAE pre-trained, other dataset',
        'MAE pre-trained, same dataset',
      ]);
      expect(ft.every((r) => r.dataset === ten)).toBe(true);
      const scratch = recs.filter((r) => r.extra?.role === 'scratch');
      expect(scratch.length).toBeGreaterThan(0);
      // each from-scratch record stores its last epoch's test top-1
      for (const r of scratch) expect(r.metrics.top1).toBe(r.history!.at(-1)!.testTop1);
      const figs = e.figures(recs);
      expect(figs.map((f) => f.id)).toEqual(['mae-scratch-vs-pretrained', 'mae-pretrain-loss', 'mae-reconstructions']);
      for (const f of figs) expect(f.caption).toMatch(ten === 'synth10' ? /synthetic data/ : /real data/);
      // the paper's CIFAR-10 number is drawn beside CIFAR-10 or its synthetic stand-in, never beside Fashion-MNIST
      const stars = figs[0].data.find((t) => t.name === 'reported (paper, real data)');
      if (ten === 'synth10') expect(stars!.y).toEqual([96.41]);
      else expect(stars).toBeUndefined();
    },
  );

  it('mae.sample-efficiency reuses the shared full-data runs and draws one curve per arm', async () => {
    const e = getExperiment('mae.sample-efficiency');
    await e.run(ctx());
    const recs = loadRecords({ experiment: 'mae.sample-efficiency', scale: 'smoke' });
    expect(recs).toHaveLength(e.plan('smoke').runs);
    const fig = e.figures(recs)[0];
    expect(fig.data.map((t) => t.name).sort()).toEqual(['MAE pre-trained', 'from scratch']);
    expect((fig.data[0].x as number[]).length).toBe(2);
    // the full-data fine-tune is the same run as mae.scratch's: same checkpoint, same accuracy
    const a = loadRecords({ experiment: 'mae.scratch', scale: 'smoke' }).find(
      (r) => r.variant === 'MAE pre-trained, same dataset' && r.dataset === datasetFor(ctx(), 'cifar10'),
    )!;
    const b = recs.find((r) => r.variant === 'pre-trained 1')!;
    expect(b.metrics.top1).toBe(a.metrics.top1);
  });
});

describe('mae.scratch reconstruction figure', () => {
  it("labels its data by the run it shows: a real-data reconstruction is not called synthetic for a synth arm's sake", async () => {
    const { fakeRecord } = await import('./helpers/records');
    const px = (v: number) => new Array<number>(4 * 4 * 3).fill(v);
    const samples: ReconSamples = {
      size: 4,
      channels: 3,
      patchSize: 2,
      maskRatio: 0.75,
      images: [
        {
          index: 0,
          original: px(10),
          masked: px(0),
          reconstruction: px(20),
          pasted: px(30),
        } as ReconSamples['images'][number],
      ],
    };
    const pre = (dataset: string, synthetic: boolean) =>
      fakeRecord({
        experiment: 'mae.scratch',
        paper: 'mae',
        variant: `MAE pre-training on ${dataset}`,
        dataset,
        synthetic,
        scale: 'quick',
        metrics: { params: 1 },
        extra: { role: 'pretrain', epochs: 3, reconstructions: samples },
      });
    const figs = getExperiment('mae.scratch').figures([pre('fashion-mnist', false), pre('synth100', true)]);
    const grid = figs.find((f) => f.id === 'mae-reconstructions')!;
    expect(grid.caption).toContain('Fashion-MNIST');
    expect(grid.caption).not.toContain('Synthetic data');
    const synthFirst = getExperiment('mae.scratch')
      .figures([pre('synth100', true)])
      .find((f) => f.id === 'mae-reconstructions')!;
    expect(synthFirst.caption).toContain('Synthetic data');
  });
});
