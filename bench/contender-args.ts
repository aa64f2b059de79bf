/**
 * The flags every contender process of `npm run bench` takes, in one place: the suite passes
 * one argument list to each of them.
 */
import { parseArgs } from 'node:util';
import type { StepParams } from './step';

const CONTENDER_OPTIONS = {
  arch: { type: 'string', default: 'squeezenet1_1' },
  threads: { type: 'string', default: '1' },
  size: { type: 'string', default: '150' },
  'train-batch': { type: 'string', default: '32' },
  'infer-batch': { type: 'string', default: '64' },
  repeats: { type: 'string', default: '5' },
  'no-build': { type: 'boolean' },
} as const;

/** The contender's flags from `process.argv`, as numbers where they are numbers. */
export function contenderArgs(): StepParams & { threads: number; noBuild: boolean } {
  const { values: v } = parseArgs({ options: CONTENDER_OPTIONS });
  return {
    arch: v.arch,
    size: Number(v.size),
    trainBatch: Number(v['train-batch']),
    inferBatch: Number(v['infer-batch']),
    repeats: Number(v.repeats),
    threads: Number(v.threads),
    noBuild: v['no-build'] ?? false,
  };
}
