import * as tf from '@tensorflow/tfjs-core';
import {
  constInit,
  dropout,
  hardSigmoid,
  hardSwish,
  kaimingNormalFanOut,
  normalInit,
  type ForwardContext,
  type ParamGetter,
  type ParamSpec,
} from './common';
import type { ArchDefinition } from './types';

type Activation = 'RE' | 'HS';

/** torchvision's `_mobilenet_v3_conf("mobilenet_v3_small")`: in, kernel, expanded, out, SE, activation, stride. */
const BLOCKS: ReadonlyArray<readonly [number, number, number, number, boolean, Activation, number]> = [
  [16, 3, 16, 16, true, 'RE', 2],
  [16, 3, 72, 24, false, 'RE', 2],
  [24, 3, 88, 24, false, 'RE', 1],
  [24, 5, 96, 40, true, 'HS', 2],
  [40, 5, 240, 40, true, 'HS', 1],
  [40, 5, 240, 40, true, 'HS', 1],
  [40, 5, 120, 48, true, 'HS', 1],
  [48, 5, 144, 48, true, 'HS', 1],
  [48, 5, 288, 96, true, 'HS', 2],
  [96, 5, 576, 96, true, 'HS', 1],
  [96, 5, 576, 96, true, 'HS', 1],
];
const LAST_CONV = 576;
const LAST_CHANNEL = 1024;
const BN_EPS = 0.001;
const BN_MOMENTUM = 0.01;

/** torchvision `_make_divisible(v, 8)`. */
function makeDivisible(v: number, divisor = 8): number {
  let n = Math.max(divisor, Math.floor((v + divisor / 2) / divisor) * divisor);
  if (n < 0.9 * v) n += divisor;
  return n;
}

function convBn(prefix: string, out: number, inC: number, k: number, depthwise: boolean): ParamSpec[] {
  const w = [out, depthwise ? 1 : inC, k, k];
  return [
    { name: `${prefix}.0.weight`, kind: depthwise ? 'depthwise' : 'conv', torchShape: w, trainable: true, init: kaimingNormalFanOut(w) },
    ...batchNorm(`${prefix}.1`, out),
  ];
}

function batchNorm(prefix: string, c: number): ParamSpec[] {
  return [
    { name: `${prefix}.weight`, kind: 'vector', torchShape: [c], trainable: true, init: constInit([c], 1) },
    { name: `${prefix}.bias`, kind: 'vector', torchShape: [c], trainable: true, init: constInit([c], 0) },
    { name: `${prefix}.running_mean`, kind: 'vector', torchShape: [c], trainable: false, init: constInit([c], 0) },
    { name: `${prefix}.running_var`, kind: 'vector', torchShape: [c], trainable: false, init: constInit([c], 1) },
    { name: `${prefix}.num_batches_tracked`, kind: 'count', torchShape: [], trainable: false, init: constInit([1], 0) },
  ];
}

function conv1x1Bias(prefix: string, out: number, inC: number): ParamSpec[] {
  const w = [out, inC, 1, 1];
  return [
    { name: `${prefix}.weight`, kind: 'conv', torchShape: w, trainable: true, init: kaimingNormalFanOut(w) },
    { name: `${prefix}.bias`, kind: 'vector', torchShape: [out], trainable: true, init: constInit([out], 0) },
  ];
}

function linear(prefix: string, out: number, inC: number): ParamSpec[] {
  const w = [out, inC];
  return [
    { name: `${prefix}.weight`, kind: 'linear', torchShape: w, trainable: true, init: normalInit(w, 0.01) },
    { name: `${prefix}.bias`, kind: 'vector', torchShape: [out], trainable: true, init: constInit([out], 0) },
  ];
}

/** Layer indices inside `features.N.block` for one inverted-residual block. */
function blockLayout(inC: number, expanded: number, se: boolean): { expand?: number; depthwise: number; se?: number; project: number } {
  let i = 0;
  const expand = expanded !== inC ? i++ : undefined;
  const depthwise = i++;
  const seAt = se ? i++ : undefined;
  const project = i++;
  return { ...(expand !== undefined && { expand }), depthwise, ...(seAt !== undefined && { se: seAt }), project };
}

function params(numClasses: number): ParamSpec[] {
  const specs: ParamSpec[] = convBn('features.0', 16, 3, 3, false);
  BLOCKS.forEach(([inC, , expanded, out, se], b) => {
    const k = BLOCKS[b]![1];
    const prefix = `features.${b + 1}.block`;
    const at = blockLayout(inC, expanded, se);
    if (at.expand !== undefined) specs.push(...convBn(`${prefix}.${at.expand}`, expanded, inC, 1, false));
    specs.push(...convBn(`${prefix}.${at.depthwise}`, expanded, expanded, k, true));
    if (at.se !== undefined) {
      const sq = makeDivisible(Math.floor(expanded / 4));
      specs.push(...conv1x1Bias(`${prefix}.${at.se}.fc1`, sq, expanded), ...conv1x1Bias(`${prefix}.${at.se}.fc2`, expanded, sq));
    }
    specs.push(...convBn(`${prefix}.${at.project}`, out, expanded, 1, false));
  });
  specs.push(...convBn(`features.${BLOCKS.length + 1}`, LAST_CONV, 96, 1, false));
  specs.push(...linear('classifier.0', LAST_CHANNEL, LAST_CONV), ...linear('classifier.3', numClasses, LAST_CHANNEL));
  return specs;
}

