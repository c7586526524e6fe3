import type * as tf from '@tensorflow/tfjs';
import type { ClassifierModel } from '../models/registry';
import type { ImageDataset } from '../data/types';
import type { Ctx } from '../nn/module';

/** Input pipeline applied per batch (in JS, on uint8 images) before the model. */
export interface AugmentConfig {
  /** Random crop with this much zero padding on each side (0 = off). */
  cropPadding: number;
  /** Random horizontal flip. */
  flip: boolean;
  /** Resize to the model's imageSize when it differs from the data's (bilinear, e.g. 32 → 36). Always on. */
}

export interface Recipe {
  epochs: number;
  batchSize: number;
  /** Peak learning rate (AdamW). */
  lr: number;
  minLr: number;
  weightDecay: number;
  warmupEpochs: number;
  labelSmoothing: number;
  /** Global-norm gradient clipping (0 = off). */
  clipNorm: number;
  augment: AugmentConfig;
  /** Cap on steps per epoch (smoke scale); 0 = whole epoch. */
  maxStepsPerEpoch: number;
  /** Cap on evaluated test images (smoke/quick); 0 = all. */
  maxEvalImages: number;
  /** Use only this many training images (0 = all). */
  trainSubset: number;
}

export interface EpochMetrics {
  epoch: number;
  step: number;
  lr: number;
  trainLoss: number;
  /** Mean of each auxiliary loss over the epoch (e.g. moe_balance, router_ce). */
  aux: Record<string, number>;
  trainTop1: number;
  testLoss?: number;
  testTop1?: number;
  testTop5?: number;
  /** Extra metrics an evaluator adds (e.g. routerTop1). */
  extra?: Record<string, number>;
  seconds: number;
}

/**
 * A custom training objective (MAE pre-training, etc.). Returns the task loss (aux losses from ctx are added by
 * the trainer). Default: label-smoothed cross-entropy on model.forward.
 */
export type LossFn = (model: ClassifierModel, x: tf.Tensor4D, y: tf.Tensor1D, ctx: Ctx) => tf.Scalar;
