import * as path from 'node:path';
import * as tf from '@tensorflow/tfjs';
import type { Scale } from '../util/scale';
import { dataDir } from '../util/fsx';
import type { Recipe, LossFn } from '../train/types';
import type { ResultRecord } from '../report/types';
import { createModel, resolveConfig, type ClassifierModel } from '../models';
import type { ImageDataset } from '../data/types';
import { loadDataset, datasetStatus, holdoutSplit, type LoadOptions } from '../data';
import { train } from '../train/trainer';
import { defaultRecipe } from '../train/recipes';
import { loadCheckpoint } from '../train/checkpoint';
import { ProgressBar } from '../train/progress';
import { countMacs } from '../analysis/count';
import { appendRecord, loadRecords } from '../report/store';
import { buildRecord, fingerprint, runFingerprint } from '../report/record';
import { currentBackend } from '../backend';
import type { ExperimentRunContext, PaperId } from './types';

export { defaultRecipe };

/**
 * The glue every paper's experiments use: one call trains (or skips, when stored) one model on one dataset at the
 * context's scale and appends a ResultRecord (metrics, params, MACs, history, backend, versions) to the results
 * store.
 */
export interface RunSpec {
  experiment: string; // experiment id, e.g. 'mlit.scratch'
  paper: PaperId;
  /** Label of this run within the experiment (the x-axis / bar label), e.g. 'mlit-xxs' or 'top-1'. */
  variant: string;
  model: string;
  overrides?: Record<string, unknown>;
  /** Wanted dataset: 'cifar10' falls back to 'synth10' and 'cifar100' to 'synth100' when not downloaded. */
  dataset: string;
  /**
   * How the dataset is loaded, when not the default (image folders: stored size, streaming, a class subset). Part of
   * the run's fingerprint when set.
   */
  load?: Pick<LoadOptions, 'imageSize' | 'stream' | 'maxClasses'>;
  /** Changes to the scale's default recipe (see defaultRecipe). Per-scale values: pass a function of the scale. */
  recipe?: Partial<Recipe> | ((scale: Scale) => Partial<Recipe>);
  seed?: number;
  /** Custom objective (MAE); default label-smoothed cross-entropy. */
  lossFn?: LossFn;
  /** Initialise from a checkpoint (fine-tuning): a file, and how to map/skip parameter names. */
  initFrom?:
    | string
    | {
        file: string;
        map?: (p: string) => string | null;
        allowMissing?: (p: string) => boolean;
        ignoreUnexpected?: boolean;
      };
  /** Extra analysis after training; what it returns is stored in record.extra. */
  analyse?: (
    model: ClassifierModel,
    test: ImageDataset,
    val?: ImageDataset,
  ) => Promise<Record<string, unknown>> | Record<string, unknown>;
  /** Extra metrics for record.metrics computed after training (e.g. router accuracy). */
  metrics?: (
    model: ClassifierModel,
    test: ImageDataset,
    val?: ImageDataset,
  ) => Promise<Record<string, number>> | Record<string, number>;
  /** Skip the test-set evaluation (pre-training objectives). */
  noEval?: boolean;
  /**
   * Train on the training split minus a seeded, stratified validation hold-out of this fraction (e.g. 0.1); the
   * hold-out is handed to `analyse`/`metrics` as `val` (Mobile V-MoE fits its super-classes on it), and the test
   * split stays for final numbers only.
   */
  holdout?: number;
  /**
   * Keep the trained checkpoint at this path. Default: data/checkpoints/runs/<model>-<dataset>-<scale>-s<seed>-<fp>,
   * keyed by what was trained, so that an identical run asked for by two experiments is trained once.
   */
  checkpoint?: string;
}

/**
 * Which dataset stands in for a paper's dataset, best first: the paper's own when downloaded, then the real
 * 10-class Fashion-MNIST when found (apt-get install dataset-fashion-mnist, or `lightvit data download
 * fashion-mnist`), then the embedded synthetic set of the same class count. 100-class slots fall back to synth100
 * only: no 100-class real set is offline.
 */
const STAND_INS: Record<string, string[]> = {
  cifar10: ['fashion-mnist', 'synth10'],
  cifar100: ['synth100'],
};

function present(name: string): boolean {
  if (name.startsWith('synth')) return true;
  return datasetStatus().find((d) => d.name === name)?.present ?? false;
}

/**
 * The dataset a run uses when its experiment asks for `wanted`: `ctx.data` when forced (`--data NAME`); `wanted`
 * when it is synthetic, or real and present (and real data is not refused by `--synth`); else the first present
 * stand-in (see STAND_INS; with `--synth`, only synthetic ones). '' when nothing can stand in (SVHN, Flowers-102
 * not downloaded).
 */
export function datasetFor(ctx: Pick<ExperimentRunContext, 'preferReal' | 'data'>, wanted: string): string {
  if (ctx.data) return ctx.data;
  if (wanted.startsWith('synth') || wanted.startsWith('folder:')) return wanted;
  if (ctx.preferReal && present(wanted)) return wanted;
  const options = (STAND_INS[wanted] ?? []).filter((d) => ctx.preferReal || d.startsWith('synth'));
  return options.find(present) ?? '';
}

