import { readFileSync } from 'node:fs';
import * as tf from '@tensorflow/tfjs-core';
import { beforeAll, describe, expect, it } from 'vitest';
import { useBackend } from '../test/helpers/backend';
import { tfShape, tfToTorch } from './arch/common';
import { ClassifierModel } from './model';
import { readPth } from './pth';
import type { TensorData } from './tensor-data';
import { crossEntropy } from './train';

const FIXTURES = new URL('../test/fixtures/golden/', import.meta.url);
const load = (name: string) => readPth(readFileSync(new URL(name, FIXTURES)));

function tensorOf(t: TensorData | undefined, name: string): Float32Array {
  if (!t) throw new Error(`fixture lacks ${name}`);
  return Float32Array.from(t.data);
}

/** NCHW (torch) → NHWC (tfjs). */
function nhwc(t: TensorData): tf.Tensor4D {
  const [n, c, h, w] = t.shape as [number, number, number, number];
  return tf.tidy(() => tf.transpose(tf.tensor4d(Float32Array.from(t.data), [n, c, h, w]), [0, 2, 3, 1]));
}

/** max |a − b| / max |b|: the error relative to the reference's scale. */
function maxRelativeError(actual: ArrayLike<number>, expected: ArrayLike<number>): number {
  expect(actual.length).toBe(expected.length);
  let diff = 0;
  let scale = 0;
  for (let i = 0; i < expected.length; i++) {
    diff = Math.max(diff, Math.abs(actual[i]! - expected[i]!));
    scale = Math.max(scale, Math.abs(expected[i]!));
  }
  return diff / Math.max(scale, 1e-12);
}

beforeAll(async () => {
  await useBackend('wasm');
});

describe.each([
  ['squeezenet1_1', 'squeezenet1_1-6.pth', 'squeezenet1_1-6-io.pth'],
  ['mobilenet_v3_small', 'mobilenet_v3_small-6.pth', 'mobilenet_v3_small-6-io.pth'],
] as const)('%s matches torchvision', (arch, weightsFile, ioFile) => {
  it.each([150, 224])('forward logits at %i px within 1e-4', async (size) => {
    const io = load(ioFile);
    const model = ClassifierModel.create({ arch, numClasses: 6 });
    const report = model.loadStateDict(load(weightsFile));
    expect(report.kept).toEqual([]);
    expect(report.headReplaced).toEqual([]);
    const x = nhwc(io.get(`input_${size}`)!);
    const logits = model.forward(x);
    const expected = tensorOf(io.get(`logits_${size}`), `logits_${size}`);
    expect(logits.shape).toEqual([2, 6]);
    const err = maxRelativeError(await logits.data(), expected);
    expect(err).toBeLessThanOrEqual(1e-4);
    tf.dispose([x, logits]);
    model.dispose();
  });
});

describe('squeezenet1_1 training signal matches torchvision', () => {
  it('cross-entropy loss and d loss / d features.0.weight within 1e-4 and 1e-3', async () => {
    const io = load('squeezenet1_1-6-io.pth');
    const model = ClassifierModel.create({ arch: 'squeezenet1_1', numClasses: 6 });
    model.loadStateDict(load('squeezenet1_1-6.pth'));
    const x = nhwc(io.get('input_150')!);
    const labels = tf.tensor1d(Array.from(io.get('labels_150')!.data), 'int32');
    const w = model.param('features.0.weight');
    // Eval mode, as the fixture: dropout off so the gradient is deterministic.
    const { value, grads } = tf.variableGrads(() => crossEntropy(model.forward(x), labels), [w]);
    const loss = (await value.data())[0]!;
    const expectedLoss = io.get('loss_150')!.data[0]!;
    expect(Math.abs(loss - expectedLoss) / Math.abs(expectedLoss)).toBeLessThanOrEqual(1e-4);
    const spec = model.specs.find((s) => s.name === 'features.0.weight')!;
    expect(grads[w.name]!.shape).toEqual(tfShape(spec));
    const gradTorch = tfToTorch(spec, (await grads[w.name]!.data()) as Float32Array);
    const err = maxRelativeError(gradTorch, tensorOf(io.get('grad_features_0_weight_150'), 'grad'));
    expect(err).toBeLessThanOrEqual(1e-3);
    tf.dispose([x, labels, value, ...Object.values(grads)]);
    model.dispose();
  });
});

describe('feature-map shapes at 150x150 (ceil-mode pooling)', () => {
  it('SqueezeNet goes 74 → 37 → 18 → 9', () => {
    const model = ClassifierModel.create({ arch: 'squeezenet1_1', numClasses: 6 });
    const shapes = tf.tidy(() => {
      const x = tf.zeros([1, 150, 150, 3]) as tf.Tensor4D;
      const p = model.param;
      const conv = tf.conv2d(x, p('features.0.weight') as tf.Tensor4D, 2, 'valid');
      const b = model.backbone(x);
      return { conv: conv.shape, out: b.shape };
    });
    expect(shapes.conv).toEqual([1, 74, 74, 64]);
    expect(shapes.out).toEqual([1, 9, 9, 512]);
    model.dispose();
  });

  it('maxPoolCeil gives PyTorch ceil-mode sizes where tfjs valid/same do not', async () => {
    const { maxPoolCeil } = await import('./arch/squeezenet');
    const sizes = tf.tidy(() => [74, 37, 18].map((n) => maxPoolCeil(tf.zeros([1, n, n, 1]) as tf.Tensor4D).shape[1]));
    expect(sizes).toEqual([37, 18, 9]);
  });

  it('MobileNetV3 Small pools 576 features from 150x150 input', () => {
    const model = ClassifierModel.create({ arch: 'mobilenet_v3_small', numClasses: 6 });
    const shape = tf.tidy(() => model.backbone(tf.zeros([1, 150, 150, 3]) as tf.Tensor4D).shape);
    expect(shape).toEqual([1, 576]);
    model.dispose();
  });
});
