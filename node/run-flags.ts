/**
 * A run's configuration as `scenelab train`'s flags, for trainers that take the same ones (the
 * cloud trainer): every value spelled out, so the run means the same wherever it runs.
 */
import type { RunConfig } from '../model/run/config';
import { InputError } from './errors';

/** The same run as flags again (every value spelled out), for a trainer that takes `scenelab train`'s flags. */
export function runConfigToFlags(config: RunConfig): string[] {
  const o = config.options;
  if (typeof config.preprocessing === 'object') throw new InputError('a custom preprocessing spec cannot be passed as a flag');
  return [
    `--arch=${config.arch}`,
    `--preprocessing=${config.preprocessing}`,
    `--val-split=${config.valSplit}`,
    `--epochs=${o.epochs}`,
    `--batch-size=${o.batchSize}`,
    `--lr=${o.learningRate}`,
    `--optimizer=${o.optimizer}`,
    `--momentum=${o.momentum}`,
    `--weight-decay=${o.weightDecay}`,
    `--seed=${o.seed}`,
    ...(o.freeze ? ['--freeze'] : []),
    ...(o.hflip ? [] : ['--no-flip']),
    ...(o.recalibrateBatchNorm ? [] : ['--no-bn-recalibration']),
    ...(o.earlyStopping ? [`--early-stopping=${o.earlyStopping.patience}`] : []),
  ];
}
