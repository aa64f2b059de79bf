/**
 * The one run pipeline: options in, events out, artifacts out. The CLI, the app's engine, a
 * tuning trial and a cloud job's local twin all train through {@link runTraining}, so a run
 * is set up, split, trained, evaluated and written the same way whoever starts it.
 */
import { exportModelFiles, type ModelFiles } from '../artifacts';
import { subset, type ImageSource } from '../data/source';
import { randomSplit } from '../data/split';
import { evaluate, type EvalReport } from '../evaluate';
import { ClassifierModel, type LoadReport } from '../model';
import type { PreprocessSpec } from '../preprocess';
import { writePth } from '../pth';
import type { StateDict } from '../tensor-data';
import { train, type TrainEvent, type TrainHooks, type TrainResult } from '../train';
import { hyperparametersOf, validateRunConfig, type Hyperparameters, type RunConfig } from './config';
import { choosePreprocessing } from './preprocessing';

/** What a run trains on. Class indices of the sources index `classes`. */
export interface RunInput {
  config: RunConfig;
  classes: string[];
  /** Labelled training images. */
  pool: ImageSource;
  /** Validation images the data brings with it (an import file's or a dataset's own split); without them, `valSplit` of the pool is held out. */
  validation?: ImageSource | null;
  /** Starting weights (a torchvision state_dict) and the name to record them by. */
  weights?: { name: string; stateDict: StateDict } | null;
}

/** What the run tells about its set-up before training starts. */
export type RunSetupEvent =
  | { type: 'data'; classes: string[]; train: number; validation: number; validationFrom: 'data' | 'hold-out' | 'none' }
  | { type: 'model'; arch: string; parameters: number; preprocessing: string }
  | { type: 'weights'; name: string; report: LoadReport };

export type RunEvent = TrainEvent | RunSetupEvent;

/** Whether an event comes from training itself (the ones a progress display follows). */
export function isTrainEvent(event: RunEvent): event is TrainEvent {
  return event.type !== 'data' && event.type !== 'model' && event.type !== 'weights';
}

export interface RunHooks extends Omit<TrainHooks, 'onEvent'> {
  onEvent?: (event: RunEvent) => void;
}

/** Validation metrics as `metrics.json` holds them. */
export type ValidationMetrics = Omit<EvalReport, 'predictions'> & { split: 'validation' };

export interface RunOutcome {
  /** The run's artifacts: `model.json`, `weights.bin`, labels, preprocessing, hyperparameters, metrics, history, curves. */
  files: ModelFiles;
  /** The trained weights as a torchvision state_dict (`model.pth`). */
  pth: Uint8Array;
  hyperparameters: Hyperparameters;
  preprocessing: PreprocessSpec;
  metrics: ValidationMetrics | null;
  result: TrainResult;
  split: { train: number; validation: number };
}

/** Training and validation sources of a run: the data's own validation split, or a seeded hold-out of the pool. */
export function splitRun(input: Pick<RunInput, 'config' | 'pool' | 'validation'>): { train: ImageSource; val: ImageSource | null; from: 'data' | 'hold-out' | 'none' } {
  if (input.validation && input.validation.size > 0) return { train: input.pool, val: input.validation, from: 'data' };
  if (input.config.valSplit === 0) return { train: input.pool, val: null, from: 'none' };
  const s = randomSplit(input.pool.size, input.config.valSplit, input.config.options.seed);
  return { train: subset(input.pool, s.train), val: s.val.length ? subset(input.pool, s.val) : null, from: s.val.length ? 'hold-out' : 'none' };
}

/**
 * Builds the model, loads the starting weights (unless resuming), trains, evaluates on the
 * validation images and returns the artifacts. The model is disposed before this returns.
 * An abort ends training between batches and still returns what was learnt.
 */
export async function runTraining(input: RunInput, hooks: RunHooks = {}): Promise<RunOutcome> {
  const config = validateRunConfig(input.config);
  if (input.classes.length < 2) throw new RangeError(`training needs at least 2 classes, got ${input.classes.length}`);
  if (input.pool.size === 0) throw new RangeError('no labelled training images');
  const { onEvent, ...trainHooks } = hooks;
  const { train: trainSource, val, from } = splitRun({ config, pool: input.pool, validation: input.validation ?? null });
  onEvent?.({ type: 'data', classes: input.classes, train: trainSource.size, validation: val?.size ?? 0, validationFrom: from });

  const stateDict = input.weights?.stateDict ?? null;
  const model = ClassifierModel.create({
    arch: config.arch,
    numClasses: input.classes.length,
    labels: input.classes,
    preprocessing: choosePreprocessing(config.preprocessing, config.arch, stateDict),
    seed: config.options.seed,
  });
  try {
    onEvent?.({ type: 'model', arch: config.arch, parameters: model.parameterCount, preprocessing: model.preprocessing.name });
    if (input.weights && !hooks.resume) onEvent?.({ type: 'weights', name: input.weights.name, report: model.loadStateDict(input.weights.stateDict) });
    const result = await train(model, { train: trainSource, val }, config.options, { ...trainHooks, ...(onEvent && { onEvent }) });
    let metrics: ValidationMetrics | null = null;
    if (val && result.history.length > 0) {
      const { predictions: _p, ...report } = await evaluate(model, val, { batchSize: config.options.batchSize });
      metrics = { split: 'validation', ...report };
    }
    const hyperparameters = hyperparametersOf(config, input.weights?.name ?? null, model.preprocessing.name);
    const files = await exportModelFiles(model, { hyperparameters: { ...hyperparameters }, history: result.history, ...(metrics && { metrics }) });
    const pth = writePth(await model.stateDict());
    return { files, pth, hyperparameters, preprocessing: model.preprocessing, metrics, result, split: { train: trainSource.size, validation: val?.size ?? 0 } };
  } finally {
    model.dispose();
  }
}
