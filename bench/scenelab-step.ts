/**
 * SceneLab's Node contender for `npm run bench`, in its own process (so its peak RSS is its
 * own): bench/step.ts's measurements on the tfjs wasm backend, as bench/reference/torch_bench.py
 * takes PyTorch's.
 *
 *   npx tsx bench/scenelab-step.ts --arch squeezenet1_1 --threads 2 --size 150 --train-batch 32 --infer-batch 64 --repeats 5
 */
import * as tf from '@tensorflow/tfjs-core';
import { initNodeBackend } from '../node/backend';
import { nodeReplicas } from '../node/replicas';
import { contenderArgs } from './contender-args';
import { measureSteps } from './step';

const { threads, ...params } = contenderArgs();
const backend = await initNodeBackend('wasm');
// tfjs-wasm runs one thread in Node: training steps use the others through replicas on worker threads.
const times = await measureSteps(params, nodeReplicas(threads));

process.stdout.write(
  JSON.stringify({
    contender: 'scenelab-node',
    version: `tfjs ${tf.version_core} ${backend.name}${backend.simd ? '+simd' : ''}`,
    threads: times.trainThreads,
    ...times,
    peakRssMiB: process.resourceUsage().maxRSS / 1024,
  }) + '\n',
);
