// Active learning on the Intel scenes: start from a few labels, ask for more in rounds in
// uncertainty order (entropy, margin) or in random order, retrain the head each round and score
// it on the test set. Prints mean accuracy per label count and writes JSON + SVG.
//   nice npm run bench:active-learning -- [--seeds 3] [--initial 60] [--rounds 6] [--per-round 20] [--epochs 30]
import path from 'node:path';
import { parseArgs } from 'node:util';
import { runActiveLearningBenchmark } from './active-learning/run';

const { values: v } = parseArgs({
  options: {
    seeds: { type: 'string', default: '3' },
    initial: { type: 'string', default: '60' },
    rounds: { type: 'string', default: '6' },
    'per-round': { type: 'string', default: '20' },
    epochs: { type: 'string', default: '30' },
    lr: { type: 'string', default: '0.001' },
    'batch-size': { type: 'string', default: '32' },
    out: { type: 'string', default: path.resolve(import.meta.dirname, 'results') },
  },
});
const shared = path.resolve(import.meta.dirname, '../../shared');
const int = (name: string, s: string): number => {
  const n = Number(s);
  if (!Number.isInteger(n) || n < 0) throw new RangeError(`--${name} must be a non-negative integer, got ${s}`);
  return n;
};

const { result, table, files } = await runActiveLearningBenchmark({
  train: path.join(shared, 'datasets/intel-scenes/train'),
  evaluation: path.join(shared, 'datasets/intel-scenes/test'),
  weights: path.join(shared, 'weights/squeezenet1_1-features-imagenet.pth'),
  initial: int('initial', v.initial),
  rounds: int('rounds', v.rounds),
  perRound: int('per-round', v['per-round']),
  seeds: Array.from({ length: int('seeds', v.seeds) }, (_, i) => i),
  epochs: int('epochs', v.epochs),
  learningRate: Number(v.lr),
  batchSize: int('batch-size', v['batch-size']),
  out: v.out,
  log: (line) => console.error(line),
});
console.log(`Active learning, head-only squeezenet1_1 on ../shared intel-scenes: pool = train (2400), accuracy on test (900); ${result.curves.length / result.summary.length} seeds; ${result.seconds.toFixed(0)} s (features ${result.featureSeconds.toFixed(0)} s)`);
console.log(table);
console.log(`written: ${files.join(', ')}`);
