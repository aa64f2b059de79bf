import type * as tf from '@tensorflow/tfjs-core';
import type { ForwardContext, ParamGetter, ParamSpec } from './common';

/** The architectures SceneLab builds, named as torchvision names them. */
export type ArchName = 'squeezenet1_1' | 'mobilenet_v3_small';

/**
 * A network as pure functions over named parameters. The split into backbone and head is
 * where `freeze` cuts: the head is every `classifier.*` parameter and is what is replaced
 * when pretrained features are loaded for a new number of classes.
 */
export interface ArchDefinition {
  name: ArchName;
  params(numClasses: number): ParamSpec[];
  /** Image batch (NHWC, normalised) → backbone features. */
  backbone(p: ParamGetter, x: tf.Tensor4D, ctx: ForwardContext): tf.Tensor;
  /** Backbone features → logits `[n, numClasses]`. */
  head(p: ParamGetter, features: tf.Tensor, ctx: ForwardContext): tf.Tensor2D;
}
