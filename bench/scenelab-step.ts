/**
 * SceneLab's contender for `npm run bench`, in its own process (so its peak RSS is its own):
 * the same measurements as bench/reference/torch_bench.py — a full fine-tuning step (Adam),
 * batch-1 latency and batch inference — through model/'s own training and forward code on
 * the tfjs wasm backend, plus this CPU's multiply-add rate on a large matrix product with the
 * same kernels (XNNPACK), the ceiling the fraction-of-peak figure is measured against.
 *
 *   npx tsx bench/scenelab-step.ts --arch squeezenet1_1 --threads 2 --size 150 --train-batch 32 --infer-batch 64 --repeats 5
 */
import { parseArgs } from 'node:util';
import * as tf from '@tensorflow/tfjs-core';
import { setThreadsCount } from '@tensorflow/tfjs-backend-wasm';
import { ClassifierModel, isArchName } from '../model/model';
import { Rng } from '../model/rng';
import { crossEntropy } from '../model/train';
import { initNodeBackend } from '../node/backend';
import { medianSeconds } from './median';

const { values: v } = parseArgs({
  options: {
    arch: { type: 'string', default: 'squeezenet1_1' },
    threads: { type: 'string', default: '1' },
    size: { type: 'string', default: '150' },
    'train-batch': { type: 'string', default: '32' },
    'infer-batch': { type: 'string', default: '64' },
    repeats: { type: 'string', default: '5' },
  },
});
const arch = v.arch!;
if (!isArchName(arch)) throw new Error(`unknown arch ${arch}`);
const threads = Number(v.threads);
const size = Number(v.size);
const trainBatch = Number(v['train-batch']);
const inferBatch = Number(v['infer-batch']);
const repeats = Number(v.repeats);

setThreadsCount(threads);
const backend = await initNodeBackend('wasm');
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

// The ceiling: a 1024^3 matrix product on the same backend and threads.
const n = 1024;
const a = tf.randomNormal([n, n]);
const b = tf.randomNormal([n, n]);
const matmulS = await medianSeconds(async () => {
  const c = tf.matMul(a, b);
  await c.data();
  c.dispose();
}, repeats);

process.stdout.write(
  JSON.stringify({
    contender: 'scenelab-node',
    version: `tfjs ${tf.version_core} ${backend.name}${backend.simd ? '+simd' : ''}`,
    threads: backend.threads ? threads : 1,
    trainImagesPerSecond: trainBatch / trainS,
    latencyMs: latencyS * 1000,
    inferImagesPerSecond: inferBatch / inferS,
    peakRssMiB: process.resourceUsage().maxRSS / 1024,
    peakMacsPerSecond: (n * n * n) / matmulS,
  }) + '\n',
);