function batchNormApply(p: ParamGetter, x: tf.Tensor4D, prefix: string, ctx: ForwardContext): tf.Tensor4D {
  const gamma = p(`${prefix}.weight`);
  const beta = p(`${prefix}.bias`);
  if (!ctx.training) {
    const scale = tf.mul(gamma, tf.rsqrt(tf.add(p(`${prefix}.running_var`), BN_EPS)));
    return tf.add(tf.mul(tf.sub(x, p(`${prefix}.running_mean`)), scale), beta);
  }
  const { mean, variance } = tf.moments(x, [0, 1, 2]);
  if (ctx.bnUpdates) {
    const n = x.shape[0] * x.shape[1] * x.shape[2];
    ctx.bnUpdates.push({
      prefix,
      mean: tf.keep(mean as tf.Tensor1D),
      variance: tf.keep(tf.mul(variance, n / Math.max(1, n - 1)) as tf.Tensor1D),
      momentum: BN_MOMENTUM,
    });
  }
  return tf.add(tf.mul(tf.div(tf.sub(x, mean), tf.sqrt(tf.add(variance, BN_EPS))), gamma), beta);
}

/** Symmetric `(k-1)/2` padding, as torch pads; tfjs 'same' pads stride-2 convs asymmetrically. */
function symmetricPad(k: number): [[number, number], [number, number], [number, number], [number, number]] {
  const p = (k - 1) >> 1;
  return [[0, 0], [p, p], [p, p], [0, 0]];
}

function activate(x: tf.Tensor4D, act: Activation | null): tf.Tensor4D {
  if (act === 'RE') return tf.relu(x);
  if (act === 'HS') return hardSwish(x);
  return x;
}

function convBnAct(p: ParamGetter, x: tf.Tensor4D, prefix: string, k: number, stride: number, act: Activation | null, ctx: ForwardContext, depthwise = false): tf.Tensor4D {
  const w = p(`${prefix}.0.weight`) as tf.Tensor4D;
  const y = depthwise ? tf.depthwiseConv2d(x, w, stride, symmetricPad(k)) : tf.conv2d(x, w, stride, k === 1 ? 'valid' : symmetricPad(k));
  return activate(batchNormApply(p, y, `${prefix}.1`, ctx), act);
}

function squeezeExcite(p: ParamGetter, x: tf.Tensor4D, prefix: string): tf.Tensor4D {
  const s = tf.mean(x, [1, 2], true) as tf.Tensor4D;
  const h = tf.relu(tf.add(tf.conv2d(s, p(`${prefix}.fc1.weight`) as tf.Tensor4D, 1, 'valid'), p(`${prefix}.fc1.bias`)));
  const g = hardSigmoid(tf.add(tf.conv2d(h as tf.Tensor4D, p(`${prefix}.fc2.weight`) as tf.Tensor4D, 1, 'valid'), p(`${prefix}.fc2.bias`)));
  return tf.mul(x, g);
}

/** torchvision `mobilenet_v3_small`. Backbone output: globally pooled features `[n, 576]`. */
export const mobilenetV3Small: ArchDefinition = {
  name: 'mobilenet_v3_small',
  params,
  backbone(p, x, ctx) {
    let y = convBnAct(p, x, 'features.0', 3, 2, 'HS', ctx);
    BLOCKS.forEach(([inC, k, expanded, out, se, act, stride], b) => {
      const prefix = `features.${b + 1}.block`;
      const at = blockLayout(inC, expanded, se);
      let h = y;
      if (at.expand !== undefined) h = convBnAct(p, h, `${prefix}.${at.expand}`, 1, 1, act, ctx);
      h = convBnAct(p, h, `${prefix}.${at.depthwise}`, k, stride, act, ctx, true);
      if (at.se !== undefined) h = squeezeExcite(p, h, `${prefix}.${at.se}`);
      h = convBnAct(p, h, `${prefix}.${at.project}`, 1, 1, null, ctx);
      y = stride === 1 && inC === out ? tf.add(y, h) : h;
    });
    y = convBnAct(p, y, `features.${BLOCKS.length + 1}`, 1, 1, 'HS', ctx);
    return tf.mean(y, [1, 2]);
  },
  head(p, f, ctx) {
    const h = hardSwish(tf.add(tf.matMul(f as tf.Tensor2D, p('classifier.0.weight') as tf.Tensor2D), p('classifier.0.bias')));
    const d = dropout(h, 0.2, ctx);
    return tf.add(tf.matMul(d, p('classifier.3.weight') as tf.Tensor2D), p('classifier.3.bias')) as tf.Tensor2D;
  },
};
