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

// Each paper's own helpers that its notebook uses, by name, so a notebook imports only from 'lightvit-lab'
// (the folders above export the shared layers; these come from one paper's files).
export { Mlit, depthwiseHidden, stagedExperts, mlitClosedFormMacs, mlitParamBudget } from './models/mlit';
export type { MlitConfig } from './models/mlit';
export { MobileVmoe } from './models/mobile-vmoe';
export type { MobileVmoeConfig } from './models/mobile-vmoe';
export { MaeVit, MaePretrainer, maeVitClosedFormMacs } from './models/mae';
export type { MaeVitConfig } from './models/mae';
export { randomPatchMask, visibleCount, maeLoss } from './nn/mae';
export { asPretrainer, reconstructionSamples, maeLossFn, fineTuneInit, linearProbeLossFn } from './train/mae';
export { adjustedRandIndex } from './analysis/superclass';
export { figureOneConnectivity, connectivityFigure } from './analysis/connectivity';
export { cachedDataset, datasetFor } from './experiments/common';
export {
  mlitAblationArms,
  mlitScaleOverrides,
  analyseRouting,
  routingFigures,
  REPORTED_LIGHTWEIGHT,
} from './experiments/mlit';
export type { RoutingRun, RoutingStats } from './experiments/mlit';
export { dwnetScaleOverrides } from './experiments/dwnet';
export { eitArms, channelSplitFigure, scheduleSplitFigure, EIT_DATASETS } from './experiments/eit';
export { convChannelSplit } from './models/eit';
export {
  IMAGENET_ENV,
  imagenetFolder,
  imagenetGeometry,
  imagenetRecipe,
  imagenetStudyArms,
  registerImagenetStudy,
} from './experiments/imagenet';
export type { ImagenetArm, ImagenetStudy } from './experiments/imagenet';
