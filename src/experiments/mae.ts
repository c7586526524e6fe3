import * as fs from 'node:fs';
import { officialRecipe } from '../train/recipes';
import * as path from 'node:path';
import type { Scale } from '../util/scale';
import { dataDir } from '../util/fsx';
import type { Recipe } from '../train/types';
import type { FigureSpec, ResultRecord } from '../report/types';
import { createModel } from '../models';
import { registerExperiment, registerPaper } from './registry';
import {
  runClassifier,
  datasetFor,
  datasetAvailable,
  cachedDataset,
  defaultRecipe,
  seedsFor,
  standInLine,
  HEADLINE_SEEDS,
  runReference,
  referenceLines,
  withoutReference,
} from './common';
import { registerClaim } from './claims';
import type { ExperimentRunContext } from './types';
import { maeLossFn, fineTuneInit, reconstructionSamples, type ReconSamples } from '../train/mae';
import {
  imageGrid,
  lineChart,
  barChart,
  caption,
  type BarSeries,
  type GridImage,
  type PointSeries,
} from '../report/figures';

/**
 * MAE pre-training on small images (Tan, arXiv 2402.03752) and mmLiT pre-training + transfer (arXiv 2407.17783).
 * Neither paper's tables, recipes or ablations were recovered (docs/mae.md §4–6, docs/mlit.md §4–6); what is
 * reproduced is the
 * comparisons they describe, with the two numbers that are known drawn as "reported" references:
 * 1. mae.scratch — mae-vit from scratch vs MAE-pre-trained then fine-tuned, on CIFAR-10 and CIFAR-100, with
 *    same-dataset and cross-dataset pre-training ([S]: same-dataset is best); reported 96.41 / 78.27 [PwC];
 * 2. mae.ablations — pre-training length, mask ratio, visible-patch discount (fine-tuned top-1 of each);
 * 3. mae.sample-efficiency — fraction of the training set for pre-training and fine-tuning vs scratch;
 * 4. mae.mmlit — each mLiT variant (XXS, XS, S) with and without MAE pre-training;
 * 5. mae.transfer — mmLiT-XXS pre-trained on CIFAR-100, fine-tuned on CIFAR-10, SVHN, Flowers-102 (where
 *    downloaded) against training from scratch on each.
 * Scales: smoke = seconds; quick = CPU stand-ins (mae-vit 4 × 64, mLiT widths with 3 blocks, both at 36×36 /
 * patch 6, decoder 1 block), 3 + 3 epochs on 1,000 images; runs shared between experiments are trained once; paper =
 * the presets and
 * long recipes (the papers' own recipes are unknown [?]: pre-training 400 epochs, fine-tuning 200, inferred).
 * Pre-training and fine-tuning checkpoints are shared between experiments (a run that exists is not repeated).
 */

const PAPER = 'mae' as const;
type Encoder = 'vit' | 'mlit-xxs' | 'mlit-xs' | 'mlit-s';
const MLIT_SIZES: Encoder[] = ['mlit-xxs', 'mlit-xs', 'mlit-s'];

/** Reported top-1 of the MAE-pre-trained lightweight ViT of 2402.03752 (paper scale, real CIFAR) [PwC]. */
export const REPORTED_TOP1: Record<string, number> = { cifar10: 96.41, cifar100: 78.27 };

export function classifierName(enc: Encoder): string {
  return enc === 'vit' ? 'mae-vit' : enc;
}
export function pretrainerName(enc: Encoder): string {
  return enc === 'vit' ? 'mae-vit-pretrain' : `mmlit-${enc.slice('mlit-'.length)}-pretrain`;
}

/** Encoder overrides that make the scale's stand-in (none at paper scale). */
export function encoderOverrides(enc: Encoder, scale: Scale): Record<string, unknown> {
  if (scale === 'paper') return {};
  if (enc === 'vit')
    return scale === 'smoke' ? { embedDim: 32, depth: 2, numHeads: 2 } : { embedDim: 64, depth: 4, numHeads: 2 };
  return { imageSize: 36, patchSize: 6, depth: 3 };
}

function decoderOverrides(enc: Encoder, scale: Scale): Record<string, unknown> {
  if (scale === 'paper') return {};
  if (enc === 'vit')
    return scale === 'smoke'
      ? { decoderDim: 32, decoderHeads: 2, decoderDepth: 1 }
      : { decoderDim: 64, decoderHeads: 2, decoderDepth: 1 };
  return { decoderDepth: 1 };
}

export function standInNote(scale: Scale, records: ResultRecord[] = []): string {
  const ran = ranNote(records);
  if (scale === 'paper')
    return (
      ` Models: mae-vit (12 × 192, FFN 2×, 36×36 / patch 6) and the mLiT presets (36×36 / patch 3); decoder 2 ` +
      `blocks.${ran}`
    );
  return (
    ` Models are ${scale}-scale stand-ins: mae-vit ${scale === 'smoke' ? '2 × 32' : '4 × 64'} and mLiT with ` +
    `the presets' widths but 3 blocks, ` +
    `both at 36×36 / patch 6 (36 patches), a 1-block decoder.${ran}`
  );
}

