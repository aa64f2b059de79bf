/**
 * The one run pipeline: options in, events out, artifacts out. The CLI, the app's engine, a
 * tuning trial and a cloud job's local twin all train through {@link runTraining}, so a run
 * is set up, split, trained, evaluated and written the same way whoever starts it.
 */
import { exportModelFiles, type ModelFiles } from '../artifacts';
import { MaskHook, pruneModel, sparsityOf, type PruneOptions, type SparsityReport } from '../compress/prune';
import { subset, type ImageSource } from '../data/source';
import { randomSplit } from '../data/split';
import { evaluate, type EvalReport } from '../evaluate';
import { FeatureStore, featureNamespace, storedFeatures } from '../feature-cache';
import { ClassifierModel, HEAD_PREFIX, type LoadReport } from '../model';
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
  /**
   * Starting weights (a torchvision state_dict) and the name to record them by. `id`, when
   * given, vouches that every state_dict read under it holds the same tensors (a stored file's
   * id), so frozen runs that each read the file share backbone features; without it, runs
   * share them when handed the same state_dict object.
   */
  weights?: { name: string; stateDict: StateDict; id?: string } | null;
  /** Prune the starting weights by magnitude and train with the pruned ones held at zero (a sparse fine-tune). */
  prune?: PruneOptions | null;
}

/** What the run tells about its set-up before training starts. */
export type RunSetupEvent =
  | { type: 'data'; classes: string[]; train: number; validation: number; validationFrom: 'data' | 'hold-out' | 'none' }
  | { type: 'model'; arch: string; parameters: number; preprocessing: string }
  | { type: 'weights'; name: string; report: LoadReport }
  | { type: 'pruned'; report: SparsityReport };

export type RunEvent = TrainEvent | RunSetupEvent;

/** Whether an event comes from training itself (the ones a progress display follows). */
export function isTrainEvent(event: RunEvent): event is TrainEvent {
  return event.type !== 'data' && event.type !== 'model' && event.type !== 'weights' && event.type !== 'pruned';
}

export interface RunHooks extends Omit<TrainHooks, 'onEvent' | 'sharedFeatures'> {
  onEvent?: (event: RunEvent) => void;
  /**
   * Backbone features kept across runs: frozen runs over the same images from the same
   * weights object (and architecture and preprocessing) compute them once. Without it, a
   * frozen run keeps its features for its own training and validation only.
   */
  featureStore?: FeatureStore;
}

/** An identity per weights object, so runs handed the same state_dict share its features. */
const weightsIds = new WeakMap<StateDict, number>();
let nextWeightsId = 1;

/**
 * What a frozen backbone's features depend on besides architecture, preprocessing and images:
 * the starting weights, plus the seed when the weights left backbone tensors at their seeded
 * initial values (a partial file). Null for a resumed run, whose weights come from elsewhere.
 */
function backboneIdentity(input: RunInput, seed: number, report: LoadReport | null, resumed: boolean): string | null {
  if (resumed) return null;
  const weights = input.weights?.stateDict;
  if (!weights) return `init ${seed}`;
  if (!weightsIds.has(weights)) weightsIds.set(weights, nextWeightsId++);
  const seeded = report?.kept.some((k) => !k.startsWith(HEAD_PREFIX)) ?? true;
  const id = input.weights?.id !== undefined ? `file ${input.weights.id}` : `weights ${weightsIds.get(weights)}`;
  return `${id}${seeded ? ` + init ${seed}` : ''}`;
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
  /** Zeros per weight tensor at the end of a pruned run (null when not pruned). */
  sparsity: SparsityReport | null;
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
  const { onEvent, featureStore, ...trainHooks } = hooks;
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
    const report = input.weights && !hooks.resume ? model.loadStateDict(input.weights.stateDict) : null;
    if (report) onEvent?.({ type: 'weights', name: input.weights!.name, report });
    let masks: MaskHook | null = null;
    if (input.prune) {
      const pruned = await pruneModel(model, input.prune);
      onEvent?.({ type: 'pruned', report: pruned.report });
      masks = new MaskHook(model, pruned.masks);
    }
    const base = config.options.freeze ? backboneIdentity(input, config.options.seed, report, Boolean(hooks.resume)) : null;
    // A pruned backbone computes other features than the weights it came from.
    const identity = base !== null && input.prune ? `${base} pruned ${JSON.stringify(input.prune)}` : base;
    // A frozen run keeps its validation features until it has scored them, in the caller's store or its own.
    const shared = identity === null ? undefined : { store: featureStore ?? new FeatureStore(hooks.featureCacheLimitBytes), weights: identity, outlivesRun: featureStore !== undefined };
    const afterStep = masks && (() => masks.apply());
    const result = await train(model, { train: trainSource, val }, config.options, {
      ...trainHooks,
      ...(onEvent && { onEvent }),
      ...(shared && { sharedFeatures: shared }),
      ...(afterStep && { afterStep }),
    }).finally(() => masks?.dispose());
    let metrics: ValidationMetrics | null = null;
    if (val && result.history.length > 0) {
      const features = shared && result.features === 'cached' ? storedFeatures(shared.store, featureNamespace(model, shared.weights), val) : undefined;
      const { predictions: _p, ...scores } = await evaluate(model, val, { batchSize: config.options.batchSize, ...(features && { features }) });
      metrics = { split: 'validation', ...scores };
    }
    const hyperparameters = hyperparametersOf(config, input.weights?.name ?? null, model.preprocessing.name);
    const files = await exportModelFiles(model, { hyperparameters: { ...hyperparameters }, history: result.history, ...(metrics && { metrics }) });
    const pth = writePth(await model.stateDict());
    const sparsity = input.prune ? await sparsityOf(model) : null;
    return { files, pth, hyperparameters, preprocessing: model.preprocessing, metrics, result, split: { train: trainSource.size, validation: val?.size ?? 0 }, sparsity };
  } finally {
    model.dispose();
  }
}
