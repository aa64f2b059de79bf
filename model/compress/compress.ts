/**
 * A trained model made smaller: pruned (optionally fine-tuned with the pruned weights held at
 * zero, a run of the one pipeline) and/or its tfjs weights quantized. The CLI's `export` and
 * the app's Export panel both come here, so a compressed model is made the same way by either.
 */
import { strToU8 } from 'fflate';
import { exportModelFiles, importModelFiles, type ModelFiles, type RunExtras } from '../artifacts';
import type { ImageSource } from '../data/source';
import type { ClassifierModel } from '../model';
import { runTraining, type RunHooks } from '../run/pipeline';
import { DEFAULT_VAL_SPLIT, runConfig, type RunConfig } from '../run/config';
import { DEFAULT_TRAIN_OPTIONS, type TrainOptions } from '../train';
import { pruneModel, validatePruneOptions, type PruneOptions, type SparsityReport } from './prune';
import type { WeightQuantization } from './quantize';

/** A short fine-tune after pruning, on labelled images of the model's classes. */
export interface FinetuneInput {
  epochs: number;
  pool: ImageSource;
  /** The data's own validation images; without them the run's validation split is held out of the pool. */
  validation?: ImageSource | null;
}

export interface CompressOptions {
  prune?: PruneOptions | null;
  quantize?: WeightQuantization | null;
  finetune?: FinetuneInput | null;
}

/** `compression.json`: how a model was made from another. */
export interface CompressionRecord {
  prune: (PruneOptions & { reached: number; finetuneEpochs: number }) | null;
  quantize: WeightQuantization | null;
}

export interface CompressResult {
  /** The compressed model at float32 (pruned, not quantized): what .pth, ONNX, TorchServe and TorchScript exports are made from. The caller disposes it. */
  model: ClassifierModel;
  /** The new model's files, weights stored as `quantize` says, with `compression.json`. */
  files: ModelFiles;
  sparsity: SparsityReport | null;
  record: CompressionRecord;
}

const WEIGHT_QUANTIZATIONS: readonly string[] = ['float16', 'uint8'];

/** Checks a combination of options before any work, naming what is wrong (RangeError). */
export function validateCompressOptions(o: CompressOptions): CompressOptions {
  if (o.prune) validatePruneOptions(o.prune);
  if (o.quantize && !WEIGHT_QUANTIZATIONS.includes(o.quantize)) throw new RangeError(`quantization must be float16 or uint8, got ${String(o.quantize)}`);
  if (o.finetune && !o.prune) throw new RangeError('fine-tuning is for a pruned model: give a pruning target too');
  if (o.finetune && (!Number.isInteger(o.finetune.epochs) || o.finetune.epochs < 1 || o.finetune.epochs > 1000)) throw new RangeError(`fine-tune epochs must be an integer from 1 to 1000, got ${o.finetune.epochs}`);
  if (o.finetune && o.finetune.pool.size === 0) throw new RangeError('fine-tuning needs labelled images of the model’s classes');
  return o;
}

function json<T>(files: ModelFiles, name: string): T | undefined {
  const bytes = files.get(name);
  if (!bytes) return undefined;
  try {
    return JSON.parse(new TextDecoder().decode(bytes)) as T;
  } catch {
    return undefined;
  }
}

/** The configuration of a fine-tune: the original run's recipe (from `hyperparameters.json` when there is one) for `epochs` epochs. */
export function finetuneConfig(model: ClassifierModel, files: ModelFiles, epochs: number): RunConfig {
  const hp = json<Partial<TrainOptions> & { valSplit?: number }>(files, 'hyperparameters.json') ?? {};
  const known = Object.fromEntries(Object.keys(DEFAULT_TRAIN_OPTIONS).flatMap((k) => (k in hp ? [[k, hp[k as keyof TrainOptions]]] : [])));
  return runConfig(model.archName, {
    preprocessing: model.preprocessing,
    valSplit: typeof hp.valSplit === 'number' ? hp.valSplit : DEFAULT_VAL_SPLIT,
    options: { ...known, epochs, earlyStopping: null },
  });
}

/**
 * Compresses the model a set of files describes. Pruning with a fine-tune trains through
 * `runTraining` from the model's weights, masks applied after every step; the new files carry
 * that run's hyperparameters, history and validation metrics. Without a fine-tune they carry
 * the original's hyperparameters and history, and no metrics (those were the original's).
 */
export async function compressModel(files: ModelFiles, options: CompressOptions, hooks: RunHooks = {}): Promise<CompressResult> {
  const o = validateCompressOptions(options);
  if (!o.prune && !o.quantize) throw new RangeError('nothing to do: give a pruning target and/or a quantization');
  let model = importModelFiles(files);
  let extras: RunExtras = {
    ...(files.has('hyperparameters.json') && { hyperparameters: json(files, 'hyperparameters.json') }),
    ...(files.has('history.json') && { history: json(files, 'history.json') }),
  };
  let sparsity: SparsityReport | null = null;
  try {
    if (o.prune && o.finetune) {
      const run = await runTraining(
        {
          config: finetuneConfig(model, files, o.finetune.epochs),
          classes: model.labels,
          pool: o.finetune.pool,
          validation: o.finetune.validation ?? null,
          weights: { name: 'the model being pruned', stateDict: await model.stateDict() },
          prune: o.prune,
        },
        hooks,
      );
      model.dispose();
      model = importModelFiles(run.files);
      sparsity = run.sparsity;
      extras = { hyperparameters: { ...run.hyperparameters }, history: run.result.history, ...(run.metrics && { metrics: run.metrics }) };
    } else if (o.prune) {
      sparsity = (await pruneModel(model, o.prune)).report;
    }
    const record: CompressionRecord = {
      prune: o.prune ? { ...o.prune, reached: sparsity!.sparsity, finetuneEpochs: o.finetune?.epochs ?? 0 } : null,
      quantize: o.quantize ?? null,
    };
    const out = await exportModelFiles(model, extras, { quantize: o.quantize ?? null });
    out.set('compression.json', strToU8(JSON.stringify(record, null, 2) + '\n'));
    return { model, files: out, sparsity, record };
  } catch (e) {
    model.dispose();
    throw e;
  }
}
