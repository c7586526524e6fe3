import * as tf from '@tensorflow/tfjs';
import { makeCtx } from '../nn/module';
import { dropout } from '../nn/layers';
import { randomPatchMask } from '../nn/mae';
import type { ClassifierModel } from '../models/registry';
import { MaePretrainer, type MaeEncoder } from '../models/mae';
import type { ImageDataset } from '../data/types';
import { evalBatch } from '../data/eval-batches';
import { Rng } from '../util/rng';
import { ConfigError } from '../util/errors';
import { crossEntropy } from './losses';
import type { LossFn } from './types';

/**
 * MAE pre-training and fine-tuning with the one trainer: the MAE objective as a `LossFn`, the checkpoint mapping
 * that turns a pre-trainer's `encoder.*` into a classifier, a frozen-encoder linear probe, and reconstruction samples
 * for figures.
 */

/** `model` as an MAE pre-trainer (for its `pretrainLoss` and `reconstruct`), or a ConfigError naming the model. */
export function asPretrainer(model: ClassifierModel): MaePretrainer {
  if (!(model instanceof MaePretrainer)) {
    throw new ConfigError(
      `MAE pre-training needs a pre-trainer model (e.g. 'mae-vit-pretrain', 'mmlit-xxs-pretrain'); got ` +
        `'${model.modelName || model.constructor.name}'`,
    );
  }
  return model;
}

/** The MAE objective (masked MSE + discount · visible MSE; routers' aux loss via ctx) for `train`/`runClassifier`. */
export function maeLossFn(): LossFn {
  return (model, x, _y, ctx) => asPretrainer(model).pretrainLoss(x, ctx);
}

export interface FineTuneInitOptions {
  /** Also load the pre-trained head (same classes); default: a fresh head. */
  keepHead?: boolean;
  /** Keep MaskEmbed / OutProj (only when the classifier has them, mLiT maeExtras=true). */
  keepMaeExtras?: boolean;
}

/**
 * `initFrom` for a classifier from a pre-trainer's checkpoint: `encoder.X` → `X`; the decoder, the pre-training head
 * and the MAE-only encoder parameters are dropped; only the head may be missing. Anything else that does not fit
 * (other depth, width, patch) is an error from `loadCheckpoint` listing the missing and unexpected names.
 */
export function fineTuneInit(file: string, opts: FineTuneInitOptions = {}) {
  return {
    file,
    map: (p: string): string | null => {
      if (p.startsWith('decoder.')) return null;
      const q = p.startsWith('encoder.') ? p.slice('encoder.'.length) : p;
      if (!opts.keepHead && q.startsWith('head.')) return null;
      if (!opts.keepMaeExtras && (q.startsWith('out_proj.') || q === 'mask_embed')) return null;
      return q;
    },
    allowMissing: (p: string) => !opts.keepHead && p.startsWith('head.'),
  };
}

function encoderOf(model: ClassifierModel): MaeEncoder {
  const m = model as unknown as MaeEncoder;
  if (typeof m.encode !== 'function' || typeof m.patches !== 'function' || !m.head) {
    throw new ConfigError(
      `linear probe needs an encoder classifier with patches/encode/head (mae-vit, mlit-*); got '${model.modelName}'`,
    );
  }
  return m;
}

/**
 * Frozen-encoder linear probe: class-token features from the encoder in evaluation mode, detached from the tape
 * (read back and re-made), so only the head receives gradients — the trainer's AdamW skips parameters without a
 * gradient, so the encoder is neither updated nor decayed. Cross-entropy with label smoothing on the head.
 */
export function linearProbeLossFn(labelSmoothing = 0): LossFn {
  return (model, x, y, ctx) => {
    const enc = encoderOf(model);
    const feats = tf.tidy(() => {
      const { tokens } = enc.encode(enc.patches(x), null, makeCtx({ training: false }));
      const [b, T, m] = tokens.shape;
      return tokens.slice([0, T - 1, 0], [b, 1, m]).reshape([b, m]);
    });
    const detached = tf.tensor2d(feats.dataSync() as Float32Array, feats.shape as [number, number]);
    feats.dispose();
    const rate = (model.config as unknown as { headDropout?: number }).headDropout ?? 0;
    return crossEntropy(enc.head.forward(dropout(detached, rate, ctx), ctx) as tf.Tensor2D, y, labelSmoothing);
  };
}

