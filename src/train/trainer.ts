import * as fs from 'node:fs';
import * as path from 'node:path';
import * as tf from '@tensorflow/tfjs';
import { Rng } from '../util/rng';
import { DivergenceError, ConfigError } from '../util/errors';
import { makeCtx, type Ctx, type Param } from '../nn/module';
import type { ClassifierModel } from '../models/registry';
import type { ImageDataset } from '../data/types';
import { prepareBatch, epochOrder, evalBatches } from '../data';
import { AdamW, Sgd, ModelEma, cosineWithWarmup, type Optimizer } from './optim';
import { crossEntropy, softTargetCrossEntropy, topkCorrect } from './losses';
import { mixBatch } from '../data/mixup';
import { saveCheckpoint, loadCheckpoint, readCheckpoint, identityDiff } from './checkpoint';
import { acquireRunLock } from './lock';
import type { EpochMetrics, LossFn, Recipe } from './types';
import type { ProgressSink } from './progress';

/**
 * The one trainer every paper uses: AdamW with decoupled weight decay (none on norms, biases, position
 * embeddings), cosine schedule with linear warm-up (per step), label smoothing, global-norm clipping, auxiliary
 * losses that models add (MoE balancing, router supervision), top-1/top-5 evaluation, per-epoch history, progress
 * with img/s and ETA, atomic checkpoints with resume, and a hard stop on NaN/∞ loss that keeps the last good
 * checkpoint.
 */
export interface TrainOptions {
  model: ClassifierModel;
  train: ImageDataset;
  test?: ImageDataset;
  recipe: Recipe;
  seed?: number;
  lossFn?: LossFn;
  onProgress?: ProgressSink;
  /** Called after each epoch with its metrics (e.g. to stream to a notebook plot). */
  onEpoch?: (m: EpochMetrics) => void;
  /**
   * Checkpoint file (written after every epoch and at the end); resumed from when `resume` and it exists. The run
   * holds `<checkpoint>.lock` while it trains: a second process training the same run is refused.
   */
  checkpoint?: string;
  resume?: boolean;
  /**
   * What is trained (model, config, recipe, data, seed): stored in the checkpoint; resuming a checkpoint whose
   * identity differs is refused with the keys that differ.
   */
  identity?: Record<string, unknown>;
  /** Resume messages (`resuming from epoch N, step S`, `no checkpoint at …: starting fresh`); default: silent. */
  log?: (msg: string) => void;
  /** Save a checkpoint every this many steps as well (0 = only per epoch). */
  checkpointEverySteps?: number;
  label?: string;
}

export interface TrainResult {
  history: EpochMetrics[];
  final: { top1: number; top5: number; loss: number };
  steps: number;
  /** Wall time of the whole run (resumed sessions included), and throughput of training steps (images per second). */
  wallTimeS: number;
  imgPerS: number;
  resumedFrom?: { epoch: number; stepInEpoch: number };
}

export interface EvalResult {
  top1: number;
  top5: number;
  loss: number;
  n: number;
  /** confusion[true][pred], when requested. */
  confusion?: number[][];
}

function subsetIndices(n: number, subset: number): Int32Array {
  if (!(subset > 0) || subset >= n) return Int32Array.from({ length: n }, (_, i) => i);
  // a fixed, seed-independent subset so that every run of an experiment sees the same images
  return epochOrder(n, new Rng(12345)).slice(0, subset).sort();
}

/** Evaluate top-1/top-5 and mean loss on (up to `maxImages` of) a dataset, in eval mode, no augmentation. */
export function evaluate(
  model: ClassifierModel,
  ds: ImageDataset,
  opts: { batchSize?: number; maxImages?: number; confusion?: boolean; evalCropFraction?: number } = {},
): EvalResult {
  const n = opts.maxImages && opts.maxImages > 0 ? Math.min(opts.maxImages, ds.labels.length) : ds.labels.length;
  const bs = opts.batchSize ?? 128;
  const k = model.config.numClasses;
  let c1 = 0;
  let c5 = 0;
  let lossSum = 0;
  const confusion = opts.confusion ? Array.from({ length: k }, () => new Array<number>(k).fill(0)) : undefined;
  const order = subsetIndices(ds.labels.length, n);
  for (const b of evalBatches(model, ds, { order, batchSize: bs, evalCropFraction: opts.evalCropFraction })) {
    const idx = b.indices;
    // read back inside the scope but hand the arrays out by assignment: a typed array returned from tf.tidy is
    // walked element by element in search of tensors
    let logits!: Float32Array;
    let loss = 0;
    tf.tidy(() => {
      const x = tf.tensor4d(b.x, b.shape);
      const out = model.forward(x, makeCtx({ training: false }));
      const l = crossEntropy(out, tf.tensor1d(b.labels, 'int32'));
      logits = out.dataSync() as Float32Array;
      loss = l.dataSync()[0];
    });
    c1 += topkCorrect(logits, k, b.labels, 1);
    c5 += topkCorrect(logits, k, b.labels, Math.min(5, k));
    lossSum += loss * idx.length;
    if (confusion) {
      for (let r = 0; r < idx.length; r++) {
        let best = 0;
        for (let j = 1; j < k; j++) if (logits[r * k + j] > logits[r * k + best]) best = j;
        confusion[b.labels[r]][best]++;
      }
    }
  }
  return { top1: c1 / n, top5: c5 / n, loss: lossSum / n, n, confusion };
}

