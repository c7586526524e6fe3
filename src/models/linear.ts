import * as tf from '@tensorflow/tfjs';
import type { Ctx } from '../nn/module';
import { init } from '../nn/module';
import { Linear } from '../nn/layers';
import { type BaseConfig, check } from './config';
import { ClassifierModel, type ModelFamily, registerModel } from './registry';

/**
 * A linear classifier on raw pixels: the normalised image flattened (H·W·C values) into one Linear layer. Not a
 * paper's model: the reference every quick-scale comparison is drawn against ("what pixels alone give at this
 * budget", about 84% top-1 on Fashion-MNIST with full training), trained by the same trainer on the same images.
 */
export interface LinearConfig extends BaseConfig {}

export class LinearClassifier extends ClassifierModel<LinearConfig> {
  readonly head: Linear;
  constructor(c: LinearConfig) {
    super(c);
    const d = c.imageSize * c.imageSize * c.inChannels;
    this.head = this.child('head', new Linear(d, c.numClasses, { weightInit: init.zeros(), biasInit: init.zeros() }));
  }

  forward(x: tf.Tensor4D, ctx: Ctx): tf.Tensor2D {
    return tf.tidy(() => this.head.forward(x.reshape([x.shape[0], -1]), ctx) as tf.Tensor2D);
  }
}

export const linearFamily: ModelFamily<LinearConfig> = {
  family: 'linear',
  paper: '',
  defaults: { imageSize: 32, numClasses: 10, inChannels: 3 },
  docs: {
    imageSize: 'input side in pixels (images are resized to it)',
    numClasses: 'output classes',
    inChannels: 'input channels',
  },
  validate(c, name) {
    check.that(
      Number.isInteger(c.imageSize) && c.imageSize >= 1,
      `${name}: imageSize=${c.imageSize} must be a positive integer`,
    );
    check.that(
      Number.isInteger(c.numClasses) && c.numClasses >= 2,
      `${name}: numClasses=${c.numClasses} must be an integer ≥ 2`,
    );
  },
  create: (c) => new LinearClassifier(c),
  closedFormParams: (c) => (c.imageSize * c.imageSize * c.inChannels + 1) * c.numClasses,
};

registerModel(
  'linear',
  linearFamily,
  {},
  {
    description: 'linear classifier on raw pixels (32×32×3 → classes): the reference line of quick-scale figures',
  },
);
registerModel(
  'linear-test',
  linearFamily,
  { imageSize: 8 },
  { description: 'tiny linear classifier for tests', tags: ['test'] },
);
