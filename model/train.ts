import * as tf from '@tensorflow/tfjs-core';
import type { BatchNormUpdate } from './arch/common';
import { loadBatch, prefetchBatches, subset, type ImageSource } from './data/source';
import type { DataProblem } from './data/records';
import type { ClassifierModel, NamedWeight } from './model';
import { extractFeatures, featureNamespace, lookupFeatures, stackFeatures, storeFeatures, type BackboneOffload, type FeatureStore, type SourceFeatures } from './feature-cache';
import { preprocessImages } from './preprocess';
import { lazyReplicas, type StartReplicas } from './replicas/pool';
import { Rng } from './rng';
import { crossEntropy, localStep, prepareInput, splitStep, type StepGradients } from './train-step';

export { crossEntropy } from './train-step';

/** Hyperparameters of one training run. Defaults: {@link DEFAULT_TRAIN_OPTIONS}. */
export interface TrainOptions {
  /** Train the head only, on backbone features computed once. */
  freeze: boolean;
  batchSize: number;
  learningRate: number;
  epochs: number;
  optimizer: 'adam' | 'sgd';
  /** SGD momentum (ignored by Adam). */
  momentum: number;
  /** L2 penalty added to the gradient, as PyTorch's `weight_decay`. */
  weightDecay: number;
  /** Random horizontal flips (scenes are left-right symmetric). */
  hflip: boolean;
  /**
   * Before full fine-tuning, re-estimate BatchNorm running statistics on up to 256 training
   * images (AdaBN). Statistics from another domain — or from initialisation — otherwise make
   * eval-mode outputs meaningless until PyTorch's slow momentum (0.01) has caught up.
   */
  recalibrateBatchNorm: boolean;
  /** Stop when validation loss has not improved by `minDelta` for `patience` epochs, and keep the best epoch's weights. */
  earlyStopping: { patience: number; minDelta: number } | null;
  seed: number;
}

export const DEFAULT_TRAIN_OPTIONS: Readonly<TrainOptions> = Object.freeze({
  freeze: false,
  batchSize: 32,
  learningRate: 1e-3,
  epochs: 10,
  optimizer: 'adam',
  momentum: 0.9,
  weightDecay: 0,
  hflip: true,
  recalibrateBatchNorm: true,
  earlyStopping: null,
  seed: 0,
});

/** One epoch's numbers. `valLoss`/`valAccuracy` are null without a validation set. */
export interface EpochRecord {
  epoch: number;
  trainLoss: number;
  trainAccuracy: number;
  valLoss: number | null;
  valAccuracy: number | null;
  seconds: number;
  learningRate: number;
}

/** Typed progress, emitted as training goes. */
export type TrainEvent =
  | { type: 'stage'; stage: 'features'; done: number; total: number }
  | { type: 'batch'; epoch: number; batch: number; batches: number; loss: number; accuracy: number; imagesPerSecond: number; etaSeconds: number }
  | ({ type: 'epoch'; epochs: number; etaSeconds: number } & EpochRecord)
  | { type: 'skipped'; file: string; reason: string }
  | { type: 'early-stop'; epoch: number; bestEpoch: number }
  /** Replicas started: the run computes on `threads` threads from here on. */
  | { type: 'threads'; threads: number };

/** Everything needed to continue a run after its last completed epoch. */
export interface TrainCheckpoint {
  /** Epochs completed. */
  epoch: number;
  weights: NamedWeight[];
  /** Optimizer slots in the optimizer's own order. */
  optimizer: NamedWeight[];
  rngState: number;
  history: EpochRecord[];
  best: { epoch: number; valLoss: number; weights: NamedWeight[] | null } | null;
  options: TrainOptions;
}

