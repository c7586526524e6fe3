import type { Scale } from '../util/scale';
import type { Recipe } from '../train/types';
import type { TrainResult } from '../train/trainer';
import type { ResultRecord } from './types';

/**
 * How a training run becomes a ResultRecord, in one place for `lightvit train` and every experiment
 * (`runClassifier`): the run's identity (what was trained: model, resolved config, recipe, data split, init), its
 * fingerprint, and the record itself.
 */

/** Short stable hash of a JSON-able value (FNV-1a over its canonical JSON: object keys sorted). */
export function fingerprint(value: unknown): string {
  const canon = (v: unknown): unknown =>
    Array.isArray(v)
      ? v.map(canon)
      : v && typeof v === 'object'
        ? Object.fromEntries(
            Object.keys(v as object)
              .sort()
              .map((k) => [k, canon((v as Record<string, unknown>)[k])]),
          )
        : v;
  const s = JSON.stringify(canon(value));
  let h = 0x811c9dc5;
  for (let i = 0; i < s.length; i++) h = Math.imul(h ^ s.charCodeAt(i), 0x01000193);
  return (h >>> 0).toString(16).padStart(8, '0');
}

/** What was trained. The dataset and the seed are parts of the record key beside the fingerprint. */
export interface RunIdentity {
  model: string;
  /** The resolved model config (defaults filled in), so `{}` and `{numClasses: 10}` agree. */
  config: object;
  recipe: Recipe;
  /** Validation hold-out fraction of the training split (0: none). */
  holdout?: number;
  /** Checkpoint the weights started from (fine-tuning), or null. */
  initFrom?: string | null;
  /** How the dataset was loaded when not by default (image folders: stored size, streaming, class subset). */
  load?: object;
}

/** The canonical identity object (defaults filled in) that is hashed and stored in checkpoints. */
export function canonicalIdentity(id: RunIdentity): Record<string, unknown> {
  const base = { model: id.model, config: id.config, recipe: id.recipe, holdout: id.holdout ?? 0 };
  // `load` joins the identity only when set, so the fingerprints of runs on default-loaded data stay as they were
  return { ...base, initFrom: id.initFrom ?? null, ...(id.load ? { load: id.load } : {}) };
}

/** Fingerprint of a run's identity: equal exactly when model, config, recipe, hold-out and init agree. */
export function runFingerprint(id: RunIdentity): string {
  return fingerprint(canonicalIdentity(id));
}

/**
 * The configuration a record was trained with, as a short id: a hash of its model, resolved config and recipe (the
 * recipe when the record stores one). Seeds, and the per-seed checkpoint a fine-tuning run starts from, are not part
 * of it: records with equal ids are repeats of one configuration, and tables and figures average over a group only
 * when its ids agree.
 */
export function configurationId(rec: Pick<ResultRecord, 'model' | 'config'> & { recipe?: unknown }): string {
  return fingerprint({ model: rec.model ?? null, config: rec.config ?? null, recipe: rec.recipe ?? null });
}

export interface RecordInput {
  experiment: string;
  paper: string;
  variant: string;
  scale: Scale;
  dataset: string;
  synthetic: boolean;
  /** Registry name of the model. */
  model: string;
  /** The trained model's resolved config. */
  config: object;
  seed: number;
  backend: string;
  versions: Record<string, string>;
  result: TrainResult;
  /** Counted by the caller (src/analysis): parameters and one image's MACs. */
  counts: { params: number; activeParams: number; macs: number; macsWithoutAttention: number };
  /** Experiment-specific metrics, merged over the standard ones. */
  metrics?: Record<string, number>;
  extra?: Record<string, unknown>;
  key: string;
  /** Further top-level fields (the CLI stores recipe and checkpoint). */
  fields?: Record<string, unknown>;
}

/** The one ResultRecord builder: standard metrics from the training result and counts, then the caller's metrics. */
export function buildRecord(i: RecordInput): ResultRecord {
  const metrics: Record<string, number> = {
    top1: i.result.final.top1,
    top5: i.result.final.top5,
    loss: i.result.final.loss,
    params: i.counts.params,
    activeParams: i.counts.activeParams,
    macs: i.counts.macs,
    macsWithoutAttention: i.counts.macsWithoutAttention,
    imgPerS: i.result.imgPerS,
    steps: i.result.steps,
    ...(i.metrics ?? {}),
  };
  return {
    ...(i.fields ?? {}),
    experiment: i.experiment,
    paper: i.paper,
    variant: i.variant,
    scale: i.scale,
    dataset: i.dataset,
    synthetic: i.synthetic,
    model: i.model,
    config: { ...(i.config as Record<string, unknown>) },
    seed: i.seed,
    backend: i.backend,
    versions: i.versions,
    metrics,
    history: i.result.history,
    ...(i.extra !== undefined ? { extra: i.extra } : {}),
    wallTimeS: i.result.wallTimeS,
    timestamp: new Date().toISOString(),
    key: i.key,
  };
}