/** True when `datasetFor` would find this dataset (synth always; real ones when present). */
export function datasetAvailable(ctx: Pick<ExperimentRunContext, 'preferReal' | 'data'>, wanted: string): boolean {
  return datasetFor(ctx, wanted) !== '';
}

/**
 * One line saying what stands in for `wanted` and why, or '' when the run uses `wanted` itself: experiments log it
 * so that a reader knows, e.g., that Fashion-MNIST (real, 10 classes) took CIFAR-10's place.
 */
export function standInLine(ctx: Pick<ExperimentRunContext, 'preferReal' | 'data'>, wanted: string): string {
  const used = datasetFor(ctx, wanted);
  if (!used || used === wanted) return '';
  const why = ctx.data
    ? 'forced by --data'
    : present(wanted)
      ? 'real data refused (--synth)'
      : `${wanted} is not downloaded`;
  const kind = used.startsWith('synth') ? 'synthetic data' : 'real data';
  return `  ${used} (${kind}) stands in for ${wanted}: ${why}`;
}

/**
 * Seeds of a run set: `n` consecutive seeds from the context's base seed. Headline comparisons (the claims table)
 * run {@link HEADLINE_SEEDS} at quick and paper scale, so that each verdict has a spread; smoke runs one.
 */
export const HEADLINE_SEEDS = 3;
export function seedsFor(ctx: Pick<ExperimentRunContext, 'scale' | 'seed'>, n = HEADLINE_SEEDS): number[] {
  const k = ctx.scale === 'smoke' ? 1 : n;
  return Array.from({ length: k }, (_, i) => ctx.seed + i);
}

const cache = new Map<string, Promise<ImageDataset>>();
/** Datasets are loaded once per process and shared by every run. */
export function cachedDataset(
  name: string,
  split: 'train' | 'test',
  load: RunSpec['load'] = {},
): Promise<ImageDataset> {
  const key = `${name}|${split}|${JSON.stringify(load)}`;
  if (!cache.has(key)) cache.set(key, loadDataset(name, split, load));
  return cache.get(key)!;
}

const splits = new Map<string, Promise<{ train: ImageDataset; val: ImageDataset }>>();
/** The training split of `name` cut into train and a validation hold-out (seed 0: the same cut for every run). */
export function cachedHoldout(
  name: string,
  fraction: number,
  load: RunSpec['load'] = {},
): Promise<{ train: ImageDataset; val: ImageDataset }> {
  const key = `${name}|${fraction}|${JSON.stringify(load)}`;
  if (!splits.has(key)) {
    splits.set(
      key,
      cachedDataset(name, 'train', load).then((ds) => holdoutSplit(ds, { fraction, seed: 0 })),
    );
  }
  return splits.get(key)!;
}

/**
 * Identity of a run: experiment, variant, scale, dataset, seed, and a fingerprint of what was trained (model,
 * overrides, recipe), so that changing a recipe or a model default re-runs instead of reusing a stale result.
 */
export function recordKey(
  experiment: string,
  variant: string,
  scale: Scale,
  dataset: string,
  seed: number,
  fingerprint = '',
): string {
  return `${experiment}|${variant}|${scale}|${dataset}|${seed}${fingerprint ? `|${fingerprint}` : ''}`;
}

/** Short stable hash of a JSON-able value (one implementation, in src/report/record.ts). */
export { fingerprint };

export function checkpointPath(
  experiment: string,
  variant: string,
  dataset: string,
  scale: Scale,
  seed: number,
  fp = '',
): string {
  const safe = (s: string) => s.replace(/[^A-Za-z0-9._-]+/g, '_');
  return path.join(
    dataDir(),
    'checkpoints',
    safe(experiment),
    `${safe(variant)}-${safe(dataset)}-${scale}-s${seed}${fp ? `-${fp}` : ''}.ckpt`,
  );
}

export function kitVersions(): Record<string, string> {
  let kit = '?';
  try {
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    kit = require('../../package.json').version;
  } catch {
    /* built layout differs */
  }
  return { lightvit: kit, tfjs: tf.version.tfjs, node: process.version };
}