export interface TrainHooks {
  onEvent?: (event: TrainEvent) => void;
  /** Checked between batches; an abort ends the run early with `cancelled: true`, keeping what was learnt. */
  signal?: AbortSignal;
  /** Called after every epoch; awaited, so a durable write finishes before training goes on. */
  onCheckpoint?: (checkpoint: TrainCheckpoint) => Promise<void> | void;
  /** Continue from this checkpoint instead of starting afresh. */
  resume?: TrainCheckpoint;
  /**
   * Most bytes of backbone features a frozen run may keep in memory (default: no limit). A run
   * that would need more computes the features batch by batch every epoch instead: slower, but
   * it trains on any number of images without holding them.
   */
  featureCacheLimitBytes?: number;
  /**
   * Backbone features kept past this run, per image, for frozen runs that start from the same
   * weights (`weights` names them; the namespace adds the architecture and preprocessing). A
   * later run finds its images' features there and computes only the images it adds.
   * `outlivesRun`: the store serves later runs too (a study, label-assist retrains), not just
   * this one's validation.
   */
  sharedFeatures?: { store: FeatureStore; weights: string; outlivesRun?: boolean };
  /** Runs after every optimizer step (pruning masks re-applied there keep pruned weights at zero). */
  afterStep?: () => void;
  /**
   * Starts replicas of the model on other threads (other cores): a frozen run hands them
   * backbone batches while it has features to compute; a full fine-tuning run of a model
   * without BatchNorm splits every batch of two or more images across them and this thread.
   */
  replicas?: StartReplicas;
}


export interface TrainResult {
  history: EpochRecord[];
  /** 1-based epoch whose weights the model holds at the end. */
  bestEpoch: number;
  stoppedEarly: boolean;
  cancelled: boolean;
  /** Images that could not be decoded, by name. */
  skipped: DataProblem[];
  seconds: number;
  /** How a frozen run got its backbone features: cached once in memory, or recomputed per batch. */
  features: 'cached' | 'streamed' | 'trained';
}

/** The data of a run: `val` may be null (no validation, no early stopping). */
export interface TrainData {
  train: ImageSource;
  val: ImageSource | null;
}

/** Checks options from a user, naming the first bad one. */
export function validateTrainOptions(o: TrainOptions): TrainOptions {
  const fail = (msg: string): never => {
    throw new RangeError(msg);
  };
  if (!Number.isInteger(o.batchSize) || o.batchSize < 1 || o.batchSize > 4096) fail(`batch size must be an integer from 1 to 4096, got ${o.batchSize}`);
  if (!(o.learningRate > 0 && o.learningRate < 10)) fail(`learning rate must be in (0, 10), got ${o.learningRate}`);
  if (!Number.isInteger(o.epochs) || o.epochs < 1 || o.epochs > 10000) fail(`epochs must be an integer from 1 to 10000, got ${o.epochs}`);
  if (o.optimizer !== 'adam' && o.optimizer !== 'sgd') fail(`optimizer must be adam or sgd, got ${String(o.optimizer)}`);
  if (!(o.momentum >= 0 && o.momentum < 1)) fail(`momentum must be in [0, 1), got ${o.momentum}`);
  if (!(o.weightDecay >= 0 && o.weightDecay < 1)) fail(`weight decay must be in [0, 1), got ${o.weightDecay}`);
  if (o.earlyStopping && (!Number.isInteger(o.earlyStopping.patience) || o.earlyStopping.patience < 1)) fail('early-stopping patience must be a positive integer');
  if (!Number.isInteger(o.seed)) fail(`seed must be an integer, got ${o.seed}`);
  return o;
}

function makeOptimizer(o: TrainOptions): tf.Optimizer {
  return o.optimizer === 'adam' ? tf.train.adam(o.learningRate) : tf.train.momentum(o.learningRate, o.momentum);
}

function report(hooks: TrainHooks, skipped: DataProblem[], file: string, reason: string): void {
  if (skipped.some((s) => s.source === file)) return;
  skipped.push({ source: file, reason });
  hooks.onEvent?.({ type: 'skipped', file, reason });
}