/** What the records ran: epochs and training images of pre-training and of fine-tuning/scratch, from each record. */
function ranNote(records: ResultRecord[]): string {
  const part = (rs: ResultRecord[], what: string): string => {
    if (!rs.length) return '';
    const epochs = [
      ...new Set(
        rs
          .map((r) => (typeof r.extra?.epochs === 'number' ? (r.extra.epochs as number) : (r.history?.length ?? 0)))
          .filter((e) => e > 0),
      ),
    ].sort((a, b) => a - b);
    const images = [
      ...new Set(rs.map((r) => r.extra?.trainSubset).filter((n): n is number => typeof n === 'number' && n > 0)),
    ].sort((a, b) => a - b);
    const ep = epochs.length ? `${epochs.join('/')} epoch${epochs.length === 1 && epochs[0] === 1 ? '' : 's'}` : '';
    const im = images.length
      ? `${images.map((n) => n.toLocaleString('en-US')).join('/')} training images`
      : 'the full training set';
    return ep ? `${what}: ${ep} on ${im}` : '';
  };
  const pre = part(
    records.filter((r) => r.extra?.role === 'pretrain'),
    'pre-training',
  );
  const cls = part(
    records.filter((r) => r.extra?.role !== 'pretrain'),
    'fine-tuning / from scratch',
  );
  const both = [pre, cls].filter(Boolean);
  return both.length ? ` Ran: ${both.join('; ')}.` : '';
}

/** Pre-training recipe. P1/P2 pre-training recipes are unknown [?]; paper scale is an inferred MAE-style schedule. */
export function pretrainRecipe(scale: Scale): Partial<Recipe> {
  if (scale === 'paper') return officialRecipe('mae-pretrain');
  return {};
}

/** Fine-tuning / from-scratch recipe (the same for both arms). */
export function finetuneRecipe(scale: Scale): Partial<Recipe> {
  if (scale === 'paper') return officialRecipe('mae');
  return {};
}

function recipeOf(scale: Scale, part: Partial<Recipe>): Recipe {
  return { ...defaultRecipe(scale), ...part };
}

function sharedCheckpoint(label: string, scale: Scale, seed: number): string {
  return path.join(
    dataDir(),
    'checkpoints',
    'mae-shared',
    `${label.replace(/[^A-Za-z0-9._-]+/g, '_')}-${scale}-s${seed}.ckpt`,
  );
}

export interface PretrainArm {
  maskRatio: number;
  visibleWeight: number;
  /** Pre-training epochs (default: the scale's). */
  epochs?: number;
  /** Fraction of the scale's training subset (default 1). */
  fraction?: number;
}

const DEFAULT_ARM: PretrainArm = { maskRatio: 0.75, visibleWeight: 0.1 };

async function trainSubsetFor(
  ctx: ExperimentRunContext,
  dataset: string,
  base: Partial<Recipe>,
  fraction: number,
): Promise<number> {
  const full =
    base.trainSubset ||
    recipeOf(ctx.scale, base).trainSubset ||
    (await cachedDataset(datasetFor(ctx, dataset), 'train')).labels.length;
  return fraction >= 1 ? full : Math.max(16, Math.round(full * fraction));
}

interface Run {
  file: string;
  record: ResultRecord;
}

/** MAE pre-training of `enc` on `dataset` (checkpoint shared by every experiment that needs the same run). */
async function pretrain(
  ctx: ExperimentRunContext,
  o: {
    experiment: string;
    enc: Encoder;
    dataset: string;
    arm?: PretrainArm;
    variant: string;
    extra?: Record<string, unknown>;
    atInit?: boolean;
  },
): Promise<Run> {
  const arm = { ...DEFAULT_ARM, ...(o.arm ?? {}) };
  const base = pretrainRecipe(ctx.scale);
  const epochs = arm.epochs ?? recipeOf(ctx.scale, base).epochs;
  const fraction = arm.fraction ?? 1;
  const trainSubset = await trainSubsetFor(ctx, o.dataset, base, fraction);
  const ds = datasetFor(ctx, o.dataset);
  const file = sharedCheckpoint(
    `pre-${o.enc}-${ds}-m${arm.maskRatio}-v${arm.visibleWeight}-e${epochs}-n${trainSubset}`,
    ctx.scale,
    ctx.seed,
  );
  const overrides = {
    ...encoderOverrides(o.enc, ctx.scale),
    ...decoderOverrides(o.enc, ctx.scale),
    maskRatio: arm.maskRatio,
    visibleWeight: arm.visibleWeight,
  };
  const spec = {
    experiment: o.experiment,
    paper: PAPER,
    variant: o.variant,
    model: pretrainerName(o.enc),
    overrides,
    dataset: o.dataset,
    recipe: { ...base, epochs, trainSubset },
    lossFn: maeLossFn(),
    noEval: true,
    checkpoint: file,
    analyse: (
      model: Parameters<typeof reconstructionSamples>[0],
      test: Parameters<typeof reconstructionSamples>[1],
    ) => {
      const extra: Record<string, unknown> = {
        role: 'pretrain',
        encoder: o.enc,
        epochs,
        trainSubset,
        ...arm,
        ...(o.extra ?? {}),
        reconstructions: reconstructionSamples(model, test, { indices: [0, 1, 2] }),
      };
      if (o.atInit) {
        const fresh = createModel(model.modelName, { ...model.config }, { seed: ctx.seed });
        try {
          extra.reconstructionsAtInit = reconstructionSamples(fresh, test, { indices: [0, 1, 2] });
        } finally {
          fresh.dispose();
        }
      }
      return extra;
    },
  };
  let record = await runClassifier(ctx, spec);
  // a stored record without its checkpoint (results copied from elsewhere): pre-train again
  if (!fs.existsSync(file)) record = await runClassifier({ ...ctx, force: true }, spec);
  return { file, record };
}

