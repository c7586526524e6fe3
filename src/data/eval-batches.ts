import { ConfigError } from '../util/errors';
import { Rng } from '../util/rng';
import { prepareBatch, type Batch } from './augment';
import type { ImageDataset } from './types';

/** What the evaluation pipeline needs of a model: its input size. */
export interface SizedModel {
  config: { imageSize: number };
}

export interface EvalBatchOptions {
  /** Centre crop of this fraction of the side before resizing (1 = none, the default). */
  evalCropFraction?: number;
}

/**
 * One batch of the given images in evaluation form: no augmentation (at most a centre crop), normalised and resized
 * to the model's input size. Deterministic: the same images give the same batch.
 */
export function evalBatch(
  model: SizedModel,
  ds: ImageDataset,
  indices: ArrayLike<number>,
  opts: EvalBatchOptions = {},
): Batch {
  const crop = opts.evalCropFraction ?? 1;
  const augment = crop !== 1 ? { cropPadding: 0, flip: false, evalCropFraction: crop } : null;
  return prepareBatch(ds, indices, { augment, targetSize: model.config.imageSize, rng: new Rng(0) });
}

export interface EvalBatchesOptions extends EvalBatchOptions {
  /** Use only the first this many images of `order` (≤ 0 or absent: all of them). */
  maxImages?: number;
  /** Images per batch; default 128. */
  batchSize?: number;
  /** Which images, in which order; default the dataset's images in order (0, 1, 2, …). */
  order?: ArrayLike<number>;
}

/** An evaluation batch and the dataset indices of its images. */
export interface IndexedBatch extends Batch {
  indices: Int32Array;
}

/**
 * The images of a dataset (the first `maxImages`, or those of `order`) in fixed batches of `batchSize`, in
 * evaluation form (see evalBatch). The one loop the trainer's evaluation and the experiments' analyses share.
 */
export function* evalBatches(
  model: SizedModel,
  ds: ImageDataset,
  opts: EvalBatchesOptions = {},
): Generator<IndexedBatch> {
  const order = opts.order ?? Int32Array.from({ length: ds.labels.length }, (_, i) => i);
  const max = opts.maxImages ?? 0;
  const n = max > 0 ? Math.min(max, order.length) : order.length;
  const bs = opts.batchSize ?? 128;
  if (!Number.isInteger(bs) || bs <= 0) throw new ConfigError(`evalBatches: batchSize ${bs} is not a positive integer`);
  const batchAt = (i: number) => Int32Array.from({ length: Math.min(bs, n - i) }, (_, j) => order[i + j]);
  for (let i = 0; i < n; i += bs) {
    const indices = batchAt(i);
    // streaming data: decode the next batch in the background while this one is evaluated
    if (ds.prefetch) {
      if (i === 0) ds.prefetch(indices);
      if (i + bs < n) ds.prefetch(batchAt(i + bs));
    }
    yield { ...evalBatch(model, ds, indices, opts), indices };
  }
}
