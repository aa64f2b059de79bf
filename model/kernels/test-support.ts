/**
 * What the wasm kernel tests share: deterministic data, the error measure, gradients of a
 * convolution on a named backend, and the conv2d shapes every Conv2DBackpropFilter must get
 * right (odd sizes, strides, paddings, channel counts).
 */
import * as tf from '@tensorflow/tfjs-core';
import { expect } from 'vitest';

export type Shape4 = [number, number, number, number];
export type Pad = 'same' | 'valid' | number | [[number, number], [number, number], [number, number], [number, number]];
export type Stride = number | [number, number];

/** Deterministic inputs, so a failure reproduces. */
export function randomData(size: number, seed: number): Float32Array {
  let s = seed >>> 0;
  const out = new Float32Array(size);
  for (let i = 0; i < size; i++) {
    s = (s + 0x6d2b79f5) >>> 0;
    let t = s;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    out[i] = (((t ^ (t >>> 14)) >>> 0) / 4294967296) * 2 - 1;
  }
  return out;
}

export const sizeOf = (shape: readonly number[]): number => shape.reduce((a, b) => a * b, 1);

/** max|a - b| / max(max|b|, 1e-6), b being the reference. */
export function maxRelativeError(a: Float32Array, b: Float32Array): number {
  expect(a.length).toBe(b.length);
  let diff = 0;
  let scale = 1e-6;
  for (let i = 0; i < b.length; i++) {
    diff = Math.max(diff, Math.abs((a[i] ?? NaN) - (b[i] ?? NaN)));
    scale = Math.max(scale, Math.abs(b[i] ?? 0));
  }
  // NaN anywhere must fail, and Math.max would propagate it into `diff` only sometimes.
  return a.some(Number.isNaN) ? Infinity : diff / scale;
}

export type Conv = (x: tf.Tensor4D, w: tf.Tensor4D) => tf.Tensor4D;

/** d/dx and d/dw of sum(conv(x, w) * r) on `backend`, r being a fixed random upstream gradient. */
export async function convGrads(
  backend: string,
  conv: Conv,
  xShape: Shape4,
  wShape: Shape4,
  seed: number,
): Promise<{ dx: Float32Array; dw: Float32Array }> {
  await tf.setBackend(backend);
  const x = tf.tensor4d(randomData(sizeOf(xShape), seed), xShape);
  const w = tf.tensor4d(randomData(sizeOf(wShape), seed + 1), wShape);
  const outShape = tf.tidy(() => conv(x, w).shape);
  const r = tf.tensor(randomData(sizeOf(outShape), seed + 2), outShape);
  const [dx, dw] = tf.grads((a, b) => tf.sum(tf.mul(conv(a as tf.Tensor4D, b as tf.Tensor4D), r)))([x, w]);
  const result = { dx: (await dx!.data()) as Float32Array, dw: (await dw!.data()) as Float32Array };
  tf.dispose([x, w, r, dx!, dw!]);
  return result;
}

export interface ConvCase {
  name: string;
  x: Shape4;
  /** [fh, fw, inC, outC] for conv2d, [fh, fw, C, multiplier] for depthwise. */
  w: Shape4;
  stride: Stride;
  pad: Pad;
  /** Only with a numeric pad; tfjs passes it to the depthwise gradient kernels (not to conv2d's). */
  dimRoundingMode?: 'floor' | 'round' | 'ceil';
}

export const conv2dCases: ConvCase[] = [
  { name: '1x1 s1 valid', x: [1, 5, 5, 4], w: [1, 1, 4, 3], stride: 1, pad: 'valid' },
  { name: '1x1 s1 valid batch 3', x: [3, 9, 9, 6], w: [1, 1, 6, 5], stride: 1, pad: 'valid' },
  { name: '1x1 s2 valid even (last row unused)', x: [2, 10, 10, 3], w: [1, 1, 3, 4], stride: 2, pad: 'valid' },
  { name: '3x3 s1 same', x: [3, 7, 7, 3], w: [3, 3, 3, 4], stride: 1, pad: 'same' },
  { name: '3x3 s1 same even', x: [1, 8, 6, 2], w: [3, 3, 2, 5], stride: 1, pad: 'same' },
  { name: '3x3 s2 valid even (150->74 style)', x: [1, 20, 20, 3], w: [3, 3, 3, 8], stride: 2, pad: 'valid' },
  { name: '3x3 s2 valid odd', x: [3, 19, 19, 3], w: [3, 3, 3, 4], stride: 2, pad: 'valid' },
  { name: '3x3 s2 same even', x: [2, 16, 16, 3], w: [3, 3, 3, 4], stride: 2, pad: 'same' },
  { name: '3x3 s2 same odd', x: [1, 15, 15, 4], w: [3, 3, 4, 3], stride: 2, pad: 'same' },
  { name: '3x3 s1 pad 1', x: [3, 9, 9, 4], w: [3, 3, 4, 6], stride: 1, pad: 1 },
  { name: '3x3 s2 pad 1 odd', x: [1, 11, 11, 3], w: [3, 3, 3, 4], stride: 2, pad: 1 },
  { name: '3x3 s2 explicit asymmetric', x: [2, 12, 11, 3], w: [3, 3, 3, 4], stride: 2, pad: [[0, 0], [1, 2], [0, 1], [0, 0]] },
  { name: '5x5 s1 explicit asymmetric', x: [1, 10, 9, 2], w: [5, 5, 2, 3], stride: 1, pad: [[0, 0], [2, 0], [1, 3], [0, 0]] },
  { name: '5x5 s2 same odd', x: [3, 17, 17, 2], w: [5, 5, 2, 4], stride: 2, pad: 'same' },
  { name: '5x5 s2 valid even', x: [1, 18, 18, 3], w: [5, 5, 3, 2], stride: 2, pad: 'valid' },
  { name: '3x3 stride [2,1] same, non-square', x: [2, 13, 8, 3], w: [3, 3, 3, 4], stride: [2, 1], pad: 'same' },
  { name: '3x3 s3 valid', x: [1, 14, 14, 2], w: [3, 3, 2, 3], stride: 3, pad: 'valid' },
  { name: '3x3 s2 same, 1 input channel', x: [2, 9, 9, 1], w: [3, 3, 1, 4], stride: 2, pad: 'same' },
  { name: '1x1 s1 pad 1 (not a plain matrix product)', x: [2, 5, 6, 3], w: [1, 1, 3, 4], stride: 1, pad: 1 },
  { name: '3x3 s1 valid', x: [2, 9, 7, 3], w: [3, 3, 3, 5], stride: 1, pad: 'valid' },
  { name: '2x2 s1 same (even filter, asymmetric padding)', x: [1, 7, 8, 2], w: [2, 2, 2, 3], stride: 1, pad: 'same' },
  { name: '1x3 s1 same, non-square filter', x: [2, 6, 9, 3], w: [1, 3, 3, 2], stride: 1, pad: 'same' },
  { name: '1x1 s1 valid, SqueezeNet squeeze 128->16 at 9x9', x: [2, 9, 9, 128], w: [1, 1, 128, 16], stride: 1, pad: 'valid' },
];