/** Fine-tune (or train from scratch when `from` is null) the classifier of `enc` on `dataset`. */
async function classify(
  ctx: ExperimentRunContext,
  o: {
    experiment: string;
    enc: Encoder;
    dataset: string;
    from: string | null;
    variant: string;
    fraction?: number;
    extra?: Record<string, unknown>;
  },
): Promise<ResultRecord> {
  const base = finetuneRecipe(ctx.scale);
  const trainSubset = await trainSubsetFor(ctx, o.dataset, base, o.fraction ?? 1);
  const epochs = recipeOf(ctx.scale, base).epochs;
  const ds = datasetFor(ctx, o.dataset);
  const origin = o.from ? `ft-${path.basename(o.from, '.ckpt')}` : `scratch-${o.enc}`;
  return runClassifier(ctx, {
    experiment: o.experiment,
    paper: PAPER,
    variant: o.variant,
    model: classifierName(o.enc),
    overrides: encoderOverrides(o.enc, ctx.scale),
    dataset: o.dataset,
    recipe: { ...base, trainSubset },
    initFrom: o.from ? fineTuneInit(o.from) : undefined,
    checkpoint: sharedCheckpoint(`${origin}-on-${ds}-e${epochs}-n${trainSubset}`, ctx.scale, ctx.seed),
    analyse: () => ({
      role: o.from ? 'finetune' : 'scratch',
      encoder: o.enc,
      trainSubset,
      fraction: o.fraction ?? 1,
      ...(o.extra ?? {}),
    }),
  });
}

const role = (r: ResultRecord) => (r.extra?.role as string) ?? '';
const pct = (v: number) => Math.round(1000 * v) / 10;
const uniq = <T>(xs: T[]) => [...new Set(xs)];
const DS_LABEL: Record<string, string> = {
  cifar10: 'CIFAR-10',
  cifar100: 'CIFAR-100',
  synth10: 'CIFAR-10 stand-in (synth10)',
  synth100: 'CIFAR-100 stand-in (synth100)',
  svhn: 'SVHN',
  flowers102: 'Flowers-102',
  'fashion-mnist': 'Fashion-MNIST (real data, stands in for CIFAR-10)',
};
const dsLabel = (d: string) => DS_LABEL[d] ?? d;
/** The real dataset a record's dataset stands for (synth10 → cifar10). */
const standsFor = (d: string) => (({ synth10: 'cifar10', synth100: 'cifar100' }) as Record<string, string>)[d] ?? d;

// ───────────────────────────── shared figures ─────────────────────────────

/** Grouped bars of top-1 (%) by x label and arm, with optional "reported" stars. */
function armBars(o: {
  id: string;
  title: string;
  records: ResultRecord[];
  x: (r: ResultRecord) => string;
  arm: (r: ResultRecord) => string;
  xTitle: string;
  captionText: string;
  reported?: Array<{ x: string; y: number; label: string }>;
  /** Dashed horizontal lines (value: accuracy as a fraction), e.g. the linear reference. */
  lines?: Array<{ label: string; value: number }>;
}): FigureSpec {
  const recs = o.records.filter((r) => Number.isFinite(r.metrics.top1));
  const xs = uniq(recs.map(o.x));
  const arms = uniq(recs.map(o.arm));
  const bars: BarSeries[] = arms.map((a) => {
    const ys = xs.map((x) => {
      const v = recs.filter((r) => o.x(r) === x && o.arm(r) === a).map((r) => r.metrics.top1);
      return v.length ? pct(v.reduce((s, t) => s + t, 0) / v.length) : null;
    });
    return { name: a, x: xs, y: ys, text: ys.map((y) => (y === null ? '' : `${y}`)), textposition: 'outside' };
  });
  const reported: PointSeries[] = o.reported?.length
    ? [
        {
          name: 'reported (paper, real data)',
          x: o.reported.map((p) => p.x),
          y: o.reported.map((p) => p.y),
          text: o.reported.map((p) => p.label),
          textposition: 'top center',
          marker: { symbol: 'star', size: 14, color: '#222' },
        },
      ]
    : [];
  return barChart({
    id: o.id,
    paper: PAPER,
    title: o.title,
    records: recs,
    caption: o.captionText,
    bars,
    points: reported,
    referenceLines: (o.lines ?? []).map((l) => ({ label: l.label, y: pct(l.value) })),
    xTitle: o.xTitle,
    yTitle: 'Top-1 accuracy (%)',
    categoryX: true,
    yFromZero: true,
    width: 820,
  });
}