async function toNamed(tensors: Awaited<ReturnType<tf.Optimizer['getWeights']>>): Promise<NamedWeight[]> {
  const named = await Promise.all(tensors.map(async ({ name, tensor }) => ({ name, shape: [...tensor.shape], data: Float32Array.from(await tensor.data()) })));
  // getWeights() makes a fresh scalar for the iteration count on every call; the rest are the optimizer's own variables.
  for (const { tensor } of tensors) if (!(tensor instanceof tf.Variable)) tensor.dispose();
  return named;
}

/**
 * Trains a model in place. Frozen runs cache backbone features once and train the head on
 * them; full runs stream, decode and preprocess each batch. Progress is reported through
 * `hooks.onEvent`; an abort stops between batches and returns what was learnt so far.
 */
export async function train(model: ClassifierModel, data: TrainData, options: Partial<TrainOptions> = {}, hooks: TrainHooks = {}): Promise<TrainResult> {
  // tfjs-core keeps gradients apart from ops; the runtime's setup module registers them.
  if (!tf.getGradient('Neg') || !tf.getGradient('MaxPool')) {
    throw new Error('tfjs gradients are not registered: import "@tensorflow/tfjs-core/dist/register_all_gradients" (bundlers) or "@tensorflow/tfjs" (Node) before training');
  }
  const opts = validateTrainOptions({ ...DEFAULT_TRAIN_OPTIONS, ...(hooks.resume?.options ?? {}), ...options });
  const started = performance.now();
  const skipped: DataProblem[] = [];
  const rng = new Rng(opts.seed);
  const history: EpochRecord[] = [];
  let best: TrainCheckpoint['best'] = null;
  const vars = model.trainableVariables(opts.freeze);
  const names = model.trainableNames(opts.freeze);
  const optimizer = makeOptimizer(opts);
  let startEpoch = 0;
  if (hooks.resume) {
    model.setWeights(hooks.resume.weights);
    if (hooks.resume.optimizer.length > 0) {
      const slots = hooks.resume.optimizer.map((w) => ({ name: w.name, tensor: tf.tensor(w.data, w.shape) }));
      await optimizer.setWeights(slots);
      // The optimizer copies the slots into variables of its own.
      tf.dispose(slots.map((s) => s.tensor));
    }
    rng.restore(hooks.resume.rngState);
    history.push(...hooks.resume.history);
    best = hooks.resume.best;
    startEpoch = hooks.resume.epoch;
  }

  let trainCache: SourceFeatures | null = null;
  let replicas: ReturnType<typeof lazyReplicas> | null = null;
  const announce = (threads: number): void => hooks.onEvent?.({ type: 'threads', threads });
  let valCache: SourceFeatures | null = null;
  let cancelled = false;
  const limit = hooks.featureCacheLimitBytes ?? Infinity;
  const streamFeatures = opts.freeze && limit < Infinity && featureBytes(model, data, opts.hflip) > limit;
  try {
    if (opts.freeze && !streamFeatures) {
      const progress = { done: 0, total: data.train.size + (data.val?.size ?? 0) };
      const offload = lazyReplicas(model, hooks.replicas, announce);
      try {
        trainCache = await frozenFeatures(model, data.train, opts.hflip, opts.batchSize, progress, hooks, skipped, offload.get);
        // With a store that outlives the run, validation images get their mirrored features too: a
        // later run that splits a grown set anew may train on them, and then computes nothing for them.
        const valFlips = opts.hflip && hooks.sharedFeatures?.outlivesRun === true;
        if (trainCache && data.val) valCache = await frozenFeatures(model, data.val, valFlips, opts.batchSize, progress, hooks, skipped, offload.get);
      } finally {
        await offload.close();
      }
      if (!trainCache || (data.val && !valCache)) cancelled = true;
    }

    if (!cancelled && !opts.freeze && opts.recalibrateBatchNorm && model.hasBatchNorm && !hooks.resume) {
      await recalibrateBatchNorm(model, data.train, opts.batchSize, hooks, skipped);
    }

    const nTrain = trainCache ? trainCache.valid.length : data.train.size;
    if (!cancelled && nTrain === 0) throw new Error('no readable training images');
    const batches = Math.ceil(nTrain / opts.batchSize);
    // Full fine-tuning splits batches across replicas, started at the first batch; a model with
    // BatchNorm does not (each part would normalise by its own statistics).
    const splittable = !opts.freeze && !model.hasBatchNorm && hooks.replicas !== undefined;
    replicas = lazyReplicas(model, splittable ? hooks.replicas : undefined, announce);
    let stoppedEarly = false;
    let epochSecondsAvg = 0;

    for (let epoch = startEpoch; epoch < opts.epochs && !cancelled; epoch++) {
      const t0 = performance.now();
      const pool = trainCache ? trainCache.valid : Array.from({ length: data.train.size }, (_, i) => i);
      const order = rng.permutation(pool.length).map((k) => pool[k]!);
      let lossSum = 0;
      let correct = 0;
      let seen = 0;
      const batchIndices = Array.from({ length: batches }, (_, b) => order.slice(b * opts.batchSize, (b + 1) * opts.batchSize));
      const loader = trainCache ? null : prefetchBatches(data.train, batchIndices, (file, reason) => report(hooks, skipped, file, reason), hooks.signal);
      for (let b = 0; b < batches; b++) {
        if (hooks.signal?.aborted) {
          cancelled = true;
          break;
        }
        const tb = performance.now();
        const idx = batchIndices[b]!;
        const flips = opts.hflip ? idx.map(() => rng.next() < 0.5) : null;
        const dropoutSeed = rng.seed();
        let step: StepGradients;
        let labels: number[];
        const bnUpdates: BatchNormUpdate[] = [];
        if (trainCache) {
          const input = stackFeatures(trainCache, idx, flips);
          labels = idx.map((i) => trainCache!.labels[i]!);
          step = await localStep(model, vars, input, labels, { fromFeatures: true, dropoutSeed }).finally(() => input.dispose());
        } else {
          const next = await loader!.next();
          if (next.done) break;
          const { images, kept } = next.value;
          if (kept.length === 0) continue;
          labels = kept.map((i) => data.train.label(i));
          const keptFlips = flips && kept.map((i) => flips[idx.indexOf(i)]!);
          const others = splittable && kept.length > 1 ? await replicas!.get() : null;
          if (others) {
            step = await splitStep(model, vars, others, { images, labels, flips: keptFlips, dropoutSeed });
          } else {
            let input: tf.Tensor = prepareInput(model, images, keptFlips);
            if (streamFeatures) {
              // Frozen backbone, features too many to cache: compute this batch's outside the tape.
              const f = model.backbone(input as tf.Tensor4D);
              input.dispose();
              input = f;
            }
            const x = input;
            step = await localStep(model, vars, x, labels, { fromFeatures: streamFeatures, dropoutSeed, bnUpdates }).finally(() => x.dispose());
          }
        }
        const named: tf.NamedTensorMap = {};
        tf.tidy(() => {
          for (const v of vars) {
            const g = step.grads[v.name];
            if (!g) continue;
            named[v.name] = opts.weightDecay > 0 ? tf.keep(tf.add(g, tf.mul(v, opts.weightDecay))) : g;
          }
        });
        optimizer.applyGradients(named);
        hooks.afterStep?.();
        model.applyBatchNormUpdates(bnUpdates);
        tf.dispose([...Object.values(step.grads), ...Object.values(named)]);
        const lossValue = step.loss;
        const n = labels.length;
        lossSum += lossValue * n;
        correct += step.hits;
        seen += n;
        const batchSeconds = (performance.now() - tb) / 1000;
        const elapsed = (performance.now() - t0) / 1000;
        const perBatch = elapsed / (b + 1);
        const remainingEpochs = opts.epochs - epoch - 1;
        hooks.onEvent?.({
          type: 'batch',
          epoch: epoch + 1,
          batch: b + 1,
          batches,
          loss: lossValue,
          accuracy: correct / seen,
          imagesPerSecond: n / Math.max(batchSeconds, 1e-6),
          etaSeconds: perBatch * (batches - b - 1) + remainingEpochs * (epochSecondsAvg || perBatch * batches),
        });
      }
      await loader?.return(undefined);
      if (cancelled || seen === 0) break;

      const val = data.val ? await validationLoss(model, data.val, valCache, opts.batchSize, hooks, skipped) : null;
      if (val === undefined) {
        cancelled = true;
        break;
      }
      const seconds = (performance.now() - t0) / 1000;
      epochSecondsAvg = epochSecondsAvg ? 0.5 * epochSecondsAvg + 0.5 * seconds : seconds;
      const record: EpochRecord = {
        epoch: epoch + 1,
        trainLoss: lossSum / seen,
        trainAccuracy: correct / seen,
        valLoss: val?.loss ?? null,
        valAccuracy: val?.accuracy ?? null,
        seconds,
        learningRate: opts.learningRate,
      };
      history.push(record);
      hooks.onEvent?.({ type: 'epoch', epochs: opts.epochs, etaSeconds: epochSecondsAvg * (opts.epochs - epoch - 1), ...record });

      if (record.valLoss !== null && (!best || record.valLoss < best.valLoss - (opts.earlyStopping?.minDelta ?? 0))) {
        best = { epoch: record.epoch, valLoss: record.valLoss, weights: opts.earlyStopping ? await model.getWeights() : null };
      }
      if (opts.earlyStopping && best && record.epoch - best.epoch >= opts.earlyStopping.patience) {
        stoppedEarly = true;
        hooks.onEvent?.({ type: 'early-stop', epoch: record.epoch, bestEpoch: best.epoch });
      }
      if (hooks.onCheckpoint) {
        await hooks.onCheckpoint({
          epoch: record.epoch,
          weights: await model.getWeights(),
          optimizer: await toNamed(await optimizer.getWeights()),
          rngState: rng.state,
          history: [...history],
          best,
          options: opts,
        });
      }
      if (stoppedEarly) break;
    }

    let bestEpoch = history.length > 0 ? history[history.length - 1]!.epoch : 0;
    if (opts.earlyStopping && best?.weights && best.epoch !== bestEpoch) {
      model.setWeights(best.weights);
      bestEpoch = best.epoch;
    }
    const features = !opts.freeze ? 'trained' : streamFeatures ? 'streamed' : 'cached';
    return { history, bestEpoch, stoppedEarly, cancelled, skipped, seconds: (performance.now() - started) / 1000, features };
  } finally {
    await replicas?.close();
    optimizer.dispose();
  }
}

