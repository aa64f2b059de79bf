/**
 * SceneLab's default search space and the step from a trial's parameters to a run's options.
 * Parameters are named as the {@link TrainOptions} they set (plus `arch`), so a trial's
 * parameters read like the run's `hyperparameters.json`. Weight decay is searched on a log
 * scale, which cannot hold 0, so a switch decides first whether there is any:
 * `useWeightDecay: false` means weight decay 0 and no `weightDecay` parameter at all, which
 * keeps TPE from learning anything from an unused value.
 */
import type { ArchName } from '../arch/types';
import type { TrainOptions } from '../train';
import { categorical, float, int, when, type Params, type ParamsOf, type SearchSpace } from './distributions';

/** The space `scenelab tune` and the app search unless told otherwise. */
export const SCENELAB_SPACE = {
  arch: categorical<ArchName>(['squeezenet1_1', 'mobilenet_v3_small']),
  freeze: categorical([true, false]),
  learningRate: float(1e-5, 1e-1, { log: true }),
  batchSize: categorical([8, 16, 32, 64]),
  epochs: int(3, 20),
  optimizer: categorical<TrainOptions['optimizer']>(['adam', 'sgd']),
  useWeightDecay: categorical([false, true]),
  weightDecay: when('useWeightDecay', true, float(1e-6, 1e-2, { log: true })),
  hflip: categorical([true, false]),
} satisfies SearchSpace;

export type SceneLabParams = ParamsOf<typeof SCENELAB_SPACE>;

const NUMBER_OPTIONS = ['learningRate', 'batchSize', 'epochs', 'weightDecay', 'momentum'] as const satisfies ReadonlyArray<keyof TrainOptions>;
const BOOLEAN_OPTIONS = ['freeze', 'hflip', 'recalibrateBatchNorm'] as const satisfies ReadonlyArray<keyof TrainOptions>;

/**
 * The architecture and training options a trial's parameters set, for any space that names
 * its parameters this way; options it does not set keep the run's defaults. Throws a
 * RangeError for a parameter that is not a training option or has the wrong type.
 */
export function trialRunOverrides(params: Params | SceneLabParams): { arch: ArchName | undefined; options: Partial<TrainOptions> } {
  const options: Partial<TrainOptions> = {};
  let arch: ArchName | undefined;
  const fail = (name: string, value: unknown, expected: string): never => {
    throw new RangeError(`trial parameter ${name} = ${String(value)}: expected ${expected}`);
  };
  for (const [name, value] of Object.entries(params as Params)) {
    if (name === 'arch') {
      if (value !== 'squeezenet1_1' && value !== 'mobilenet_v3_small') fail(name, value, 'squeezenet1_1 or mobilenet_v3_small');
      arch = value as ArchName;
    } else if (name === 'optimizer') {
      if (value !== 'adam' && value !== 'sgd') fail(name, value, 'adam or sgd');
      options.optimizer = value as TrainOptions['optimizer'];
    } else if (name === 'useWeightDecay') {
      if (typeof value !== 'boolean') fail(name, value, 'a boolean');
    } else if ((NUMBER_OPTIONS as readonly string[]).includes(name)) {
      if (typeof value !== 'number') fail(name, value, 'a number');
      options[name as (typeof NUMBER_OPTIONS)[number]] = value as number;
    } else if ((BOOLEAN_OPTIONS as readonly string[]).includes(name)) {
      if (typeof value !== 'boolean') fail(name, value, 'a boolean');
      options[name as (typeof BOOLEAN_OPTIONS)[number]] = value as boolean;
    } else {
      fail(name, value, 'a training option or arch');
    }
  }
  // The switch wins over any weightDecay value that came with it.
  if (params.useWeightDecay === false) options.weightDecay = 0;
  return { arch, options };
}
