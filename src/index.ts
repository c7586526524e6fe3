/** lightvit-lab: the public API, as notebooks and scripts import it (`import { createModel } from 'lightvit-lab'`). */
export * as tf from '@tensorflow/tfjs';
export { Rng } from './util/rng';
export * from './util/errors';
export * from './util/scale';
export { writeFileAtomic, writeJsonAtomic, dataDir, figuresDir, packageRoot } from './util/fsx';
export * from './nn/module';
export * from './nn/layers';
export * from './nn/attention';
export * from './nn/patch';
export * from './models';
export * from './analysis/count';
export * from './backend';
export * from './data';
export * from './train';
export * from './experiments';
export * from './report';
