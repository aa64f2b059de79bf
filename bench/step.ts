/**
 * The SceneLab measurements of `npm run bench`, written once for every place SceneLab runs: a
 * full fine-tuning step (Adam) through model/'s own training step (model/train-step: the
 * batch split across replicas on other threads when there are some), batch-1 latency, batch
 * inference, and this backend's multiply-add rate on a 1024^3 matrix product (the ceiling
 * the fraction-of-peak figures use). No Node and no DOM: bench/scenelab-step.ts calls it in
 * Node, bench/browser/worker.ts in a Chromium worker, each on a backend it set up.
 */
import * as tf from '@tensorflow/tfjs-core';
import { ClassifierModel, isArchName } from '../model/model';
import type { RawImage } from '../model/preprocess';
import type { StartReplicas } from '../model/replicas/pool';
import { Rng } from '../model/rng';
import { localStep, prepareInput, splitStep } from '../model/train-step';
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
  /** Threads the training step ran on: this one and the replicas'. */
  trainThreads: number;
}

/**
 * Runs the four measurements on the current tfjs backend; `replicas`, when given, starts the
 * other threads a training step splits its batch across (as `train` does).
 */
export async function measureSteps(p: StepParams, replicas?: StartReplicas): Promise<StepTimes> {
  const { arch, size, trainBatch, inferBatch, repeats } = p;
  if (!isArchName(arch)) throw new Error(`unknown arch ${arch}`);
  const model = ClassifierModel.create({ arch, numClasses: 6, seed: 0 });
  // Decoded images at the model's input size: the step preprocesses them, as a run does.
  const rng = new Rng(1);
  const images: RawImage[] = Array.from({ length: trainBatch }, () => ({ width: size, height: size, channels: 3, data: Uint8Array.from({ length: size * size * 3 }, () => rng.int(256)) }));
  const labels = Array.from({ length: trainBatch }, (_, i) => i % 6);
  const flips = labels.map((_, i) => i % 2 === 0);
  const optimizer: tf.Optimizer = tf.train.adam(1e-3);
  const vars = model.trainableVariables(false);
  const pool = replicas && !model.hasBatchNorm ? await replicas(model) : null;

  const trainS = await medianSeconds(async () => {
    let step;
    if (pool) step = await splitStep(model, vars, pool, { images, labels, flips, dropoutSeed: 1 });
    else {
      const x = prepareInput(model, images, flips);
      step = await localStep(model, vars, x, labels, { fromFeatures: false, dropoutSeed: 1, bnUpdates: [] });
      x.dispose();
    }
    optimizer.applyGradients(step.grads);
    tf.dispose(Object.values(step.grads));
  }, repeats);
  pool?.close();

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

  tf.dispose([one, many, a, b]);
  optimizer.dispose();
  model.dispose();
  return { trainImagesPerSecond: trainBatch / trainS, latencyMs: latencyS * 1000, inferImagesPerSecond: inferBatch / inferS, peakMacsPerSecond: (n * n * n) / matmulS, trainThreads: 1 + (pool?.size ?? 0) };
}
