import * as tf from '@tensorflow/tfjs-core';
import { constInit, dropout, kaimingUniform, normalInit, type ForwardContext, type ParamGetter, type ParamSpec } from './common';
import type { ArchDefinition } from './types';

/** Fire modules of SqueezeNet 1.1: `[features index, in, squeeze, expand1x1, expand3x3]`. */
const FIRES: ReadonlyArray<readonly [number, number, number, number, number]> = [
  [3, 64, 16, 64, 64],
  [4, 128, 16, 64, 64],
  [6, 128, 32, 128, 128],
  [7, 256, 32, 128, 128],
  [9, 256, 48, 192, 192],
  [10, 384, 48, 192, 192],
  [11, 384, 64, 256, 256],
  [12, 512, 64, 256, 256],
];

function conv(name: string, out: number, inC: number, k: number): ParamSpec[] {
  const w = [out, inC, k, k];
  return [
    { name: `${name}.weight`, kind: 'conv', torchShape: w, trainable: true, init: kaimingUniform(w) },
    { name: `${name}.bias`, kind: 'vector', torchShape: [out], trainable: true, init: constInit([out], 0) },
  ];
}

function params(numClasses: number): ParamSpec[] {
  const specs: ParamSpec[] = [...conv('features.0', 64, 3, 3)];
  for (const [i, inC, s, e1, e3] of FIRES) {
    specs.push(...conv(`features.${i}.squeeze`, s, inC, 1));
    specs.push(...conv(`features.${i}.expand1x1`, e1, s, 1));
    specs.push(...conv(`features.${i}.expand3x3`, e3, s, 3));
  }
  // torchvision initialises the final conv with N(0, 0.01) rather than He-uniform.
  const w = [numClasses, 512, 1, 1];
  specs.push(
    { name: 'classifier.1.weight', kind: 'conv', torchShape: w, trainable: true, init: normalInit(w, 0.01) },
    { name: 'classifier.1.bias', kind: 'vector', torchShape: [numClasses], trainable: true, init: constInit([numClasses], 0) },
  );
  return specs;
}

function convRelu(p: ParamGetter, x: tf.Tensor4D, name: string, stride: number, pad: 'valid' | 'same'): tf.Tensor4D {
  // Fused conv + bias + ReLU: one XNNPACK call on wasm instead of three kernels, and tfjs
  // still differentiates it (its fused gradient supports 'relu').
  return tf.fused.conv2d({ x, filter: p(`${name}.weight`) as tf.Tensor4D, strides: stride, pad, bias: p(`${name}.bias`), activation: 'relu' });
}

/**
 * `nn.MaxPool2d(3, 2, ceil_mode=True)`. tfjs has no ceil mode: 'valid' drops the last
 * partial window (74 → 36 at 150x150) and 'same' adds one PyTorch never has (74 → 37 but
 * 37 → 19). PyTorch keeps a last window only if it starts inside the input, so pad the
 * bottom/right by exactly what that window needs, with a value no activation reaches.
 */
export function maxPoolCeil(x: tf.Tensor4D, k = 3, s = 2): tf.Tensor4D {
  const padFor = (n: number): number => {
    let out = Math.ceil((n - k) / s) + 1;
    if ((out - 1) * s >= n) out -= 1;
    return Math.max(0, (out - 1) * s + k - n);
  };
  const ph = padFor(x.shape[1]);
  const pw = padFor(x.shape[2]);
  const padded = ph || pw ? tf.pad(x, [[0, 0], [0, ph], [0, pw], [0, 0]], -1e30) : x;
  return tf.maxPool(padded, k, s, 'valid');
}

function fire(p: ParamGetter, x: tf.Tensor4D, i: number): tf.Tensor4D {
  const sq = convRelu(p, x, `features.${i}.squeeze`, 1, 'valid');
  return tf.concat([convRelu(p, sq, `features.${i}.expand1x1`, 1, 'valid'), convRelu(p, sq, `features.${i}.expand3x3`, 1, 'same')], 3);
}

/** torchvision `squeezenet1_1`. Backbone output: the `features` map `[n, h, w, 512]`. */
export const squeezenet1_1: ArchDefinition = {
  name: 'squeezenet1_1',
  params,
  backbone(p, x) {
    let y = convRelu(p, x, 'features.0', 2, 'valid');
    y = maxPoolCeil(y);
    y = fire(p, y, 3);
    y = fire(p, y, 4);
    y = maxPoolCeil(y);
    y = fire(p, y, 6);
    y = fire(p, y, 7);
    y = maxPoolCeil(y);
    for (const i of [9, 10, 11, 12]) y = fire(p, y, i);
    return y;
  },
  head(p, f, ctx: ForwardContext) {
    const d = dropout(f as tf.Tensor4D, 0.5, ctx);
    const y = convRelu(p, d, 'classifier.1', 1, 'valid');
    return tf.mean(y, [1, 2]) as tf.Tensor2D;
  },
};
