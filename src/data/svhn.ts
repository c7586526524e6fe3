import { DataError } from '../util/errors';
import type { ImageDataset } from './types';

export function loadSvhn(root: string, split: 'train' | 'test'): ImageDataset {
  throw new DataError(`SVHN reader not implemented yet (${root}, ${split})`);
}
