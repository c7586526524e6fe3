/**
 * The model registry with every model registered. Import models from here (not from ./registry), so that all
 * variants exist: each model file registers its variants when imported. Add new model files below.
 */
import './vit';
import './mlit';
import './mae';
import './mobile-vmoe';
import './dwnet';
import './eit';
import './resnet';
import './linear';
export * from './registry';
export * from './config';
export { VisionTransformer, VitBlock, vitFamily } from './vit';
export type { VitConfig } from './vit';