/** Pre-training loss per epoch, one line per pre-training run. */
function pretrainCurves(id: string, records: ResultRecord[], title: string, note: string): FigureSpec | null {
  const pre = records.filter((r) => role(r) === 'pretrain' && r.history?.length);
  if (!pre.length) return null;
  return lineChart({
    id,
    paper: PAPER,
    title,
    records: pre,
    series: pre.map((r) => ({
      name: `${r.variant} (${r.dataset})`,
      x: r.history!.map((h) => h.epoch),
      y: r.history!.map((h) => h.trainLoss),
    })),
    xTitle: 'Pre-training epoch',
    yTitle: 'MAE loss (masked MSE + discount × visible MSE, normalised pixel units²)',
    caption:
      `Training loss of MAE pre-training per epoch (mean over the epoch's steps; includes the mLiT routers' ` +
      `balancing loss).${note}`,
  });
}

const gridImage = (pixels: number[], s: ReconSamples, label: string): GridImage => ({
  pixels: Uint8Array.from(pixels),
  width: s.size,
  height: s.size,
  channels: s.channels as 1 | 3,
  label,
});

/**
 * Rows: sample images; columns: original, masked input, then the reconstructions (visible patches pasted) of each
 * stage.
 */
function reconGrid(
  id: string,
  title: string,
  stages: Array<{ label: string; samples: ReconSamples }>,
  records: ResultRecord[],
  note: string,
): FigureSpec | null {
  if (!stages.length) return null;
  const first = stages[0].samples;
  const images: GridImage[] = [];
  first.images.forEach((img, i) => {
    images.push(gridImage(img.original, first, i === 0 ? 'original' : ''));
    images.push(gridImage(img.masked, first, i === 0 ? `masked ${Math.round(100 * first.maskRatio)}%` : ''));
    for (const st of stages) {
      const s = st.samples.images[i];
      if (s) images.push(gridImage(s.pasted, st.samples, i === 0 ? st.label : ''));
    }
  });
  return imageGrid({
    id,
    paper: PAPER,
    title,
    images,
    columns: 2 + stages.length,
    records,
    cellPx: 80,
    caption:
      `${title}: original test image, the input with the masked patches blanked (the encoder sees only the ` +
      `rest), and the decoder's reconstruction of the masked patches with the visible ones pasted back. Mask ` +
      `fixed (seed 2024), evaluation mode.${note}`,
  });
}

// ───────────────────────────── 1. scratch vs pre-trained (same / cross dataset) ─────────────────────────────

const SCRATCH = 'mae.scratch';

/** Fine-tuning targets: both CIFARs at paper scale; the CIFAR-10 slot below it (100 classes stay at chance there). */
function scratchTargets(scale: Scale): string[] {
  return scale === 'paper' ? ['cifar10', 'cifar100'] : ['cifar10'];
}

/** The other dataset of a target, pre-trained on for the cross-dataset arm (the other CIFAR, or its stand-in). */
const otherSlot = (target: string) => (target === 'cifar10' ? 'cifar100' : 'cifar10');

const ARM = {
  scratch: 'from scratch',
  same: 'MAE pre-trained, same dataset',
  cross: 'MAE pre-trained, other dataset',
} as const;

registerClaim({
  id: 'mae.pretrained-vs-scratch',
  paper: PAPER,
  claim:
    'MAE pre-training on the same images, then fine-tuning, beats training from scratch with the same ' +
    'fine-tuning budget',
  experiment: SCRATCH,
  a: ARM.same,
  b: ARM.scratch,
});
registerClaim({
  id: 'mae.same-vs-cross',
  paper: PAPER,
  claim: 'MAE pre-training on the target dataset is at least as good as pre-training on another dataset',
  experiment: SCRATCH,
  a: ARM.same,
  b: ARM.cross,
});

registerPaper({
  id: PAPER,
  title: 'Pre-training of Lightweight ViTs on Small Datasets with Minimally Scaled Images (+ mmLiT pre-training)',
  arxiv: '2402.03752',
  notebook: '05-mae-small-images.ipynb',
  docs: 'docs/mae.md',
  // the quick-scale model `lightvit bench` measures against its PyTorch twin (the encoder's fine-tuning step);
  // a getter: the overrides are built when read, after this file's helpers are defined
  mainQuickModel: {
    model: 'mae-vit',
    get overrides() {
      return encoderOverrides('vit', 'quick');
    },
  },
});

