import * as tf from '@tensorflow/tfjs-core';
import { dropoutMask, type Rng } from '../rng';
import { Scratch } from '../scratch';

/**
 * How a parameter's PyTorch tensor maps onto its TensorFlow.js layout.
 * - `conv`: torch `[out, in, kh, kw]` ↔ tf `[kh, kw, in, out]`
 * - `depthwise`: torch `[C·m, 1, kh, kw]` (groups = C) ↔ tf `[kh, kw, C, m]`
 * - `linear`: torch `[out, in]` ↔ tf `[in, out]`
 * - `vector`: same 1-D layout on both sides (biases, BatchNorm parameters and statistics)
 * - `count`: a 0-d int64 in torch (`num_batches_tracked`); kept as a plain number here
 */
export type ParamKind = 'conv' | 'depthwise' | 'linear' | 'vector' | 'count';

/** One named tensor of a model, under its torchvision `state_dict` key. */
export interface ParamSpec {
  name: string;
  kind: ParamKind;
  /** Shape in PyTorch's layout (what a `.pth` holds). */
  torchShape: number[];
  /** False for BatchNorm running statistics and counters. */
  trainable: boolean;
  /** torchvision's initialisation, drawn from a seeded generator; values in PyTorch's layout. */
  init: (rng: Rng) => Float32Array;
}

/** Shape of a parameter in TensorFlow.js's layout. */
export function tfShape(spec: Pick<ParamSpec, 'kind' | 'torchShape'>): number[] {
  const s = spec.torchShape;
  switch (spec.kind) {
    case 'conv':
      return [s[2]!, s[3]!, s[1]!, s[0]!];
    case 'depthwise':
      // torch keeps one input channel per group, so `[C, 1, kh, kw]` (multiplier 1, the only
      // kind torchvision builds) becomes `[kh, kw, C, 1]`.
      return [s[2]!, s[3]!, s[0]!, s[1]!];
    case 'linear':
      return [s[1]!, s[0]!];
    case 'vector':
      return [...s];
    case 'count':
      return [];
  }
}

/** Reorders PyTorch-layout values into TensorFlow.js layout. */
export function torchToTf(spec: Pick<ParamSpec, 'kind' | 'torchShape'>, data: Float32Array): Float32Array {
  const s = spec.torchShape;
  switch (spec.kind) {
    case 'conv':
      return permute(data, s, [2, 3, 1, 0]);
    case 'depthwise':
      return permute(data, s, [2, 3, 0, 1]);
    case 'linear':
      return permute(data, s, [1, 0]);
    case 'vector':
    case 'count':
      return data;
  }
}

/** Reorders TensorFlow.js-layout values back into PyTorch layout. */
export function tfToTorch(spec: Pick<ParamSpec, 'kind' | 'torchShape'>, data: Float32Array): Float32Array {
  const shape = tfShape(spec);
  switch (spec.kind) {
    case 'conv':
      return permute(data, shape, [3, 2, 0, 1]);
    case 'depthwise':
      return permute(data, shape, [2, 3, 0, 1]);
    case 'linear':
      return permute(data, shape, [1, 0]);
    case 'vector':
    case 'count':
      return data;
  }
}

/** Row-major N-d transpose on a flat array: output axis i is input axis perm[i]. */
export function permute(data: Float32Array, shape: readonly number[], perm: readonly number[]): Float32Array {
  const rank = shape.length;
  const outShape = perm.map((p) => shape[p]!);
  const inStrides = new Array<number>(rank);
  let acc = 1;
  for (let i = rank - 1; i >= 0; i--) {
    inStrides[i] = acc;
    acc *= shape[i]!;
  }
  const strideForOut = perm.map((p) => inStrides[p]!);
  const out = new Float32Array(data.length);
  const idx = new Array<number>(rank).fill(0);
  for (let o = 0; o < out.length; o++) {
    let src = 0;
    for (let d = 0; d < rank; d++) src += idx[d]! * strideForOut[d]!;
    out[o] = data[src]!;
    for (let d = rank - 1; d >= 0; d--) {
      idx[d]!++;
      if (idx[d]! < outShape[d]!) break;
      idx[d] = 0;
    }
  }
  return out;
}

/** torchvision SqueezeNet: `kaiming_uniform_` (fan_in, gain √2). */
export function kaimingUniform(shape: number[]): (rng: Rng) => Float32Array {
  const fanIn = shape.slice(1).reduce((a, b) => a * b, 1);
  const bound = Math.sqrt(6 / fanIn);
  return (rng) => Float32Array.from({ length: shape.reduce((a, b) => a * b, 1) }, () => (rng.next() * 2 - 1) * bound);
}

/** torchvision MobileNetV3 convs: `kaiming_normal_(mode="fan_out")`. */
export function kaimingNormalFanOut(shape: number[]): (rng: Rng) => Float32Array {
  // torch's fan_out is weight.size(0) × receptive field, whatever the groups.
  const fanOut = shape[0]! * shape.slice(2).reduce((a, b) => a * b, 1);
  const std = Math.sqrt(2 / fanOut);
  return (rng) => Float32Array.from({ length: shape.reduce((a, b) => a * b, 1) }, () => rng.normal() * std);
}

export function normalInit(shape: number[], std: number): (rng: Rng) => Float32Array {
  return (rng) => Float32Array.from({ length: shape.reduce((a, b) => a * b, 1) }, () => rng.normal() * std);
}

export function constInit(shape: number[], value: number): () => Float32Array {
  return () => new Float32Array(shape.reduce((a, b) => a * b, 1)).fill(value);
}

/** Options of one forward pass. */
export interface ForwardContext {
  training: boolean;
  /** Seeds dropout masks; required when training. */
  rng?: Rng;
  /**
   * BatchNorm batch statistics collected while training, applied to the running
   * statistics by the trainer after the optimiser step (never inside a gradient tape).
   */
  bnUpdates?: BatchNormUpdate[];
  /**
   * The batch is rows [start, start + n) of a batch of `total` split across threads: dropout
   * draws those rows of the whole batch's masks, so the split step computes what the whole would.
   */
  rows?: { start: number; total: number };
}

/** One BatchNorm layer's batch statistics from a training step. */
export interface BatchNormUpdate {
  prefix: string;
  mean: tf.Tensor1D;
  /** Unbiased batch variance, as PyTorch uses for the running estimate. */
  variance: tf.Tensor1D;
  momentum: number;
}

/** Resolves a parameter by name; throws on a typo rather than silently using undefined. */
export type ParamGetter = (name: string) => tf.Tensor;

const maskScratch = new Scratch();

/** Dropout that is the identity at inference, seeded when training. */
export function dropout<T extends tf.Tensor>(x: T, rate: number, ctx: ForwardContext): T {
  if (!ctx.training || rate === 0) return x;
  if (!ctx.rng) throw new Error('dropout while training needs ctx.rng (a seeded Rng)');
  const offset = ctx.rows ? ctx.rows.start * (x.size / x.shape[0]!) : 0;
  return tf.mul(x, tf.tensor(dropoutMask(x.size, rate, ctx.rng.seed(), offset, maskScratch.take(x.size)), x.shape)) as T;
}

/** ReLU6-based hard-swish, as `torch.nn.Hardswish`. */
export function hardSwish<T extends tf.Tensor>(x: T): T {
  return tf.mul(x, tf.div(tf.relu6(tf.add(x, 3)), 6)) as T;
}

/** `torch.nn.Hardsigmoid`. */
export function hardSigmoid<T extends tf.Tensor>(x: T): T {
  return tf.div(tf.relu6(tf.add(x, 3)), 6) as T;
}
