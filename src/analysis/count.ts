import * as tf from '@tensorflow/tfjs';
import { makeCtx, type MacKind } from '../nn/module';
import type { ClassifierModel } from '../models/registry';

/**
 * Counting conventions (stated once, used everywhere):
 * - parameters: every trainable scalar (BatchNorm running statistics excluded), head included;
 * - MACs: multiply–accumulates of one image's inference forward pass, counted by the layers themselves:
 *   Linear (rows·in·out), Conv (out positions·out channels·in channels per group·k²), attention matmuls
 *   (q·kᵀ and attn·v: 2·T_q·T_k·d per head). Norms, activations, softmax and additions are not counted.
 *   `macsWithoutAttention` drops the attention matmuls (the convention of EIT and ptflops).
 *   "FLOPs" in Mobile V-MoE = 2 × MACs.
 */
export interface MacReport {
  macs: number;
  macsWithoutAttention: number;
  byKind: Record<MacKind, number>;
}

export function countParams(model: ClassifierModel): number {
  return model.paramCount();
}

/** Runs one inference forward pass at batch 1 and sums the MACs the layers report. Builds the model if needed. */
export function countMacs(model: ClassifierModel): MacReport {
  if (!model.isBuilt) model.build(0);
  const byKind: Record<MacKind, number> = { linear: 0, conv: 0, attention: 0, other: 0 };
  const { imageSize, inChannels } = model.config;
  const ctx = makeCtx({ training: false, macs: { add: (k, n) => (byKind[k] += n) } });
  tf.tidy(() => {
    model.forward(tf.zeros([1, imageSize, imageSize, inChannels]) as tf.Tensor4D, ctx);
  });
  const macs = byKind.linear + byKind.conv + byKind.attention + byKind.other;
  return { macs, macsWithoutAttention: macs - byKind.attention, byKind };
}
