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
  /** N·H·W·C bytes, NHWC. */
  images: Uint8Array;
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