export async function runClassifier(ctx: ExperimentRunContext, spec: RunSpec): Promise<ResultRecord> {
  const scale = ctx.scale;
  const seed = spec.seed ?? ctx.seed;
  const dataset = datasetFor(ctx, spec.dataset);
  if (!dataset)
    throw new Error(
      `${spec.experiment}: dataset '${spec.dataset}' is not downloaded (lightvit data download ${spec.dataset})`,
    );
  const recipe: Recipe = {
    ...defaultRecipe(scale),
    ...(typeof spec.recipe === 'function' ? spec.recipe(scale) : (spec.recipe ?? {})),
  };
  const [fullTrain, testDs] = await Promise.all([
    cachedDataset(dataset, 'train', spec.load),
    cachedDataset(dataset, 'test', spec.load),
  ]);
  const split = spec.holdout ? await cachedHoldout(dataset, spec.holdout, spec.load) : null;
  const trainDs = split ? split.train : fullTrain;
  const overrides = { numClasses: trainDs.numClasses, ...(spec.overrides ?? {}) };
  // what was trained, whatever the experiment: the resolved config (so {} and {numClasses: 10} agree), recipe, data
  const fp = runFingerprint({
    model: spec.model,
    config: resolveConfig(spec.model, overrides),
    recipe,
    holdout: spec.holdout ?? 0,
    initFrom: typeof spec.initFrom === 'string' ? spec.initFrom : (spec.initFrom?.file ?? null),
    ...(spec.load ? { load: spec.load } : {}),
  });
  const key = recordKey(spec.experiment, spec.variant, scale, dataset, seed, fp);
  if (!ctx.force) {
    const stored = loadRecords({ experiment: spec.experiment }).filter((r) => r.key === key);
    if (stored.length) {
      ctx.log(`  ${spec.variant} on ${dataset}: stored (skip; --force re-runs)`);
      ctx.onRunDone?.();
      return stored[stored.length - 1];
    }
  }
  const model = createModel(spec.model, overrides, { seed });
  try {
    if (spec.initFrom) {
      const init = typeof spec.initFrom === 'string' ? { file: spec.initFrom } : spec.initFrom;
      loadCheckpoint(init.file, model, init);
    }
    const ckpt = spec.checkpoint ?? checkpointPath('runs', spec.model, dataset, scale, seed, fp);
    const bar = new ProgressBar();
    const result = await train({
      model,
      train: trainDs,
      test: spec.noEval ? undefined : testDs,
      recipe,
      seed,
      lossFn: spec.lossFn,
      checkpoint: ckpt,
      resume: !ctx.force,
      ...(ctx.trainingDisplay?.(spec.variant) ?? { onProgress: bar.sink(`${spec.variant}`) }),
      label: spec.variant,
    });
    const macs = countMacs(model);
    const rec = buildRecord({
      experiment: spec.experiment,
      paper: spec.paper,
      variant: spec.variant,
      scale,
      dataset,
      synthetic: trainDs.synthetic,
      model: spec.model,
      config: model.config,
      seed,
      backend: currentBackend()?.name ?? tf.getBackend(),
      versions: kitVersions(),
      result,
      counts: { params: model.paramCount(), activeParams: model.activeParamCount(), ...macs },
      metrics: spec.metrics ? await spec.metrics(model, testDs, split?.val) : undefined,
      extra: spec.analyse ? await spec.analyse(model, testDs, split?.val) : undefined,
      key,
      fields: { recipe },
    });
    const metrics = rec.metrics;
    appendRecord(rec);
    ctx.onRunDone?.();
    const pct = (v: number) => (Number.isFinite(v) ? `${(100 * v).toFixed(1)}%` : 'n/a');
    ctx.log(
      `  ${spec.variant} on ${dataset}${trainDs.synthetic ? ' (synthetic data)' : ''}: top-1 ` +
        `${pct(metrics.top1)}, ${(metrics.params / 1e6).toFixed(3)}M params, ${result.wallTimeS.toFixed(1)} s`,
    );
    return rec;
  } finally {
    model.dispose();
  }
}

/** Variant label of the reference arm every quick-scale comparison is drawn against. */
export const LINEAR_REFERENCE = 'linear classifier on raw pixels';

/**
 * Train the reference: a linear classifier on raw pixels (registry model `linear`), on the same images with the same
 * budget as the experiment's arms (the scale's default recipe), one run per seed. It costs about a second per run
 * and its checkpoint is shared, so every experiment that draws the reference line trains it once per seed.
 */
export async function runReference(
  ctx: ExperimentRunContext,
  o: { experiment: string; paper: PaperId; dataset: string; seeds?: number[]; holdout?: number },
): Promise<void> {
  for (const seed of o.seeds ?? seedsFor(ctx)) {
    await runClassifier(ctx, {
      experiment: o.experiment,
      paper: o.paper,
      variant: LINEAR_REFERENCE,
      model: 'linear',
      dataset: o.dataset,
      seed,
      holdout: o.holdout,
      analyse: () => ({ role: 'reference' }),
    });
  }
}

/** Records of everything but the reference arm (what the figures draw as bars and points). */
export function withoutReference(records: ResultRecord[]): ResultRecord[] {
  return records.filter((r) => r.variant !== LINEAR_REFERENCE);
}

/**
 * The reference as figure lines, one per dataset among the records: mean top-1 over its seeds (a fraction, as
 * stored); the figure builders print the value beside the label.
 */
export function referenceLines(records: ResultRecord[]): Array<{ label: string; value: number }> {
  const refs = records.filter((r) => r.variant === LINEAR_REFERENCE && Number.isFinite(r.metrics?.top1));
  const datasets = [...new Set(refs.map((r) => r.dataset))];
  return datasets.map((d) => {
    const v = refs.filter((r) => r.dataset === d).map((r) => r.metrics.top1);
    const mean = v.reduce((s, x) => s + x, 0) / v.length;
    const where = datasets.length > 1 ? ` (${d})` : '';
    return { label: `${LINEAR_REFERENCE}${where}`, value: mean };
  });
}
