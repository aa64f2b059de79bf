/**
 * SceneLab's Node contender for `npm run bench`, in its own process (so its peak RSS is its
 * own): bench/step.ts's measurements on the tfjs wasm backend, as bench/reference/torch_bench.py
 * takes PyTorch's.
 *
 *   npx tsx bench/scenelab-step.ts --arch squeezenet1_1 --threads 2 --size 150 --train-batch 32 --infer-batch 64 --repeats 5
 */
import { parseArgs } from 'node:util';
import * as tf from '@tensorflow/tfjs-core';
import { setThreadsCount } from '@tensorflow/tfjs-backend-wasm';
import { initNodeBackend } from '../node/backend';
import { measureSteps } from './step';

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
const threads = Number(v.threads);
setThreadsCount(threads);
const backend = await initNodeBackend('wasm');
const times = await measureSteps({ arch: v.arch!, size: Number(v.size), trainBatch: Number(v['train-batch']), inferBatch: Number(v['infer-batch']), repeats: Number(v.repeats) });

process.stdout.write(
  JSON.stringify({
    contender: 'scenelab-node',
    version: `tfjs ${tf.version_core} ${backend.name}${backend.simd ? '+simd' : ''}`,
    threads: backend.threads ? threads : 1,
    ...times,
    peakRssMiB: process.resourceUsage().maxRSS / 1024,
  }) + '\n',
);
