/**
 * What `scenelab export` measures: a model's bundle size and accuracy, before and after it is
 * compressed, and the sparsity sweep's table. Compressing itself is model/compress's.
 */
import { zipModelFiles, type ModelFiles } from '../../model/artifacts';
import { compressModel, type CompressOptions, type CompressResult, type SparsityReport } from '../../model/compress';
import type { ImageSource } from '../../model/data/source';
import { evaluate } from '../../model/evaluate';
import type { ClassifierModel } from '../../model/model';
import { isTrainEvent, splitRun, type RunHooks } from '../../model/run/pipeline';
import { finetuneConfig } from '../../model/compress';
import { labelledSource, readLocalDataset } from '../../node/data';
import { UsageError } from '../errors';

/** Size and accuracy of one version of a model. */
export interface Measurement {
  /** Bytes of the zipped model bundle. */
  bundleBytes: number;
  /** Bytes of weights.bin alone. */
  weightsBytes: number;
  accuracy: number | null;
  n: number;
}

/** Labelled images to score with: a folder's test split when it has one (as `scenelab eval`), else all its labelled images. */
export async function evalSource(data: string, labels: string[], flag: string): Promise<ImageSource> {
  const ds = await readLocalDataset(data);
  const hasTest = ds.records.some((r) => r.split === 'test');
  const records = ds.records.filter((r) => r.label !== null && (!hasTest || r.split === 'test'));
  const { source } = labelledSource(ds, records, labels);
  if (source.size === 0) throw new UsageError(`--${flag} ${data}: no labelled images of the model's classes (${labels.join(', ')})`);
  return source;
}

/** Fine-tuning images: training (and the data's validation) records of the model's classes. */
export async function finetuneSources(data: string, labels: string[]): Promise<{ pool: ImageSource; validation: ImageSource }> {
  const ds = await readLocalDataset(data);
  const usable = ds.records.filter((r) => r.label !== null && r.split !== 'test');
  const { source: pool } = labelledSource(ds, usable.filter((r) => r.split !== 'validation'), labels);
  const { source: validation } = labelledSource(ds, usable.filter((r) => r.split === 'validation'), labels);
  if (pool.size === 0) throw new UsageError(`--finetune-data ${data}: no labelled images of the model's classes (${labels.join(', ')})`);
  return { pool, validation };
}

/** The validation images a fine-tune of this model holds out (the run's own split), to score with when no --eval-data is given. */
export function finetuneValidation(model: ClassifierModel, files: ModelFiles, data: { pool: ImageSource; validation: ImageSource }): ImageSource | null {
  return splitRun({ config: finetuneConfig(model, files, 1), pool: data.pool, validation: data.validation }).val;
}

export async function measure(model: ClassifierModel, files: ModelFiles, source: ImageSource | null): Promise<Measurement> {
  const report = source ? await evaluate(model, source) : null;
  return { bundleBytes: zipModelFiles(files).length, weightsBytes: files.get('weights.bin')?.length ?? 0, accuracy: report?.accuracy ?? null, n: report?.n ?? 0 };
}

/** Progress of a fine-tune on stderr, one line per epoch. */
export function finetuneHooks(log: (s: string) => void): RunHooks {
  return {
    onEvent: (e) => {
      if (e.type === 'pruned') log(`pruned: ${describeSparsity(e.report)}`);
      else if (isTrainEvent(e) && e.type === 'epoch') log(`fine-tune epoch ${e.epoch}/${e.epochs}: loss ${e.trainLoss.toFixed(4)}, accuracy ${e.trainAccuracy.toFixed(4)}${e.valAccuracy === null ? '' : `, validation ${e.valAccuracy.toFixed(4)}`}`);
    },
  };
}

export function describeSparsity(r: SparsityReport): string {
  return `${r.zeros.toLocaleString('en')} of ${r.total.toLocaleString('en')} weights zero (${(100 * r.sparsity).toFixed(1)} %)`;
}

/** One row of a sparsity sweep. */
export interface SweepRow extends Measurement {
  sparsity: number;
  reached: number;
}

/** Compresses at each sparsity in turn (each from the original model) and measures the result. */
export async function sweep(files: ModelFiles, sparsities: number[], base: Omit<CompressOptions, 'prune'> & { prune: Omit<NonNullable<CompressOptions['prune']>, 'sparsity'> }, source: ImageSource | null, log: (s: string) => void): Promise<SweepRow[]> {
  const rows: SweepRow[] = [];
  for (const sparsity of sparsities) {
    log(`sparsity ${(100 * sparsity).toFixed(0)} %…`);
    let result: CompressResult | null = null;
    try {
      result = await compressModel(files, { ...base, prune: { ...base.prune, sparsity } }, finetuneHooks(log));
      rows.push({ sparsity, reached: result.sparsity!.sparsity, ...(await measure(result.model, result.files, source)) });
    } finally {
      result?.model.dispose();
    }
  }
  return rows;
}

const pct = (x: number): string => `${(100 * x).toFixed(1)} %`;

/** The sweep as a plain-text table. */
export function sweepTable(rows: SweepRow[], before: Measurement): string {
  const acc = (m: Measurement): string => (m.accuracy === null ? '—' : m.accuracy.toFixed(4));
  const lines = [
    `${'sparsity'.padEnd(10)} ${'reached'.padStart(8)} ${'bundle bytes'.padStart(13)} ${'vs original'.padStart(11)} ${'accuracy'.padStart(9)}`,
    `${'original'.padEnd(10)} ${'—'.padStart(8)} ${before.bundleBytes.toLocaleString('en').padStart(13)} ${'1.000'.padStart(11)} ${acc(before).padStart(9)}`,
    ...rows.map((r) => `${pct(r.sparsity).padEnd(10)} ${pct(r.reached).padStart(8)} ${r.bundleBytes.toLocaleString('en').padStart(13)} ${(r.bundleBytes / before.bundleBytes).toFixed(3).padStart(11)} ${acc(r).padStart(9)}`),
  ];
  return lines.join('\n');
}