export interface StepResult {
  /** Total loss (task + auxiliary) before the update. */
  loss: number;
  /** Each auxiliary loss the model added to ctx.aux, by name. */
  aux: Array<{ name: string; v: number }>;
  /** The logits of the batch (cross-entropy steps only; null with a custom lossFn). */
  logits: Float32Array | null;
}

/**
 * One training step, as the trainer (and the benchmark) make it: forward under `ctx`, the task loss (`lossFn`, or
 * cross-entropy with `labelSmoothing`) plus the auxiliary losses the model adds to ctx.aux, gradients w.r.t.
 * `params`, and the optimizer update with global-norm clipping at `clipNorm`, skipped when the loss is not finite.
 * `afterForward` runs once the loss is built, before the backward pass (the benchmark reads peak memory there).
 * Call inside tf.tidy.
 */
export function trainStep(o: {
  model: ClassifierModel;
  params: Array<[string, Param]>;
  optimizer: Optimizer;
  x: tf.Tensor4D;
  y: tf.Tensor1D;
  /** Soft targets [B, K] (mixup/cutmix, smoothing inside): the task loss is then soft-target cross-entropy. */
  softTargets?: tf.Tensor2D;
  ctx: Ctx;
  lr: number;
  clipNorm: number;
  lossFn?: LossFn;
  labelSmoothing?: number;
  afterForward?: () => void;
}): StepResult {
  const { model, x, y, ctx } = o;
  // tensors read after the backward pass must outlive variableGrads' own scope: keep, read, dispose
  const kept: tf.Tensor[] = [];
  let logitsKept: tf.Tensor | null = null;
  const { value, grads } = tf.variableGrads(
    () => {
      ctx.aux.length = 0;
      let task: tf.Scalar;
      if (o.lossFn) task = o.lossFn(model, x, y, ctx);
      else {
        const logits = model.forward(x, ctx);
        logitsKept = tf.keep(logits);
        kept.push(logits);
        task = o.softTargets
          ? softTargetCrossEntropy(logits, o.softTargets)
          : crossEntropy(logits, y, o.labelSmoothing ?? 0);
      }
      for (const a of ctx.aux) kept.push(tf.keep(a.value));
      const total = (ctx.aux.length ? task.add(tf.addN(ctx.aux.map((a) => a.value))) : task) as tf.Scalar;
      o.afterForward?.();
      return total;
    },
    o.params.map(([, p]) => p.value),
  );
  const loss = value.dataSync()[0];
  const aux = ctx.aux.map((a) => ({ name: a.name, v: a.value.dataSync()[0] }));
  const logits = logitsKept ? ((logitsKept as tf.Tensor).dataSync() as Float32Array) : null;
  for (const t of kept) t.dispose();
  if (Number.isFinite(loss)) {
    const byVarName = new Map(o.params.map(([pathName, p]) => [p.value.name, pathName]));
    const byPath = new Map<string, tf.Tensor>();
    for (const [vn, g] of Object.entries(grads)) byPath.set(byVarName.get(vn)!, g);
    o.optimizer.apply(byPath, o.lr, o.clipNorm);
  }
  return { loss, aux, logits };
}

/**
 * Repeated augmentation (DeiT's RASampler on one process): every index of the shuffled order `r` times in a row,
 * cut back to the epoch's length, so an epoch sees ⌈n/r⌉ images, each under r different augmentations.
 */
