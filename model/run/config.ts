/**
 * One hyperparameter schema for every run, whoever starts it: the CLI's flags, the app's Train
 * screen, a tuning trial and a cloud job all describe a run with a {@link RunConfig}, and every
 * run writes the same `hyperparameters.json` ({@link Hyperparameters}).
 */
import { ARCH_NAMES, isArchName } from '../model';
import type { ArchName } from '../arch/types';
import { DEFAULT_TRAIN_OPTIONS, validateTrainOptions, type TrainOptions } from '../train';
import type { PreprocessingChoice } from './preprocessing';

/** Everything that decides what a run learns, besides its data and starting weights. */
export interface RunConfig {
  arch: ArchName;
  /** `auto` picks the convention the weights expect; a spec is used as given (e.g. a small input for tests). */
  preprocessing: PreprocessingChoice;
  /** Fraction of the training pool held out for validation when the data brings no validation split. */
  valSplit: number;
  options: TrainOptions;
}

/** `hyperparameters.json`: the run's configuration, flat, with the weights' name and the preprocessing resolved. */
export interface Hyperparameters extends TrainOptions {
  arch: ArchName;
  /** Name of the `.pth` the run started from (a path on the CLI, the imported file's name in the app), or null. */
  weights: string | null;
  /** Name of the preprocessing spec the model uses (`caffe-bgr`, `torchvision`, or a custom spec's name). */
  preprocessing: string;
  valSplit: number;
}

/** The keys of `hyperparameters.json`, in the order written. */
export const HYPERPARAMETER_KEYS = [
  'arch',
  'weights',
  'preprocessing',
  'valSplit',
  ...(Object.keys(DEFAULT_TRAIN_OPTIONS) as Array<keyof TrainOptions>),
] as const satisfies ReadonlyArray<keyof Hyperparameters>;

export const DEFAULT_VAL_SPLIT = 0.1;

/** A run configuration from defaults and overrides. */
export function runConfig(arch: ArchName, overrides: Partial<Omit<RunConfig, 'arch' | 'options'>> & { options?: Partial<TrainOptions> } = {}): RunConfig {
  return {
    arch,
    preprocessing: overrides.preprocessing ?? 'auto',
    valSplit: overrides.valSplit ?? DEFAULT_VAL_SPLIT,
    options: { ...DEFAULT_TRAIN_OPTIONS, ...overrides.options },
  };
}

/** Checks a configuration from a user or a stored run, naming the first bad value (RangeError). */
export function validateRunConfig(config: RunConfig): RunConfig {
  if (!isArchName(config.arch)) throw new RangeError(`architecture must be ${ARCH_NAMES.join(' or ')}, got "${String(config.arch)}"`);
  if (!(config.valSplit >= 0 && config.valSplit < 1)) throw new RangeError(`validation split must be in [0, 1), got ${config.valSplit}`);
  validateTrainOptions(config.options);
  return config;
}

/** The flat record a run writes as `hyperparameters.json`, keys in {@link HYPERPARAMETER_KEYS} order. */
export function hyperparametersOf(config: RunConfig, weights: string | null, preprocessing: string): Hyperparameters {
  const flat: Hyperparameters = { arch: config.arch, weights, preprocessing, valSplit: config.valSplit, ...config.options };
  return Object.fromEntries(HYPERPARAMETER_KEYS.map((k) => [k, flat[k]])) as unknown as Hyperparameters;
}