/** Feature values per image, by architecture and input size: found once by a pass over one blank image. */
const featureSizes = new Map<string, number>();

/** Bytes a frozen run's feature cache would take: per-image feature size × images (twice for flips). */
function featureBytes(model: ClassifierModel, data: TrainData, hflip: boolean): number {
  const [h, w] = model.preprocessing.inputSize;
  const key = `${model.archName} ${h}x${w}`;
  let size = featureSizes.get(key);
  if (size === undefined) featureSizes.set(key, (size = tf.tidy(() => model.backbone(tf.zeros([1, h, w, 3]) as tf.Tensor4D).size)));
  return size * 4 * (data.train.size * (hflip ? 2 : 1) + (data.val?.size ?? 0));
}

/**
 * A frozen run's features of one source: each image's from the shared store when it holds
 * them (decode failures reported again), the rest computed — only the mirrored half of images
 * whose plain features are stored — and put there. Null when aborted.
 */
async function frozenFeatures(
  model: ClassifierModel,
  source: ImageSource,
  flip: boolean,
  batchSize: number,
  progress: { done: number; total: number },
  hooks: TrainHooks,
  skipped: DataProblem[],
  offload: () => Promise<BackboneOffload | null>,
): Promise<SourceFeatures | null> {
  const onBatch = (n: number): void => {
    progress.done += n;
    hooks.onEvent?.({ type: 'stage', stage: 'features', done: progress.done, total: progress.total });
  };
  const onSkip = (file: string, reason: string): void => report(hooks, skipped, file, reason);
  const shared = hooks.sharedFeatures;
  if (!shared) return extractFeatures(model, source, { plain: true, flip, batchSize, signal: hooks.signal, onSkip, onBatch, offload: await offload() });
  const namespace = featureNamespace(model, shared.weights);
  const { features, missing, missingFlips } = lookupFeatures(shared.store, namespace, source, flip);
  for (const s of features.skipped) onSkip(s.source, s.reason);
  onBatch(source.size - missing.length - missingFlips.length);
  for (const [indices, plain] of [[missing, true], [missingFlips, false]] as const) {
    if (indices.length === 0) continue;
    const computed = await extractFeatures(model, subset(source, indices), { plain, flip, batchSize, signal: hooks.signal, onSkip, onBatch, offload: await offload() });
    if (!computed) return null;
    storeFeatures(shared.store, namespace, source, indices, computed, features);
  }
  return features;
}