registerExperiment({
  id: SCRATCH,
  paper: PAPER,
  title: '2402.03752: mae-vit from scratch vs MAE pre-trained (same- and cross-dataset), then fine-tuned',
  plan: (scale) => {
    const seeds = scale === 'smoke' ? 1 : HEADLINE_SEEDS;
    const targets = scratchTargets(scale).length;
    return {
      runs: seeds * (scale === 'paper' ? 2 + targets * 4 : 6),
      description:
        `per seed (${seeds}): MAE pre-training on the target and on the other dataset, fine-tuning from each, ` +
        `and training ` +
        `from scratch, on ${scratchTargets(scale).join(' and ')} (or what stands in)`,
    };
  },
  async run(ctx) {
    for (const target of scratchTargets(ctx.scale)) {
      const line = standInLine(ctx, target);
      if (line) ctx.log(line);
    }
    for (const seed of seedsFor(ctx)) {
      const c = { ...ctx, seed };
      const files = new Map<string, string>();
      const pretrained = async (slot: string) => {
        const ds = datasetFor(c, slot);
        if (!files.has(ds)) {
          const run = await pretrain(c, {
            experiment: SCRATCH,
            enc: 'vit',
            dataset: slot,
            variant: `MAE pre-training on ${ds}`,
            extra: { pretrainDataset: ds },
          });
          files.set(ds, run.file);
        }
        return { ds, file: files.get(ds)! };
      };
      for (const target of scratchTargets(ctx.scale)) {
        const same = await pretrained(target);
        const cross = await pretrained(otherSlot(target));
        await classify(c, {
          experiment: SCRATCH,
          enc: 'vit',
          dataset: target,
          from: null,
          variant: ARM.scratch,
          extra: { arm: ARM.scratch },
        });
        await classify(c, {
          experiment: SCRATCH,
          enc: 'vit',
          dataset: target,
          from: same.file,
          variant: ARM.same,
          extra: { arm: ARM.same, pretrainDataset: same.ds },
        });
        await classify(c, {
          experiment: SCRATCH,
          enc: 'vit',
          dataset: target,
          from: cross.file,
          variant: ARM.cross,
          extra: { arm: `MAE pre-trained on ${cross.ds}`, pretrainDataset: cross.ds },
        });
        await runReference(c, { experiment: SCRATCH, paper: PAPER, dataset: datasetFor(c, target), seeds: [seed] });
      }
    }
  },
  figures(records) {
    const note = standInNote(records[0]?.scale ?? 'paper', records);
    const cls = withoutReference(records.filter((r) => role(r) !== 'pretrain'));
    const lines = referenceLines(records);
    const shownRecon = records.filter((r) => role(r) === 'pretrain' && r.extra?.reconstructions).slice(0, 1);
    const reported = uniq(cls.map((r) => r.dataset))
      .filter((d) => REPORTED_TOP1[standsFor(d)] !== undefined)
      .map((d) => ({ x: dsLabel(d), y: REPORTED_TOP1[standsFor(d)], label: `${REPORTED_TOP1[standsFor(d)]}` }));
    const figs: Array<FigureSpec | null> = [
      armBars({
        id: 'mae-scratch-vs-pretrained',
        title: 'mae-vit: from scratch vs MAE pre-trained then fine-tuned',
        records: cls,
        x: (r) => dsLabel(r.dataset),
        arm: (r) => String(r.extra?.arm ?? r.variant),
        xTitle: 'Fine-tuning dataset',
        reported,
        lines,
        captionText:
          'Top-1 after fine-tuning, by pre-training: none (from scratch), MAE on the same dataset, MAE on the ' +
          'other CIFAR. ' +
          'Stars: top-1 reported by 2402.03752 after MAE pre-training (96.41 CIFAR-10, 78.27 CIFAR-100; paper ' +
          'recipe, real CIFAR, [PwC]), not trained here.' +
          note,
      }),
      pretrainCurves('mae-pretrain-loss', records, 'MAE pre-training loss of mae-vit', note),
      // the caption's data note describes the run shown, not every run of the experiment (the cross-dataset arm's
      // synthetic pre-training would otherwise label a real-data reconstruction "synthetic data")
      reconGrid(
        'mae-reconstructions',
        'MAE reconstructions after pre-training',
        shownRecon.map((r) => ({
          label: `after ${r.extra!.epochs} ep (${r.dataset})`,
          samples: r.extra!.reconstructions as ReconSamples,
        })),
        shownRecon,
        note,
      ),
    ];
    return figs.filter((f): f is FigureSpec => !!f);
  },
});

// ───────────────────────────── 2. ablations: length, mask ratio, discount ─────────────────────────────

const ABLATIONS = 'mae.ablations';

export function pretrainLengths(scale: Scale): number[] {
  if (scale === 'smoke') return [1, 2];
  // quick adds one long run (about 2.5 min on 2 cores): at 3 epochs the reconstructions are still a blur, and
  // whether a longer pre-training sharpens them (and helps fine-tuning) is what this arm shows
  if (scale === 'quick') return [1, 3, 30];
  return [100, 200, 400];
}

/**
 * The pre-training length of the ablation's other arms (mask ratio, discount) and of its default arm: the scale's
 * main recipe length (quick: 3 epochs, like mae.scratch), not the longest length arm.
 */
export function ablationLength(scale: Scale): number {
  if (scale === 'quick') return 3;
  return pretrainLengths(scale).slice(-1)[0];
}
export const MASK_RATIOS = [0.5, 0.75, 0.9];
export const DISCOUNTS = [0, 0.1, 1];

interface AblationArm {
  group: 'length' | 'mask ratio' | 'discount';
  arm: PretrainArm;
}

export function ablationArms(scale: Scale): AblationArm[] {
  const lengths = pretrainLengths(scale);
  const full = ablationLength(scale);
  const arms: AblationArm[] = lengths.map((e) => ({ group: 'length', arm: { ...DEFAULT_ARM, epochs: e } }));
  for (const m of MASK_RATIOS)
    if (m !== DEFAULT_ARM.maskRatio)
      arms.push({ group: 'mask ratio', arm: { ...DEFAULT_ARM, maskRatio: m, epochs: full } });
  for (const v of DISCOUNTS)
    if (v !== DEFAULT_ARM.visibleWeight)
      arms.push({ group: 'discount', arm: { ...DEFAULT_ARM, visibleWeight: v, epochs: full } });
  return arms;
}

