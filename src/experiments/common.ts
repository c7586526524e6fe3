import type { Scale } from '../util/scale';
import type { Recipe, LossFn } from '../train/types';
import type { ResultRecord } from '../report/types';
import type { ClassifierModel } from '../models/registry';
import type { ImageDataset } from '../data/types';
import type { ExperimentRunContext, PaperId } from './types';

/**
 * The glue every paper's experiments use: one call trains (or skips, when stored) one model on one dataset at the
 * context's scale and appends a ResultRecord (metrics, params, MACs, history, backend, versions) to the results
 * store. Implemented by the foundation work; the signature is stable.
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
  /** Changes to the scale's default recipe (see defaultRecipe). Per-scale values: pass a function of the scale. */
  recipe?: Partial<Recipe> | ((scale: Scale) => Partial<Recipe>);
  seed?: number;
  /** Custom objective (MAE); default label-smoothed cross-entropy. */
  lossFn?: LossFn;
  /** Initialise from a checkpoint (fine-tuning); see train/checkpoint. */
  initFrom?: string;
  /** Extra analysis after training; what it returns is stored in record.extra. */
  analyse?: (model: ClassifierModel, test: ImageDataset) => Promise<Record<string, unknown>> | Record<string, unknown>;
  /** Extra metrics for record.metrics computed after training (e.g. router accuracy). */
  metrics?: (model: ClassifierModel, test: ImageDataset) => Promise<Record<string, number>> | Record<string, number>;
}

export declare function runClassifier(ctx: ExperimentRunContext, spec: RunSpec): Promise<ResultRecord>;
export declare function defaultRecipe(scale: Scale): Recipe;
/** 'cifar10' → 'cifar10' when downloaded and ctx.preferReal, else 'synth10' (likewise cifar100 → synth100). */
export declare function datasetFor(ctx: ExperimentRunContext, wanted: string): string;
