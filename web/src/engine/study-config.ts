/**
 * A study's configuration checked and turned into what model/tune and the run pipeline take:
 * the search space (options with one possible value are fixed, not searched), the sampler,
 * the pruner, and the {@link RunConfig} every trial starts from. Parameters are named as SCENELAB_SPACE
 * names them, so {@link trialRunOverrides} reads a trial's parameters into a run.
 */
import { isArchName } from '../../../model/model';
import type { RunConfig } from '../../../model/run/config';
import { DEFAULT_TRAIN_OPTIONS } from '../../../model/train';
import {
  categorical,
  float,
  int,
  MedianPruner,
  NopPruner,
  RandomSampler,
  SCENELAB_SPACE,
  SuccessiveHalvingPruner,
  TpeSampler,
  trialRunOverrides,
  validateSpace,
  type Params,
  type Pruner,
  type Sampler,
  type SearchSpace,
} from '../../../model/tune';
import type { StudyConfig, StudySpaceChoices } from './study-types';

/** Held out for validation when the dataset has no validation split. */
export const DEFAULT_STUDY_VAL_SPLIT = 0.2;

/** The search space of `choices` and the parameters they fix. */
export function studySpace(choices: StudySpaceChoices): { space: SearchSpace; fixed: Params } {
  const space: SearchSpace = {};
  const fixed: Params = {};
  const pick = <T extends string | number | boolean>(name: string, values: readonly T[]): void => {
    if (values.length === 1) fixed[name] = values[0]!;
    else space[name] = categorical(values);
  };
  pick('arch', choices.arch);
  pick('freeze', choices.freeze);
  if (choices.learningRate.low === choices.learningRate.high) fixed.learningRate = choices.learningRate.low;
  else space.learningRate = float(choices.learningRate.low, choices.learningRate.high, { log: true });
  pick('batchSize', choices.batchSize);
  if (choices.epochs.low === choices.epochs.high) fixed.epochs = choices.epochs.low;
  else space.epochs = int(choices.epochs.low, choices.epochs.high);
  pick('optimizer', choices.optimizer);
  if (choices.weightDecay) {
    space.useWeightDecay = SCENELAB_SPACE.useWeightDecay;
    space.weightDecay = SCENELAB_SPACE.weightDecay;
  } else {
    fixed.useWeightDecay = false;
  }
  pick('hflip', choices.hflip);
  return { space, fixed };
}

/**
 * Checks what a user asked for, naming the first bad value (RangeError). The dataset and
 * weights are checked against the store by the caller.
 */
export function validateStudyConfig(config: StudyConfig): StudyConfig {
  const fail = (msg: string): never => {
    throw new RangeError(msg);
  };
  const s = config.space;
  if (typeof config.datasetId !== 'string' || config.datasetId === '') fail('choose a dataset for the study');
  if (!s || typeof s !== 'object') fail('the study needs a search space');
  const nonEmpty = <T>(name: string, values: readonly T[] | undefined, ok: (v: T) => boolean, what: string): void => {
    if (!Array.isArray(values) || values.length === 0) fail(`${name}: choose at least one value`);
    if (new Set(values).size !== values!.length) fail(`${name}: a value is listed twice`);
    for (const v of values!) if (!ok(v)) fail(`${name}: ${String(v)} is not ${what}`);
  };
  nonEmpty('architecture', s.arch, isArchName, 'squeezenet1_1 or mobilenet_v3_small');
  nonEmpty('freeze', s.freeze, (v) => typeof v === 'boolean', 'true or false');
  nonEmpty('batch size', s.batchSize, (v) => Number.isInteger(v) && v >= 1 && v <= 4096, 'an integer from 1 to 4096');
  nonEmpty('optimizer', s.optimizer, (v) => v === 'adam' || v === 'sgd', 'adam or sgd');
  nonEmpty('horizontal flips', s.hflip, (v) => typeof v === 'boolean', 'true or false');
  const lr = s.learningRate;
  if (!lr || !(lr.low > 0 && lr.low <= lr.high && lr.high < 10)) fail(`learning rate: need 0 < low ≤ high < 10, got ${lr?.low} … ${lr?.high}`);
  const ep = s.epochs;
  if (!ep || !Number.isInteger(ep.low) || !Number.isInteger(ep.high) || ep.low < 1 || ep.low > ep.high || ep.high > 10000) fail(`epochs: need whole numbers 1 ≤ low ≤ high ≤ 10000, got ${ep?.low} … ${ep?.high}`);
  if (!['tpe', 'random'].includes(config.sampler)) fail(`sampler must be tpe or random, got ${String(config.sampler)}`);
  if (!['median', 'halving', 'none'].includes(config.pruner)) fail(`pruner must be median, halving or none, got ${String(config.pruner)}`);
  if (config.objective !== 'valAccuracy' && config.objective !== 'valLoss') fail(`objective must be valAccuracy or valLoss, got ${String(config.objective)}`);
  validateBudget(config.budget);
  if (!Number.isInteger(config.seed)) fail(`seed must be an integer, got ${config.seed}`);
  const valSplit = config.valSplit ?? DEFAULT_STUDY_VAL_SPLIT;
  if (!(valSplit >= 0 && valSplit < 1)) fail(`validation hold-out must be in [0, 1), got ${valSplit}`);
  const { space } = studySpace(s);
  if (Object.keys(space).length === 0) fail('every option has one value: widen at least one range or list to search');
  validateSpace(space);
  return config;
}

/** A trial or time budget: at least one, whole trials, positive seconds. */
export function validateBudget(budget: StudyConfig['budget']): void {
  const { maxTrials, maxSeconds } = budget ?? {};
  if (maxTrials === undefined && maxSeconds === undefined) throw new RangeError('set a budget: a number of trials, a time, or both');
  if (maxTrials !== undefined && !(Number.isInteger(maxTrials) && maxTrials >= 1 && maxTrials <= 10000)) throw new RangeError(`trials must be a whole number from 1 to 10000, got ${maxTrials}`);
  if (maxSeconds !== undefined && !(maxSeconds > 0 && Number.isFinite(maxSeconds))) throw new RangeError(`the time budget must be a positive number of seconds, got ${maxSeconds}`);
}

/** The sampler a study draws with, seeded by the study. */
export function samplerOf(config: StudyConfig): Sampler {
  return config.sampler === 'tpe' ? new TpeSampler({ seed: config.seed }) : new RandomSampler({ seed: config.seed });
}

/** The pruner a study judges its trials' epochs with (Optuna's defaults). */
export function prunerOf(config: StudyConfig): Pruner {
  if (config.pruner === 'median') return new MedianPruner();
  if (config.pruner === 'halving') return new SuccessiveHalvingPruner();
  return new NopPruner();
}

/** The run every trial starts from: the study's fixed options (a trial's parameters go on top, see `trialRunInput`). */
export function baseRunConfig(config: StudyConfig): RunConfig {
  const { arch, options } = trialRunOverrides(studySpace(config.space).fixed);
  return {
    arch: arch ?? 'squeezenet1_1',
    preprocessing: config.preprocessing ?? 'auto',
    valSplit: config.valSplit ?? DEFAULT_STUDY_VAL_SPLIT,
    // No early stopping: a trial's epochs are a searched parameter, and pruning stops the hopeless ones.
    options: { ...DEFAULT_TRAIN_OPTIONS, ...options, seed: config.seed, earlyStopping: null },
  };
}