registerExperiment({
  id: ABLATIONS,
  paper: PAPER,
  title: '2402.03752: pre-training length, mask ratio and visible-patch discount (fine-tuned top-1)',
  plan: (scale) => ({
    runs: 2 * ablationArms(scale).length,
    description: 'mae-vit on CIFAR-10 (synthetic stand-in when not downloaded): each arm pre-trains then fine-tunes',
  }),
  async run(ctx) {
    const arms = ablationArms(ctx.scale);
    const full = ablationLength(ctx.scale);
    for (const a of arms) {
      const label = `e${a.arm.epochs} m${a.arm.maskRatio} v${a.arm.visibleWeight}`;
      const isDefault = a.arm.maskRatio === DEFAULT_ARM.maskRatio && a.arm.visibleWeight === DEFAULT_ARM.visibleWeight;
      const extra = {
        group: a.group,
        epochs: a.arm.epochs,
        maskRatio: a.arm.maskRatio,
        visibleWeight: a.arm.visibleWeight,
        isDefault: isDefault && a.arm.epochs === full,
      };
      const pre = await pretrain(ctx, {
        experiment: ABLATIONS,
        enc: 'vit',
        dataset: 'cifar10',
        arm: a.arm,
        variant: `pre-train ${label}`,
        extra,
        atInit: a.group === 'length' && a.arm.epochs === full,
      });
      await classify(ctx, {
        experiment: ABLATIONS,
        enc: 'vit',
        dataset: 'cifar10',
        from: pre.file,
        variant: `fine-tune ${label}`,
        extra,
      });
    }
  },
  figures(records) {
    const note = standInNote(records[0]?.scale ?? 'paper', records);
    const ft = records.filter((r) => role(r) === 'finetune');
    const series = (group: string, key: 'epochs' | 'maskRatio' | 'visibleWeight') => {
      // the default arm (main length, 0.75, 0.1) belongs to every group
      const rs = ft.filter((r) => r.extra?.group === group || (group !== 'length' && r.extra?.isDefault));
      const pts = uniq(rs.map((r) => Number(r.extra?.[key]))).sort((a, b) => a - b);
      return {
        x: pts,
        y: pts.map((p) => pct(mean(rs.filter((r) => Number(r.extra?.[key]) === p).map((r) => r.metrics.top1)))),
        rs,
      };
    };
    const figs: Array<FigureSpec | null> = [];
    for (const [group, key, xTitle, id] of [
      ['length', 'epochs', 'Pre-training epochs', 'mae-pretrain-length'],
      ['mask ratio', 'maskRatio', 'Mask ratio (fraction of patches masked)', 'mae-mask-ratio'],
      ['discount', 'visibleWeight', 'Visible-patch discount (weight of the visible-patch MSE)', 'mae-visible-discount'],
    ] as const) {
      const s = series(group, key);
      if (!s.rs.length) continue;
      figs.push(
        lineChart({
          id,
          paper: PAPER,
          title: `Fine-tuned top-1 vs ${xTitle.toLowerCase()}`,
          records: s.rs,
          series: [{ name: 'MAE pre-trained, fine-tuned', x: s.x, y: s.y }],
          xTitle,
          yTitle: 'Top-1 accuracy (%)',
          caption:
            `Top-1 of mae-vit after MAE pre-training and fine-tuning, varying the ${group} (others at mask 0.75, ` +
            `discount 0.1, ${ablationLength(records[0]?.scale ?? 'paper')} pre-training epochs). One seed per ` +
            `point.${note}`,
        }),
      );
    }
    const lengthPre = records
      .filter((r) => role(r) === 'pretrain' && r.extra?.group === 'length')
      .sort((a, b) => Number(a.extra!.epochs) - Number(b.extra!.epochs));
    const stages: Array<{ label: string; samples: ReconSamples }> = [];
    const init = lengthPre.find((r) => r.extra?.reconstructionsAtInit);
    if (init) stages.push({ label: 'at init', samples: init.extra!.reconstructionsAtInit as ReconSamples });
    for (const r of lengthPre)
      stages.push({ label: `${r.extra!.epochs} ep`, samples: r.extra!.reconstructions as ReconSamples });
    figs.push(
      reconGrid(
        'mae-reconstructions-by-length',
        'MAE reconstructions by pre-training length',
        stages,
        lengthPre,
        ` Each column after a separate pre-training run of that length (cosine schedule to the end).${note}`,
      ),
    );
    figs.push(pretrainCurves('mae-ablation-pretrain-loss', records, 'MAE pre-training loss per arm', note));
    return figs.filter((f): f is FigureSpec => !!f);
  },
});

function mean(xs: number[]): number {
  return xs.length ? xs.reduce((a, b) => a + b, 0) / xs.length : NaN;
}

// ───────────────────────────── 3. sample efficiency ─────────────────────────────