export function repeatedOrder(order: Int32Array, repeats: number): Int32Array {
  if (!(repeats > 1)) return order;
  if (!Number.isInteger(repeats)) throw new ConfigError(`repeatedAugment ${repeats}: expected an integer ≥ 1`);
  const out = new Int32Array(order.length);
  for (let i = 0; i < out.length; i++) out[i] = order[Math.floor(i / repeats)];
  return out;
}

export async function train(opts: TrainOptions): Promise<TrainResult> {
  const release = opts.checkpoint ? acquireRunLock(opts.checkpoint) : () => undefined;
  try {
    return await trainLocked(opts);
  } finally {
    release();
  }
}

function checkRecipe(recipe: Recipe): void {
  const bad = (k: string, v: unknown, form: string) =>
    new ConfigError(`recipe ${k}=${JSON.stringify(v)}; expected ${form}`);
  if (!(Number.isInteger(recipe.epochs) && recipe.epochs >= 1)) throw bad('epochs', recipe.epochs, 'an integer ≥ 1');
  if (!(Number.isInteger(recipe.batchSize) && recipe.batchSize >= 1))
    throw bad('batchSize', recipe.batchSize, 'an integer ≥ 1');
  if (!(Number.isFinite(recipe.lr) && recipe.lr > 0)) throw bad('lr', recipe.lr, 'a finite number > 0');
}

