import { DataError } from '../util/errors';
import type { ImageDataset } from './types';

export function loadImageFolder(root: string, split: 'train' | 'test' | 'val', _opts: { imageSize?: number } = {}): ImageDataset {
  throw new DataError(`image folders not implemented yet (${root}, ${split})`);
}