const SAMPLE = 'mae.sample-efficiency';
export function fractions(scale: Scale): number[] {
  return scale === 'paper' ? [0.1, 0.25, 0.5, 1] : scale === 'quick' ? [0.25, 1] : [0.5, 1];
}

registerExperiment({
  id: SAMPLE,
  paper: PAPER,
  title: '2402.03752: sample efficiency — fraction of the training set, MAE pre-trained vs scratch',
  plan: (scale) => ({
    runs: 3 * fractions(scale).length,
    description:
      'mae-vit on CIFAR-10 (synthetic stand-in when not downloaded): for each fraction, MAE pre-train + ' +
      'fine-tune on it, and scratch on it',
  }),
  async run(ctx) {
    for (const f of fractions(ctx.scale)) {
      const extra = { fraction: f };
      const pre = await pretrain(ctx, {
        experiment: SAMPLE,
        enc: 'vit',
        dataset: 'cifar10',
        arm: { ...DEFAULT_ARM, fraction: f },
        variant: `pre-train ${f}`,
        extra,
      });
      await classify(ctx, {
        experiment: SAMPLE,
        enc: 'vit',
        dataset: 'cifar10',
        from: pre.file,
        fraction: f,
        variant: `pre-trained ${f}`,
        extra: { ...extra, arm: 'MAE pre-trained' },
      });
      await classify(ctx, {
        experiment: SAMPLE,
        enc: 'vit',
        dataset: 'cifar10',
        from: null,
        fraction: f,
        variant: `scratch ${f}`,
        extra: { ...extra, arm: 'from scratch' },
      });
    }
  },
  figures(records) {
    const note = standInNote(records[0]?.scale ?? 'paper', records);
    const cls = records.filter((r) => role(r) !== 'pretrain');
    const series = uniq(cls.map((r) => String(r.extra?.arm))).map((arm) => {
      const rs = cls
        .filter((r) => r.extra?.arm === arm)
        .sort((a, b) => Number(a.extra!.trainSubset) - Number(b.extra!.trainSubset));
      return { name: arm, x: rs.map((r) => Number(r.extra!.trainSubset)), y: rs.map((r) => pct(r.metrics.top1)) };
    });
    return [
      lineChart({
        id: 'mae-sample-efficiency',
        paper: PAPER,
        title: 'Sample efficiency: top-1 vs training images',
        records: cls,
        series,
        logX: true,
        xTitle: 'Training images used for pre-training and fine-tuning (log scale)',
        yTitle: 'Top-1 accuracy (%)',
        caption:
          `Top-1 with a fraction of the training set: MAE pre-training and fine-tuning both on that fraction, ` +
          `against training from scratch on it ([S]: MAE is "highly sample-efficient").${note}`,
      }),
    ];
  },
});

// ───────────────────────────── 4. mmLiT: every mLiT variant with and without MAE ─────────────────────────────

const MMLIT = 'mae.mmlit';

/** mLiT sizes pre-trained: all three at paper scale, XXS below it (XS and S cost 2–4× more per step). */
function mmlitSizes(scale: Scale): Encoder[] {
  return scale === 'paper' ? MLIT_SIZES : ['mlit-xxs'];
}
registerExperiment({
  id: MMLIT,
  paper: PAPER,
  title: '2407.17783: mLiT-XXS/XS/S with and without MAE pre-training (mmLiT)',
  plan: (scale) => ({
    runs: 3 * mmlitSizes(scale).length,
    description: `${mmlitSizes(scale)
      .map((e) => `mLiT-${e.slice(5).toUpperCase()}`)
      .join(', ')} on CIFAR-10 (or what stands in): MAE pre-train + fine-tune vs scratch`,
  }),
  async run(ctx) {
    for (const enc of mmlitSizes(ctx.scale)) {
      const name = `mLiT-${enc.slice(5).toUpperCase()}`;
      const pre = await pretrain(ctx, { experiment: MMLIT, enc, dataset: 'cifar10', variant: `pre-train ${name}` });
      await classify(ctx, {
        experiment: MMLIT,
        enc,
        dataset: 'cifar10',
        from: pre.file,
        variant: `m${name} (MAE pre-trained)`,
        extra: { arm: 'MAE pre-trained (mmLiT)', size: name },
      });
      await classify(ctx, {
        experiment: MMLIT,
        enc,
        dataset: 'cifar10',
        from: null,
        variant: `${name} (scratch)`,
        extra: { arm: 'from scratch (mLiT)', size: name },
      });
    }
  },
  figures(records) {
    const note = standInNote(records[0]?.scale ?? 'paper', records);
    const cls = records.filter((r) => role(r) !== 'pretrain');
    const figs: Array<FigureSpec | null> = [
      armBars({
        id: 'mmlit-pretrained-vs-scratch',
        title: 'mLiT with and without MAE pre-training',
        records: cls,
        x: (r) => `${r.extra?.size} (${(r.metrics.params / 1e6).toFixed(2)}M)`,
        arm: (r) => String(r.extra?.arm),
        xTitle: 'Variant (parameters)',
        captionText:
          'Top-1 of each mLiT variant trained from scratch and after MAE pre-training (encoder-space mask ' +
          'tokens, router noise and balancing loss on) then fine-tuning. P1 reports no per-variant numbers ' +
          'that could be recovered [?].' +
          note,
      }),
      pretrainCurves('mmlit-pretrain-loss', records, 'mmLiT MAE pre-training loss', note),
      reconGrid(
        'mmlit-reconstructions',
        'mmLiT reconstructions after pre-training',
        records
          .filter((r) => role(r) === 'pretrain' && r.extra?.reconstructions)
          .map((r) => ({
            label: r.variant.replace('pre-train ', ''),
            samples: r.extra!.reconstructions as ReconSamples,
          })),
        records,
        note,
      ),
    ];
    return figs.filter((f): f is FigureSpec => !!f);
  },
});