/** Sets BatchNorm running statistics from the first 256 images of a source, batch statistics averaged. */
export async function recalibrateBatchNorm(model: ClassifierModel, source: ImageSource, batchSize = 32, hooks: TrainHooks = {}, skipped: DataProblem[] = []): Promise<void> {
  const n = Math.min(source.size, 256);
  const batches: number[][] = [];
  for (let s = 0; s < n; s += batchSize) batches.push(Array.from({ length: Math.min(batchSize, n - s) }, (_, k) => s + k));
  const collected: BatchNormUpdate[][] = [];
  for await (const { images, kept } of prefetchBatches(source, batches, (file, reason) => report(hooks, skipped, file, reason), hooks.signal)) {
    if (kept.length < 2) continue;
    const updates: BatchNormUpdate[] = [];
    tf.tidy(() => void model.backbone(preprocessImages(images, model.preprocessing), { training: true, bnUpdates: updates }));
    collected.push(updates);
  }
  model.setBatchNormStatistics(collected);
}

/** Loss and accuracy on the validation set; `undefined` when aborted. */
async function validationLoss(
  model: ClassifierModel,
  source: ImageSource,
  cache: SourceFeatures | null,
  batchSize: number,
  hooks: TrainHooks,
  skipped: DataProblem[],
): Promise<{ loss: number; accuracy: number } | null | undefined> {
  let lossSum = 0;
  let correct = 0;
  let n = 0;
  const pool = cache ? cache.valid : Array.from({ length: source.size }, (_, i) => i);
  for (let start = 0; start < pool.length; start += batchSize) {
    if (hooks.signal?.aborted) return undefined;
    const idx = pool.slice(start, start + batchSize);
    let logits: tf.Tensor2D;
    let labels: number[];
    if (cache) {
      const f = stackFeatures(cache, idx, null);
      logits = model.head(f);
      f.dispose();
      labels = idx.map((i) => cache.labels[i]!);
    } else {
      const { images, kept } = await loadBatch(source, idx, (file, reason) => report(hooks, skipped, file, reason), hooks.signal);
      if (kept.length === 0) continue;
      const x = preprocessImages(images, model.preprocessing);
      logits = model.forward(x);
      x.dispose();
      labels = kept.map((i) => source.label(i));
    }
    const y = tf.tensor1d(labels, 'int32');
    const loss = crossEntropy(logits, y);
    const hits = tf.tidy(() => tf.sum(tf.cast(tf.equal(tf.argMax(logits, 1), y), 'int32')));
    const [l, h] = await Promise.all([loss.data(), hits.data()]);
    tf.dispose([logits, y, loss, hits]);
    lossSum += l[0]! * labels.length;
    correct += h[0]!;
    n += labels.length;
  }
  return n === 0 ? null : { loss: lossSum / n, accuracy: correct / n };
}
