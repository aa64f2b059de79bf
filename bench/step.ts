/**
 * The SceneLab measurements of `npm run bench`, written once for every place SceneLab runs: a
 * full fine-tuning step (Adam) through model/'s own training code, batch-1 latency, batch
 * inference, and this backend's multiply-add rate on a 1024^3 matrix product (the ceiling
 * the fraction-of-peak figures use). No Node and no DOM: bench/scenelab-step.ts calls it in
 * Node, bench/browser/worker.ts in a Chromium worker, each on a backend it set up.
 */
import * as tf from '@tensorflow/tfjs-core';
import { ClassifierModel, isArchName } from '../model/model';
import { Rng } from '../model/rng';
import { crossEntropy } from '../model/train';
import { medianSeconds } from './median';

export interface StepParams {
  arch: string;
  size: number;
  trainBatch: number;
  inferBatch: number;
  repeats: number;
}

export interface StepTimes {
  trainImagesPerSecond: number;
  latencyMs: number;
  inferImagesPerSecond: number;
  peakMacsPerSecond: number;
}

/** Runs the four measurements on the current tfjs backend. */
export async function measureSteps(p: StepParams): Promise<StepTimes> {
  const { arch, size, trainBatch, inferBatch, repeats } = p;
  if (!isArchName(arch)) throw new Error(`unknown arch ${arch}`);
  const model = ClassifierModel.create({ arch, numClasses: 6, seed: 0 });
  const x = tf.randomNormal([trainBatch, size, size, 3], 0, 1, 'float32', 1) as tf.Tensor4D;
  const y = tf.tensor1d(Array.from({ length: trainBatch }, (_, i) => i % 6), 'int32');
  const optimizer = tf.train.adam(1e-3);
  const vars = model.trainableVariables(false);

  const trainS = await medianSeconds(async () => {
    const cost = optimizer.minimize(() => crossEntropy(model.forward(x, { training: true, rng: new Rng(1), bnUpdates: [] }) as tf.Tensor2D, y), true, vars)!;
    await cost.data();
    cost.dispose();
  }, repeats);

  const one = tf.randomNormal([1, size, size, 3], 0, 1, 'float32', 2) as tf.Tensor4D;
  const many = tf.randomNormal([inferBatch, size, size, 3], 0, 1, 'float32', 3) as tf.Tensor4D;
  const infer = (t: tf.Tensor4D) => async (): Promise<void> => {
    const out = model.forward(t);
    await out.data();
    out.dispose();
  };
  const latencyS = await medianSeconds(infer(one), repeats * 4);
  const inferS = await medianSeconds(infer(many), repeats);

  const n = 1024;
  const a = tf.randomNormal([n, n]);
  const b = tf.randomNormal([n, n]);
  const matmulS = await medianSeconds(async () => {
    const c = tf.matMul(a, b);
    await c.data();
    c.dispose();
  }, repeats);

  tf.dispose([x, y, one, many, a, b]);
  optimizer.dispose();
  model.dispose();
  return { trainImagesPerSecond: trainBatch / trainS, latencyMs: latencyS * 1000, inferImagesPerSecond: inferBatch / inferS, peakMacsPerSecond: (n * n * n) / matmulS };
}
