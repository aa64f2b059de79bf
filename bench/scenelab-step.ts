/**
 * SceneLab's Node contender for `npm run bench`, in its own process (so its peak RSS is its
 * own): bench/step.ts's measurements on the tfjs wasm backend, as bench/reference/torch_bench.py
 * takes PyTorch's.
 *
 *   npx tsx bench/scenelab-step.ts --arch squeezenet1_1 --threads 2 --size 150 --train-batch 32 --infer-batch 64 --repeats 5
 */
import * as tf from '@tensorflow/tfjs-core';
import { setThreadsCount } from '@tensorflow/tfjs-backend-wasm';
import { initNodeBackend } from '../node/backend';
import { contenderArgs } from './contender-args';
import { measureSteps } from './step';

const { threads, ...params } = contenderArgs();
setThreadsCount(threads);
const backend = await initNodeBackend('wasm');
const times = await measureSteps(params);

process.stdout.write(
  JSON.stringify({
    contender: 'scenelab-node',
    version: `tfjs ${tf.version_core} ${backend.name}${backend.simd ? '+simd' : ''}`,
    threads: backend.threads ? threads : 1,
    ...times,
    peakRssMiB: process.resourceUsage().maxRSS / 1024,
  }) + '\n',
);
