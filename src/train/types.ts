import type * as tf from '@tensorflow/tfjs';
import type { ClassifierModel } from '../models/registry';
import type { Ctx } from '../nn/module';
import type { AugmentConfig } from '../data/augment';
import type { MixupConfig } from '../data/mixup';

export type { AugmentConfig } from '../data/augment';
export interface Recipe {
  epochs: number;
  batchSize: number;
  /** Peak learning rate. */
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
  /** 'adamw' (default) or 'sgd' (momentum, coupled L2 weight decay; the CIFAR ResNet recipe). */
  optimizer?: 'adamw' | 'sgd';
  /** SGD momentum (default 0.9). */
  momentum?: number;
  /** Mixup/CutMix with soft targets (label smoothing inside them); undefined = off. */
  mixup?: MixupConfig;
  /** Model EMA decay per step (0/undefined = off); the averaged weights are evaluated as `emaTop1` etc. */
  emaDecay?: number;
  /** Repeated augmentation (Hoffer et al. 2020; DeiT's RASampler): each image this many times per epoch (≤ 1 = off). */
  repeatedAugment?: number;
  /** Free-text provenance of the recipe (which paper, which section), shown in reports. */
  source?: string;
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