async function trainLocked(opts: TrainOptions): Promise<TrainResult> {
  const { model, recipe } = opts;
  checkRecipe(recipe);
  const seed = opts.seed ?? 0;
  if (!model.isBuilt) model.build(seed);
  if (opts.train.numClasses > model.config.numClasses) {
    throw new ConfigError(
      `dataset ${opts.train.name} has ${opts.train.numClasses} classes but the model has ` +
        `numClasses=${model.config.numClasses}; expected numClasses ≥ ${opts.train.numClasses}`,
    );
  }
  const t0 = Date.now();
  const trainIdx = subsetIndices(opts.train.labels.length, recipe.trainSubset);
  const bs = Math.min(recipe.batchSize, trainIdx.length);
  const fullSteps = Math.floor(trainIdx.length / bs);
  const steps = recipe.maxStepsPerEpoch > 0 ? Math.min(fullSteps, recipe.maxStepsPerEpoch) : fullSteps;
  const totalSteps = steps * recipe.epochs;
  const warmupSteps = Math.round(recipe.warmupEpochs * steps);
  const params = model.namedParams().filter(([, p]) => p.trainable);
  const optimizer: Optimizer =
    recipe.optimizer === 'sgd'
      ? new Sgd(params, { momentum: recipe.momentum, weightDecay: recipe.weightDecay })
      : new AdamW(params, { weightDecay: recipe.weightDecay });
  let startEpoch = 0;
  let startStep = 0;
  const history: EpochMetrics[] = [];
  let resumedFrom: TrainResult['resumedFrom'];
  // wall time of earlier sessions of this run (a resumed run's record covers all of them)
  let priorWallS = 0;
  let priorImgPerS = NaN;
  // the checkpoint file holds this run's state only once this run wrote it or resumed from it
  let checkpointIsOurs = false;
  if (opts.checkpoint && opts.resume) {
    if (fs.existsSync(opts.checkpoint)) {
      if (opts.identity) {
        const stored = readCheckpoint(opts.checkpoint).meta.identity;
        const diff = stored ? identityDiff(stored, opts.identity) : [];
        if (diff.length) {
          throw new ConfigError(
            `checkpoint ${opts.checkpoint} was trained with another configuration (${diff.join('; ')}); ` +
              'expected the same model, config, recipe, data and seed to resume: run without --resume to start fresh',
          );
        }
      }
      const meta = loadCheckpoint(opts.checkpoint, model, { optimizer });
      startEpoch = meta.epoch ?? 0;
      startStep = meta.stepInEpoch ?? 0;
      priorWallS = typeof meta.wallTimeS === 'number' ? meta.wallTimeS : 0;
      priorImgPerS = typeof meta.imgPerS === 'number' ? meta.imgPerS : NaN;
      history.push(...((meta.history as EpochMetrics[]) ?? []).slice(0, startEpoch));
      resumedFrom = { epoch: startEpoch, stepInEpoch: startStep };
      checkpointIsOurs = true;
      opts.log?.(`resuming from epoch ${startEpoch}, step ${startStep} (${opts.checkpoint})`);
    } else opts.log?.(`no checkpoint at ${opts.checkpoint}: starting fresh`);
  }
  // the average starts from the weights training starts (or resumes) from; it is not checkpointed
  const ema = recipe.emaDecay && recipe.emaDecay > 0 ? new ModelEma(model.namedParams(), recipe.emaDecay) : null;
  const save = (epoch: number, stepInEpoch: number) => {
    if (!opts.checkpoint) return;
    fs.mkdirSync(path.dirname(opts.checkpoint), { recursive: true });
    saveCheckpoint(
      opts.checkpoint,
      model,
      {
        model: model.modelName,
        config: { ...model.config },
        epoch,
        stepInEpoch,
        globalStep: epoch * steps + stepInEpoch,
        history,
        seed,
        ...(opts.identity ? { identity: opts.identity } : {}),
        wallTimeS: priorWallS + (Date.now() - t0) / 1000,
        imgPerS: imagesSeen ? imagesSeen / Math.max(1e-9, trainSeconds) : priorImgPerS,
      },
      optimizer,
    );
    checkpointIsOurs = true;
  };
  // evaluation time per epoch, measured (first estimate: eval images at 3× the training throughput)
  const hasEval = !!opts.test && !opts.lossFn;
  const evalImages = hasEval
    ? Math.min(opts.test!.labels.length, recipe.maxEvalImages > 0 ? recipe.maxEvalImages : Infinity)
    : 0;
  let evalSecondsPerEpoch: number | null = null;
  /** ETA of the whole run: the remaining training steps and the remaining evaluations. */
  const etaOf = (remainingSteps: number, remainingEvals: number, imgPerS: number) =>
    (remainingSteps * bs) / imgPerS + remainingEvals * (evalSecondsPerEpoch ?? evalImages / (3 * imgPerS));

  let imagesSeen = 0;
  let trainSeconds = 0;
  let globalStep = startEpoch * steps + startStep;
  for (let epoch = startEpoch; epoch < recipe.epochs; epoch++) {
    const epochStart = Date.now();
    // the order, augmentation and dropout of an epoch depend only on (seed, epoch, step): resume is exact
    const order = repeatedOrder(epochOrder(trainIdx.length, new Rng(seed * 7919 + epoch)), recipe.repeatedAugment ?? 1);
    let lossSum = 0;
    let correct = 0;
    let seen = 0;
    const auxSum: Record<string, number> = {};
    const firstStep = epoch === startEpoch ? startStep : 0;
    for (let s = firstStep; s < steps; s++) {
      const stepRng = new Rng(((seed * 1_000_003) ^ (epoch * 65_537 + s)) >>> 0);
      const batchIdx = (k: number) => Int32Array.from(order.subarray(k * bs, (k + 1) * bs), (i) => trainIdx[i]);
      const idx = batchIdx(s);
      // streaming data: decode the next batch in the background while this one trains
      if (opts.train.prefetch) {
        if (s === firstStep) opts.train.prefetch(idx);
        if (s + 1 < steps) opts.train.prefetch(batchIdx(s + 1));
      }
      const b = prepareBatch(opts.train, idx, {
        augment: recipe.augment,
        targetSize: model.config.imageSize,
        rng: stepRng,
      });
      const mixed = recipe.mixup
        ? mixBatch(b.x, b.shape, b.labels, model.config.numClasses, recipe.labelSmoothing, recipe.mixup, stepRng)
        : null;
      const lr = cosineWithWarmup(globalStep, totalSteps, warmupSteps, recipe.lr, recipe.minLr);
      const t1 = Date.now();
      let out!: StepResult;
      tf.tidy(() => {
        const x = tf.tensor4d(b.x, b.shape);
        const y = tf.tensor1d(b.labels, 'int32');
        const ctx: Ctx = makeCtx({
          training: true,
          rng: stepRng.fork(),
          targets: { labels: y, coarse: b.coarse ? tf.tensor1d(b.coarse, 'int32') : undefined },
        });
        const softTargets = mixed ? tf.tensor2d(mixed.targets, [idx.length, model.config.numClasses]) : undefined;
        out = trainStep({
          model,
          params,
          optimizer,
          x,
          y,
          softTargets,
          ctx,
          lr,
          clipNorm: recipe.clipNorm,
          lossFn: opts.lossFn,
          labelSmoothing: recipe.labelSmoothing,
        });
      });
      ema?.update();
      trainSeconds += (Date.now() - t1) / 1000;
      if (!Number.isFinite(out.loss)) {
        throw new DivergenceError(
          `loss is ${out.loss} at epoch ${epoch + 1}, step ${s + 1} (lr ${lr.toExponential(2)}); training stopped. ` +
            (opts.checkpoint && checkpointIsOurs && fs.existsSync(opts.checkpoint)
              ? `The last good checkpoint of this run is kept at ${opts.checkpoint}.`
              : 'No checkpoint of this run was written yet.') +
            ' Expected a finite loss: try a lower lr, gradient clipping (clipNorm), or check the input data.',
        );
      }
      globalStep++;
      imagesSeen += idx.length;
      lossSum += out.loss * idx.length;
      seen += idx.length;
      for (const a of out.aux) auxSum[a.name] = (auxSum[a.name] ?? 0) + a.v * idx.length;
      if (out.logits) correct += topkCorrect(out.logits, model.config.numClasses, b.labels, 1);
      const imgPerS = imagesSeen / Math.max(1e-9, trainSeconds);
      const remaining = totalSteps - globalStep;
      opts.onProgress?.({
        phase: 'train',
        epoch: epoch + 1,
        epochs: recipe.epochs,
        step: s + 1,
        steps,
        loss: lossSum / seen,
        lr,
        imgPerS,
        etaS: etaOf(remaining, hasEval ? recipe.epochs - epoch : 0, imgPerS),
        label: opts.label,
        evaluates: hasEval,
      });
      if (opts.checkpointEverySteps && (s + 1) % opts.checkpointEverySteps === 0 && s + 1 < steps) save(epoch, s + 1);
    }
    const m: EpochMetrics = {
      epoch: epoch + 1,
      step: globalStep,
      lr: cosineWithWarmup(Math.max(0, globalStep - 1), totalSteps, warmupSteps, recipe.lr, recipe.minLr),
      trainLoss: seen ? lossSum / seen : NaN,
      aux: Object.fromEntries(Object.entries(auxSum).map(([k, v]) => [k, v / Math.max(1, seen)])),
      trainTop1: seen && !opts.lossFn ? correct / seen : NaN,
      seconds: (Date.now() - epochStart) / 1000,
    };
    if (opts.test && !opts.lossFn) {
      const ips = imagesSeen / Math.max(1e-9, trainSeconds);
      const evalStart = Date.now();
      opts.onProgress?.({
        phase: 'eval',
        epoch: epoch + 1,
        epochs: recipe.epochs,
        step: steps,
        steps,
        loss: m.trainLoss,
        lr: m.lr,
        imgPerS: ips,
        etaS: etaOf(totalSteps - globalStep, recipe.epochs - epoch, ips),
        label: opts.label,
        evaluates: true,
      });
      const evalOpts = { maxImages: recipe.maxEvalImages, evalCropFraction: recipe.augment.evalCropFraction };
      const ev = evaluate(model, opts.test, evalOpts);
      m.testLoss = ev.loss;
      m.testTop1 = ev.top1;
      m.testTop5 = ev.top5;
      if (ema) {
        const e = ema.evaluateWith(() => evaluate(model, opts.test!, evalOpts));
        m.extra = { ...m.extra, emaTop1: e.top1, emaTop5: e.top5, emaLoss: e.loss };
      }
      evalSecondsPerEpoch = (Date.now() - evalStart) / 1000;
    }
    history.push(m);
    save(epoch + 1, 0);
    opts.onEpoch?.(m);
  }
  optimizer.dispose();
  ema?.dispose();
  // a resumed run that had nothing left to train reports the throughput its checkpoint recorded
  const ipsEnd = imagesSeen ? imagesSeen / Math.max(1e-9, trainSeconds) : priorImgPerS;
  opts.onProgress?.({
    phase: 'done',
    epoch: recipe.epochs,
    epochs: recipe.epochs,
    step: steps,
    steps,
    loss: history[history.length - 1]?.trainLoss ?? NaN,
    lr: 0,
    imgPerS: ipsEnd,
    etaS: 0,
    label: opts.label,
    evaluates: hasEval,
  });
  const last = history[history.length - 1];
  return {
    history,
    final: { top1: last?.testTop1 ?? NaN, top5: last?.testTop5 ?? NaN, loss: last?.testLoss ?? last?.trainLoss ?? NaN },
    steps: globalStep,
    wallTimeS: priorWallS + (Date.now() - t0) / 1000,
    imgPerS: ipsEnd,
    resumedFrom,
  };
}

export { readCheckpoint };
