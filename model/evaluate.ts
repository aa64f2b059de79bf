import * as tf from '@tensorflow/tfjs-core';
import { loadBatch, type ImageSource } from './data/source';
import type { DataProblem } from './data/records';
import { stackFeatures, type SourceFeatures } from './feature-cache';
import type { ClassifierModel } from './model';
import { preprocessImages } from './preprocess';

/** Precision, recall and F1 of one class. */
export interface ClassMetrics {
  label: string;
  precision: number;
  recall: number;
  f1: number;
  /** Images whose true class this is. */
  support: number;
}

/** What an evaluation found. `confusion[t][p]` counts images of true class t predicted as p. */
export interface EvalReport {
  n: number;
  accuracy: number;
  /** Top-k accuracy for k = 1…min(5, classes). */
  topK: Record<number, number>;
  classes: string[];
  perClass: ClassMetrics[];
  macroF1: number;
  confusion: number[][];
  /** Per image: true and predicted class index and the probability of the prediction. */
  predictions: Array<{ index: number; name: string; label: number; predicted: number; confidence: number }>;
  skipped: DataProblem[];
}

/** Metrics from true labels and a row-major `[n, classes]` probability matrix. */
export function metricsFromProbabilities(classes: readonly string[], labels: ArrayLike<number>, probs: Float32Array): Omit<EvalReport, 'predictions' | 'skipped'> {
  const c = classes.length;
  const n = labels.length;
  if (probs.length !== n * c) throw new Error(`expected ${n}x${c} probabilities, got ${probs.length}`);
  const confusion = Array.from({ length: c }, () => new Array<number>(c).fill(0));
  const kMax = Math.min(5, c);
  const topHits = new Array<number>(kMax + 1).fill(0);
  for (let i = 0; i < n; i++) {
    const row = probs.subarray(i * c, (i + 1) * c);
    const truth = labels[i]!;
    const order = Array.from(row.keys()).sort((a, b) => row[b]! - row[a]! || a - b);
    confusion[truth]![order[0]!]!++;
    const rank = order.indexOf(truth);
    for (let k = 1; k <= kMax; k++) if (rank < k) topHits[k]!++;
  }
  const perClass = classes.map((label, k) => {
    const tp = confusion[k]![k]!;
    const support = confusion[k]!.reduce((a, b) => a + b, 0);
    const predicted = confusion.reduce((a, row) => a + row[k]!, 0);
    const precision = predicted === 0 ? 0 : tp / predicted;
    const recall = support === 0 ? 0 : tp / support;
    const f1 = precision + recall === 0 ? 0 : (2 * precision * recall) / (precision + recall);
    return { label, precision, recall, f1, support };
  });
  const topK: Record<number, number> = {};
  for (let k = 1; k <= kMax; k++) topK[k] = n === 0 ? 0 : topHits[k]! / n;
  return {
    n,
    accuracy: topK[1] ?? 0,
    topK,
    classes: [...classes],
    perClass,
    macroF1: perClass.reduce((a, m) => a + m.f1, 0) / Math.max(1, c),
    confusion,
  };
}

export interface EvaluateOptions {
  batchSize?: number;
  signal?: AbortSignal;
  onProgress?: (p: { stage: 'evaluate'; done: number; total: number }) => void;
  /** The source's backbone features from a frozen run: only the head runs (images that failed to decode stay skipped). */
  features?: SourceFeatures;
}

/** Probabilities of the images `idx` that can be scored, as one row-major array, and which those were. */
async function batchProbabilities(model: ClassifierModel, source: ImageSource, idx: number[], options: EvaluateOptions, skipped: DataProblem[]): Promise<{ kept: number[]; data: Float32Array }> {
  const features = options.features;
  let p: tf.Tensor2D;
  let kept: number[];
  if (features) {
    kept = idx.filter((i) => features.features[i]);
    if (kept.length === 0) return { kept, data: new Float32Array(0) };
    const f = stackFeatures(features, kept, null);
    p = tf.tidy(() => tf.softmax(model.head(f)));
    f.dispose();
  } else {
    const batch = await loadBatch(source, idx, (name, reason) => skipped.push({ source: name, reason }), options.signal);
    kept = batch.kept;
    if (kept.length === 0) return { kept, data: new Float32Array(0) };
    const x = preprocessImages(batch.images, model.preprocessing);
    p = model.predict(x);
    x.dispose();
  }
  const data = (await p.data()) as Float32Array;
  p.dispose();
  return { kept, data };
}

/**
 * Runs the model over a labelled source. Labels of the source must index `model.labels`.
 * Undecodable images are skipped and listed; an abort rejects with the signal's reason.
 */
export async function evaluate(model: ClassifierModel, source: ImageSource, options: EvaluateOptions = {}): Promise<EvalReport> {
  const batchSize = options.batchSize ?? 32;
  const skipped: DataProblem[] = [];
  const labels: number[] = [];
  const probChunks: Float32Array[] = [];
  const predictions: EvalReport['predictions'] = [];
  for (let start = 0; start < source.size; start += batchSize) {
    options.signal?.throwIfAborted();
    const idx = Array.from({ length: Math.min(batchSize, source.size - start) }, (_, k) => start + k);
    const { kept, data } = await batchProbabilities(model, source, idx, options, skipped);
    if (kept.length > 0) {
      probChunks.push(data);
      kept.forEach((i, k) => {
        const row = data.subarray(k * model.numClasses, (k + 1) * model.numClasses);
        let best = 0;
        for (let j = 1; j < row.length; j++) if (row[j]! > row[best]!) best = j;
        const label = source.label(i);
        labels.push(label);
        predictions.push({ index: i, name: source.name(i), label, predicted: best, confidence: row[best]! });
      });
    }
    options.onProgress?.({ stage: 'evaluate', done: Math.min(source.size, start + batchSize), total: source.size });
  }
  if (options.features) skipped.push(...options.features.skipped);
  const all = new Float32Array(labels.length * model.numClasses);
  let off = 0;
  for (const chunk of probChunks) {
    all.set(chunk, off);
    off += chunk.length;
  }
  return { ...metricsFromProbabilities(model.labels, labels, all), predictions, skipped };
}

/** One image's answer. */
export interface Prediction {
  label: string;
  probabilities: Record<string, number>;
  /** Classes by falling probability, at most 5. */
  top: Array<{ label: string; probability: number }>;
}

/** Classifies already-decoded images. */
export async function classify(model: ClassifierModel, images: Parameters<typeof preprocessImages>[0]): Promise<Prediction[]> {
  const x = preprocessImages(images, model.preprocessing);
  const p = model.predict(x);
  x.dispose();
  const data = (await p.data()) as Float32Array;
  p.dispose();
  return images.map((_, i) => {
    const row = Array.from(data.subarray(i * model.numClasses, (i + 1) * model.numClasses));
    const probabilities = Object.fromEntries(model.labels.map((l, k) => [l, row[k]!]));
    const top = model.labels
      .map((label, k) => ({ label, probability: row[k]! }))
      .sort((a, b) => b.probability - a.probability)
      .slice(0, 5);
    return { label: top[0]!.label, probabilities, top };
  });
}

