import { DataError } from '../util/errors';

/**
 * In-memory image datasets. Images are uint8 NHWC (N × H × W × C), labels int32. Every loader (CIFAR binary,
 * SVHN .mat, Flowers-102, image folders, the embedded `synth`) returns this shape, so the trainer and the
 * augmentation code never care where images came from.
 */
export interface ImageDataset {
  /**
   * Registry name: 'synth10', 'synth100', 'cifar10', 'cifar100', 'svhn', 'flowers102', 'fashion-mnist', or
   * 'folder:<path>'.
   */
  name: string;
  split: 'train' | 'test' | 'val';
  /** N·H·W·C bytes, NHWC; empty for a streaming dataset (see `readImages`). */
  images: Uint8Array;
  /**
   * Streaming datasets (an ImageNet-size folder, `loadImageFolder(..., { stream: true })`) keep their images on disk:
   * `images` is empty and this decodes the images at `indices`, in that order, into N·H·W·C bytes. Read images
   * through {@link imagesAt}, which works for both kinds.
   */
  readImages?: (indices: ArrayLike<number>) => Uint8Array;
  /**
   * Streaming datasets: start decoding these images in the background (the trainer calls it with the next batch
   * while the current one trains). A hint only: `readImages` returns the same bytes either way.
   */
  prefetch?: (indices: ArrayLike<number>) => void;
  labels: Int32Array;
  /** Super-class of each image where the dataset has them (CIFAR-100 coarse labels, synth100). */
  coarseLabels?: Int32Array;
  numClasses: number;
  numCoarse?: number;
  imageSize: number;
  channels: number;
  classNames: string[];
  coarseNames?: string[];
  /** Fine class → super-class, where defined. */
  fineToCoarse?: Int32Array;
  /** True for generated data: results on it are labelled "synthetic data" everywhere. */
  synthetic: boolean;
  /** Per-channel mean and std (0..1 scale) used to normalise inputs. */
  mean: [number, number, number];
  std: [number, number, number];
}

export type DatasetName = 'synth10' | 'synth100' | 'cifar10' | 'cifar100' | 'svhn' | 'flowers102' | 'fashion-mnist';

export function datasetLength(d: ImageDataset): number {
  return d.labels.length;
}

/** True when the dataset decodes its images on demand (`readImages`) instead of holding them in memory. */
export function isStreaming(d: ImageDataset): boolean {
  return typeof d.readImages === 'function';
}

/**
 * The images at `indices` (each in 0..N-1), in that order, as N·H·W·C bytes: copied from memory, or decoded from
 * disk for a streaming dataset. Out-of-range indices are an error naming the dataset and the valid range.
 */
export function imagesAt(d: ImageDataset, indices: ArrayLike<number>): Uint8Array {
  const n = d.labels.length;
  for (let k = 0; k < indices.length; k++) {
    const i = indices[k];
    if (!Number.isInteger(i) || i < 0 || i >= n) {
      throw new DataError(`image index ${i} is outside ${d.name} ${d.split} (expected 0..${n - 1})`);
    }
  }
  if (d.readImages) return d.readImages(indices);
  const per = d.imageSize * d.imageSize * d.channels;
  const out = new Uint8Array(indices.length * per);
  for (let k = 0; k < indices.length; k++)
    out.set(d.images.subarray(indices[k] * per, (indices[k] + 1) * per), k * per);
  return out;
}
