import { DataError } from '../util/errors';
import type { ImageDataset } from './types';

export function loadFlowers102(root: string, split: 'train' | 'test' | 'val', _opts: { imageSize?: number } = {}): ImageDataset {
  throw new DataError(`Flowers-102 reader not implemented yet (${root}, ${split})`);
}
