/**
 * The run files of a model bundle a user imports, checked field by field instead of trusted:
 * `hyperparameters.json`, `history.json` and `metrics.json` are optional, but when present they
 * must have the shapes the app draws and compares, or the import is refused naming the file and
 * the field, and nothing is stored.
 */
import type { ModelFiles } from '../../../model/artifacts';
import type { Split } from '../../../model/data/records';
import type { EpochRecord } from '../../../model/train';
import { BundleFormatError } from './errors';
import type { ModelSummary } from './types';

type Metrics = NonNullable<ModelSummary['metrics']>;
const SPLITS: readonly Split[] = ['train', 'validation', 'test', 'unassigned'];

const isObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);
const isNumber = (v: unknown): v is number => typeof v === 'number' && Number.isFinite(v);

function parse(files: ModelFiles, name: string): unknown {
  const bytes = files.get(name);
  if (!bytes) return undefined;
  try {
    return JSON.parse(new TextDecoder().decode(bytes));
  } catch {
    throw new BundleFormatError(`${name} in the bundle is not valid JSON`);
  }
}

function fail(file: string, field: string, want: string): never {
  throw new BundleFormatError(`${file} in the bundle: ${field} must be ${want}`);
}

function history(value: unknown): EpochRecord[] {
  if (!Array.isArray(value)) fail('history.json', 'the file', 'a list of epochs');
  return value.map((e: unknown, i) => {
    if (!isObject(e)) fail('history.json', `epoch ${i + 1}`, 'an object');
    for (const k of ['epoch', 'trainLoss', 'trainAccuracy', 'seconds', 'learningRate'] as const) if (!isNumber(e[k])) fail('history.json', `epoch ${i + 1} ${k}`, 'a number');
    for (const k of ['valLoss', 'valAccuracy'] as const) if (e[k] !== null && !isNumber(e[k])) fail('history.json', `epoch ${i + 1} ${k}`, 'a number or null');
    return e as unknown as EpochRecord;
  });
}

function metrics(value: unknown, labels: readonly string[]): { metrics: Metrics; split: Split | null } {
  if (!isObject(value)) fail('metrics.json', 'the file', 'an object');
  for (const k of ['accuracy', 'macroF1', 'n'] as const) if (!isNumber(value[k])) fail('metrics.json', k, 'a number');
  const classes = value.classes;
  if (!Array.isArray(classes) || classes.length !== labels.length || classes.some((c, i) => c !== labels[i])) fail('metrics.json', 'classes', `the model's labels (${labels.join(', ')})`);
  const c = labels.length;
  const confusion = value.confusion;
  if (!Array.isArray(confusion) || confusion.length !== c || confusion.some((row) => !Array.isArray(row) || row.length !== c || !row.every(isNumber))) fail('metrics.json', 'confusion', `a ${c}x${c} table of counts`);
  if (!Array.isArray(value.perClass) || value.perClass.some((p) => !isObject(p) || typeof p.label !== 'string' || !['precision', 'recall', 'f1', 'support'].every((k) => isNumber(p[k])))) {
    fail('metrics.json', 'perClass', 'a list of {label, precision, recall, f1, support}');
  }
  if (!isObject(value.topK) || !Object.values(value.topK).every(isNumber)) fail('metrics.json', 'topK', 'an object of accuracies');
  const split = value.split === undefined ? null : SPLITS.includes(value.split as Split) ? (value.split as Split) : fail('metrics.json', 'split', SPLITS.join(', '));
  const { split: _s, ...rest } = value;
  return { metrics: { skipped: [], ...rest } as unknown as Metrics, split };
}

/** The run files of a bundle, checked. */
export function readBundleRun(files: ModelFiles, labels: readonly string[]): Pick<ModelSummary, 'hyperparameters' | 'history' | 'metrics' | 'metricsSplit'> {
  const hp = parse(files, 'hyperparameters.json');
  if (hp !== undefined && !isObject(hp)) fail('hyperparameters.json', 'the file', 'an object');
  const h = parse(files, 'history.json');
  const m = parse(files, 'metrics.json');
  const checked = m === undefined ? null : metrics(m, labels);
  return { hyperparameters: (hp as Record<string, unknown> | undefined) ?? {}, history: h === undefined ? [] : history(h), metrics: checked?.metrics ?? null, metricsSplit: checked?.split ?? null };
}