// ───────────────────────────── 5. transfer ─────────────────────────────

const TRANSFER = 'mae.transfer';
export const TRANSFER_TARGETS = ['cifar10', 'svhn', 'flowers102'];

registerExperiment({
  id: TRANSFER,
  paper: PAPER,
  title: '2407.17783: mmLiT-XXS pre-trained on CIFAR-100, fine-tuned on CIFAR-10, SVHN, Flowers-102 vs scratch',
  plan: () => ({
    runs: 1 + 2 * TRANSFER_TARGETS.length,
    description:
      'MAE pre-training on CIFAR-100 (synthetic stand-in), then each downloaded target: fine-tune vs scratch',
  }),
  async run(ctx) {
    const pre = await pretrain(ctx, {
      experiment: TRANSFER,
      enc: 'mlit-xxs',
      dataset: 'cifar100',
      variant: 'pre-train mmLiT-XXS on cifar100',
      extra: { pretrainDataset: 'cifar100' },
    });
    for (const target of TRANSFER_TARGETS) {
      if (!datasetAvailable(ctx, target)) {
        ctx.log(`  ${target}: not downloaded, skipped (lightvit data download ${target})`);
        ctx.onRunDone?.();
        ctx.onRunDone?.();
        continue;
      }
      await classify(ctx, {
        experiment: TRANSFER,
        enc: 'mlit-xxs',
        dataset: target,
        from: pre.file,
        variant: `MAE pre-trained on ${datasetFor(ctx, 'cifar100')} → ${datasetFor(ctx, target)}`,
        extra: { arm: `MAE pre-trained on ${datasetFor(ctx, 'cifar100')}`, target: datasetFor(ctx, target) },
      });
      await classify(ctx, {
        experiment: TRANSFER,
        enc: 'mlit-xxs',
        dataset: target,
        from: null,
        variant: `scratch ${datasetFor(ctx, target)}`,
        extra: { arm: 'from scratch', target: datasetFor(ctx, target) },
      });
    }
  },
  figures(records) {
    const note = standInNote(records[0]?.scale ?? 'paper', records);
    const cls = records.filter((r) => role(r) !== 'pretrain');
    const pre = records.find((r) => role(r) === 'pretrain');
    const src = pre ? ` Pre-training data: ${dsLabel(pre.dataset)}.` : '';
    const targets = uniq(cls.map((r) => r.dataset));
    const arms = uniq(cls.map((r) => String(r.extra?.arm)));
    const cell = (d: string, a: string) => {
      const v = cls.filter((r) => r.dataset === d && r.extra?.arm === a).map((r) => r.metrics.top1);
      return v.length ? pct(mean(v)).toFixed(1) : '—';
    };
    const table: FigureSpec = {
      id: 'mmlit-transfer-table',
      paper: PAPER,
      title: 'Transfer: top-1 (%) by target dataset',
      caption: caption(
        cls,
        `Top-1 (%) of mLiT-XXS on each target, from scratch and fine-tuned from MAE pre-training on CIFAR-100 ` +
          `([S]: pre-training on CIFAR-100 improves transfer).${src}${note}`,
      ),
      data: [
        {
          type: 'table',
          header: {
            values: ['Target dataset', ...arms, 'Δ (pre-trained − scratch)'],
            align: 'left',
            fill: { color: '#eee' },
          },
          cells: {
            values: [
              targets.map(dsLabel),
              ...arms.map((a) => targets.map((d) => cell(d, a))),
              targets.map((d) => {
                const [a, b] = [
                  cell(d, arms.find((x) => /pre-trained/.test(x)) ?? ''),
                  cell(d, arms.find((x) => /scratch/.test(x)) ?? ''),
                ];
                return a === '—' || b === '—' ? '—' : (Number(a) - Number(b)).toFixed(1);
              }),
            ],
            align: 'left',
          },
        },
      ],
      layout: {
        title: { text: 'Transfer: top-1 (%) by target dataset' },
        width: 820,
        height: 160 + 40 * targets.length,
      },
    };
    return [
      table,
      armBars({
        id: 'mmlit-transfer-bars',
        title: 'Transfer from CIFAR-100 MAE pre-training vs scratch',
        records: cls,
        x: (r) => dsLabel(r.dataset),
        arm: (r) => String(r.extra?.arm),
        xTitle: 'Target dataset',
        captionText:
          `Top-1 of mLiT-XXS on each target dataset, from scratch and after MAE pre-training on CIFAR-100 then ` +
          `fine-tuning (full fine-tune).${src}${note}`,
      }),
    ];
  },
});