/** One image of a reconstruction panel: uint8 HWC pixels as a plain array (JSON-friendly for record.extra). */
export interface ReconImage {
  index: number;
  original: number[];
  masked: number[];
  /** Every patch as predicted. */
  reconstruction: number[];
  /** Predicted masked patches, visible patches from the input (He et al.'s "reconstruction + visible"). */
  pasted: number[];
}

export interface ReconSamples {
  size: number;
  channels: number;
  patchSize: number;
  maskRatio: number;
  images: ReconImage[];
}

/**
 * Reconstructions of a few test images in evaluation mode with a fixed mask (seed `maskSeed`), as small uint8
 * arrays. Inputs are de-normalised with the dataset's mean/std; with normalised-pixel targets each predicted patch
 * is mapped back with its target patch's mean and std (as He et al. visualise).
 */
export function reconstructionSamples(
  model: ClassifierModel,
  ds: ImageDataset,
  opts: { indices?: number[]; maskSeed?: number } = {},
): ReconSamples {
  const m = asPretrainer(model);
  const indices = opts.indices ?? [0, 1, 2];
  const S = m.config.imageSize;
  const C = m.config.inChannels;
  const p = (m.config as unknown as { patchSize: number }).patchSize;
  const b = evalBatch(m, ds, indices);
  const mask = randomPatchMask(indices.length, m.encoder.numPatches, m.mae.maskRatio, new Rng(opts.maskSeed ?? 2024));
  const [orig, masked, recon, pasted] = tf.tidy(() => {
    const x = tf.tensor4d(b.x, b.shape);
    const r = m.reconstruct(x, makeCtx({ training: false, seed: 0 }), mask);
    const patches = m.encoder.patches(x);
    const nv = mask.numVisible;
    const nm = mask.numMasked;
    const B = indices.length;
    const N = m.encoder.numPatches;
    const denorm = (pred: tf.Tensor3D, target: tf.Tensor3D) => {
      if (!m.mae.normPixLoss) return pred;
      const P = target.shape[2];
      const mean = target.mean(-1, true);
      const std = target
        .sub(mean)
        .square()
        .sum(-1, true)
        .div(Math.max(1, P - 1))
        .add(1e-6)
        .sqrt();
      return pred.mul(std).add(mean);
    };
    const pv = denorm(r.predVisible, r.targetVisible);
    const pm = denorm(r.predMasked, r.targetMasked);
    // scatter back to grid order: row i of the grid comes from the [visible; masked] sequence
    const order = new Int32Array(B * N);
    for (let i = 0; i < B; i++) {
      for (let j = 0; j < nv; j++) order[i * N + mask.visible[i * nv + j]] = i * N + j;
      for (let j = 0; j < nm; j++) order[i * N + mask.masked[i * nm + j]] = i * N + nv + j;
    }
    const P = patches.shape[2];
    const toGrid = (seq: tf.Tensor) =>
      tf.gather(seq.reshape([B * N, P]), tf.tensor1d(order, 'int32')).reshape([B, N, P]) as tf.Tensor3D;
    const isMasked = new Float32Array(B * N);
    for (let i = 0; i < B * nm; i++) isMasked[Math.floor(i / nm) * N + mask.masked[i]] = 1;
    const mk = tf.tensor3d(isMasked, [B, N, 1]);
    const full = toGrid(tf.concat([pv, pm], 1));
    const paste = toGrid(tf.concat([r.targetVisible, pm], 1));
    // masked patches shown as the dataset's mean colour (0 after normalisation)
    const greyPatches = patches.mul(tf.scalar(1).sub(mk));
    return [x, m.unpatchify(greyPatches as tf.Tensor3D), m.unpatchify(full), m.unpatchify(paste)];
  });
  const toUint8 = (t: tf.Tensor, i: number): number[] => {
    const v = t.dataSync();
    const out = new Array<number>(S * S * C);
    for (let k = 0; k < out.length; k++) {
      const c = k % C;
      const val = (v[i * S * S * C + k] * ds.std[c % 3] + ds.mean[c % 3]) * 255;
      out[k] = Math.max(0, Math.min(255, Math.round(val)));
    }
    return out;
  };
  const images = indices.map((index, i) => ({
    index,
    original: toUint8(orig, i),
    masked: toUint8(masked, i),
    reconstruction: toUint8(recon, i),
    pasted: toUint8(pasted, i),
  }));
  tf.dispose([orig, masked, recon, pasted]);
  return { size: S, channels: C, patchSize: p, maskRatio: m.mae.maskRatio, images };
}
