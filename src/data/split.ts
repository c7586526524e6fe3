import { DataError, fmtInt } from '../util/errors';
import { Rng } from '../util/rng';
import type { ImageDataset } from './types';

export interface HoldoutOptions {
  /** Share of each class moved to the validation split, in (0, 1); default 0.1. */
  fraction?: number;
  /** Seed of the per-class draw; the same seed gives the same split on every machine (default 0). */
  seed?: number;
}

/** Copy the images, labels (and coarse labels) at `idx` (ascending) into a new dataset of `split`. */
function subset(ds: ImageDataset, idx: Int32Array, split: ImageDataset['split']): ImageDataset {
  if (ds.readImages) return streamingSubset(ds, idx, split);
  const per = ds.imageSize * ds.imageSize * ds.channels;
  const images = new Uint8Array(idx.length * per);
  const labels = new Int32Array(idx.length);
  const coarse = ds.coarseLabels ? new Int32Array(idx.length) : undefined;
  for (let k = 0; k < idx.length; k++) {
    const i = idx[k];
    images.set(ds.images.subarray(i * per, (i + 1) * per), k * per);
    labels[k] = ds.labels[i];
    if (coarse) coarse[k] = ds.coarseLabels![i];
  }
  return { ...ds, split, images, labels, ...(coarse ? { coarseLabels: coarse } : {}) };
}

/** A streaming dataset's subset stays on disk: labels are copied, image reads map through `idx`. */
function streamingSubset(ds: ImageDataset, idx: Int32Array, split: ImageDataset['split']): ImageDataset {
  const read = ds.readImages!;
  const labels = Int32Array.from(idx, (i) => ds.labels[i]);
  const coarse = ds.coarseLabels ? Int32Array.from(idx, (i) => ds.coarseLabels![i]) : undefined;
  return {
    ...ds,
    split,
    labels,
    ...(coarse ? { coarseLabels: coarse } : {}),
    readImages: (indices) => read(Int32Array.from(indices, (k) => idx[k])),
    ...(ds.prefetch ? { prefetch: (indices) => ds.prefetch!(Int32Array.from(indices, (k) => idx[k])) } : {}),
  };
}

/**
 * Hold a validation split out of a train split: from each class, `round(fraction · count)` images drawn with a
 * seeded generator (at least one image of a class stays in train) go to `val`, the rest to `train`. The draw is
 * stratified (class shares are kept), deterministic for a seed, and the two parts are disjoint and together cover
 * the input; each keeps the input's order. Coarse labels and every other field are kept. The test split is never
 * touched: model selection (for example Mobile V-MoE's confusion-matrix super-classes) uses `val`.
 */
export function holdoutSplit(ds: ImageDataset, opts: HoldoutOptions = {}): { train: ImageDataset; val: ImageDataset } {
  const fraction = opts.fraction ?? 0.1;
  const seed = opts.seed ?? 0;
  if (!(fraction > 0 && fraction < 1)) {
    throw new DataError(`holdoutSplit fraction ${fraction}; expected a number in (0, 1), e.g. 0.1`);
  }
  if (!Number.isInteger(seed)) throw new DataError(`holdoutSplit seed ${seed}; expected an integer`);
  if (ds.split !== 'train') {
    throw new DataError(
      `holdoutSplit of ${ds.name}'s '${ds.split}' split; expected a 'train' split (validation data is never taken ` +
        `from the test set)`,
    );
  }
  const n = ds.labels.length;
  const byClass = new Map<number, number[]>();
  for (let i = 0; i < n; i++) {
    const y = ds.labels[i];
    let list = byClass.get(y);
    if (!list) {
      list = [];
      byClass.set(y, list);
    }
    list.push(i);
  }
  const rng = new Rng(seed);
  const inVal = new Uint8Array(n);
  let nVal = 0;
  // classes in ascending label order, so the draw does not depend on the images' order of first appearance
  for (const y of [...byClass.keys()].sort((a, b) => a - b)) {
    const list = byClass.get(y)!;
    const take = Math.min(Math.round(fraction * list.length), list.length - 1);
    rng.shuffle(list);
    for (let k = 0; k < take; k++) inVal[list[k]] = 1;
    nVal += Math.max(0, take);
  }
  if (nVal === 0) {
    throw new DataError(
      `holdoutSplit of ${fmtInt(n)} images with fraction ${fraction} leaves no validation image; expected a larger ` +
        `fraction or more images per class`,
    );
  }
  const valIdx = new Int32Array(nVal);
  const trainIdx = new Int32Array(n - nVal);
  for (let i = 0, a = 0, b = 0; i < n; i++) {
    if (inVal[i]) valIdx[a++] = i;
    else trainIdx[b++] = i;
  }
  return { train: subset(ds, trainIdx, 'train'), val: subset(ds, valIdx, 'val') };
}
