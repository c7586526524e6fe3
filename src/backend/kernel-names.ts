import type * as tf from '@tensorflow/tfjs';

/**
 * The names and shapes shared between the kit's layers and the native kernels, without the kernels themselves:
 * src/nn/fused.ts calls the fused kernels by these names when the active backend has them, src/train/optim.ts
 * hands AdamW slots to the fused step. The native addon registers kernels under these names
 * (src/backend/native.ts); on every other backend the layers use compositions of tfjs ops.
 */

/** Fused kernels the kit's layers call through `tf.engine().runKernel` when the active backend has them. */
export const FUSED = {
  layerNorm: 'LvLayerNorm',
  layerNormGrad: 'LvLayerNormGrad',
  activation: 'LvActivation',
  activationGrad: 'LvActivationGrad',
  softmaxGrad: 'LvSoftmaxGrad',
  batchNorm: 'LvBatchNorm',
  batchNormGrad: 'LvBatchNormGrad',
  linear: 'LvLinear',
  linearGrad: 'LvLinearGrad',
  attention: 'LvAttention',
  attentionGrad: 'LvAttentionGrad',
  dropoutMask: 'LvDropoutMask',
} as const;

/** Activation kinds of the fused activation kernels, by the layer's name for them. */
export const FUSED_ACTIVATIONS: Readonly<Record<string, number>> = { gelu: 0, 'gelu-sigmoid': 1, silu: 2 };

/** One parameter's slot in a fused AdamW step. */
export interface AdamWSlot {
  param: tf.Tensor;
  grad: tf.Tensor;
  m: tf.Tensor;
  v: tf.Tensor;
  /** Weight-decay factor 1 − lr·wd, or 1. */
  decay: number;
}

export interface AdamWHyper {
  lr: number;
  beta1: number;
  beta2: number;
  eps: number;
  /** Bias corrections 1 − β1ᵗ and 1 − β2ᵗ. */
  c1: number;
  c2: number;
  /** Scale gradients so their global L2 norm is at most this (0: no clipping). */
  clipNorm: number;
}
