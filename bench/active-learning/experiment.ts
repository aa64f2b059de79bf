/**
 * Active learning, measured: does labelling the images the model is least sure of first give
 * a better model for the same number of labels than labelling in random order? The training
 * set's own labels stand in for the person. Every round retrains a head-only SqueezeNet
 * through the one run pipeline (runTraining, freeze) and scores it on a fixed evaluation set.
 */
import * as tf from '@tensorflow/tfjs-core';
import { subset, type ImageSource } from '../../model/data/source';
import { extractFeatures, FeatureStore, type SourceFeatures } from '../../model/feature-cache';
import { uncertaintyQueue } from '../../model/labels';
import { ClassifierModel } from '../../model/model';
import { preprocessImages } from '../../model/preprocess';
import { readPth } from '../../model/pth';
import { Rng } from '../../model/rng';
import { runConfig } from '../../model/run/config';
import { choosePreprocessing } from '../../model/run/preprocessing';
import { runTraining } from '../../model/run/pipeline';
import type { StateDict } from '../../model/tensor-data';

/** The orders compared: random, and the two uncertainty measures of model/labels. */
export type Strategy = 'random' | 'entropy' | 'margin';
export const STRATEGIES: readonly Strategy[] = ['random', 'entropy', 'margin'];

export interface ActiveLearningOptions {
  /** The unlabelled pool: every image has a label, hidden until "asked". */
  pool: ImageSource;
  /** Fixed held-out images every round's model is scored on. */
  evaluation: ImageSource;
  classes: string[];
  weights: { name: string; stateDict: StateDict };
  /** Labels to start from, balanced across classes. */
  initial: number;
  rounds: number;
  perRound: number;
  seeds: readonly number[];
  strategies?: readonly Strategy[];
  /** Head training: epochs, learning rate, batch size (Adam, no flips, no early stopping). */
  epochs: number;
  learningRate: number;
  batchSize: number;
  log?: (line: string) => void;
}

/** Accuracy on the evaluation set after each round, for one strategy and seed. */
export interface Curve {
  strategy: Strategy;
  seed: number;
  labels: number[];
  accuracy: number[];
}

export interface ActiveLearningResult {
  curves: Curve[];
  /** Mean (and sample standard deviation) over seeds, per strategy, at each label count. */
  summary: Array<{ strategy: Strategy; labels: number[]; mean: number[]; std: number[] }>;
  featureSeconds: number;
  seconds: number;
}

/** Backbone features of every image of a source, computed once (the backbone is frozen); a file that fails to decode stops the benchmark. */
async function backboneFeatures(model: ClassifierModel, source: ImageSource, batchSize: number): Promise<SourceFeatures> {
  const f = await extractFeatures(model, source, {
    plain: true,
    flip: false,
    batchSize,
    onSkip: (file, reason) => {
      throw new Error(`${file}: ${reason}`);
    },
    onBatch: () => undefined,
  });
  if (!f) throw new Error('feature extraction was cancelled');
  return f;
}

/** Class probabilities of the head in `pth` on stored features. */
async function headProbabilities(scorer: ClassifierModel, pth: Uint8Array, features: SourceFeatures, idx: readonly number[]): Promise<Float32Array[]> {
  scorer.loadStateDict(readPth(pth));
  const per = features.shape.reduce((a, b) => a * b, 1);
  const out: Float32Array[] = [];
  for (let start = 0; start < idx.length; start += 256) {
    const part = idx.slice(start, start + 256);
    const buf = new Float32Array(part.length * per);
    part.forEach((i, k) => buf.set(features.features[i]!, k * per));
    const p = tf.tidy(() => tf.softmax(scorer.head(tf.tensor(buf, [part.length, ...features.shape]))));
    const data = (await p.data()) as Float32Array;
    p.dispose();
    const c = scorer.numClasses;
    for (let k = 0; k < part.length; k++) out.push(data.slice(k * c, (k + 1) * c));
  }
  return out;
}

/** `n` pool indices, as equal a share of each class as `n` allows, in a seeded order. */
export function balancedStart(pool: ImageSource, classes: number, n: number, seed: number): number[] {
  const order = new Rng(seed).permutation(pool.size);
  const byClass = Array.from({ length: classes }, () => [] as number[]);
  for (const i of order) byClass[pool.label(i)]!.push(i);
  const out: number[] = [];
  for (let k = 0; out.length < n; k++) {
    let added = false;
    for (const list of byClass) {
      if (out.length < n && k < list.length) {
        out.push(list[k]!);
        added = true;
      }
    }
    if (!added) throw new RangeError(`the pool has only ${out.length} images, fewer than the ${n} to start from`);
  }
  return out;
}

function meanStd(values: number[]): { mean: number; std: number } {
  const mean = values.reduce((a, b) => a + b, 0) / values.length;
  const variance = values.length > 1 ? values.reduce((a, b) => a + (b - mean) ** 2, 0) / (values.length - 1) : 0;
  return { mean, std: Math.sqrt(variance) };
}

/** Runs every strategy for every seed; the same seed starts every strategy from the same labels and head initialisation. */
export async function runActiveLearning(o: ActiveLearningOptions): Promise<ActiveLearningResult> {
  const log = o.log ?? (() => undefined);
  const strategies = o.strategies ?? STRATEGIES;
  if (o.initial + o.rounds * o.perRound > o.pool.size) throw new RangeError(`${o.initial} + ${o.rounds}×${o.perRound} labels need more than the pool's ${o.pool.size} images`);
  const started = performance.now();
  const scorer = ClassifierModel.create({
    arch: 'squeezenet1_1',
    numClasses: o.classes.length,
    labels: o.classes,
    preprocessing: choosePreprocessing('auto', 'squeezenet1_1', o.weights.stateDict),
  });
  try {
    scorer.loadStateDict(o.weights.stateDict);
    const poolFeatures = await backboneFeatures(scorer, o.pool, o.batchSize);
    const evalFeatures = await backboneFeatures(scorer, o.evaluation, o.batchSize);
    const featureSeconds = (performance.now() - started) / 1000;
    log(`backbone features of ${o.pool.size} pool and ${o.evaluation.size} evaluation images in ${featureSeconds.toFixed(1)} s`);
    const evalIdx = Array.from({ length: o.evaluation.size }, (_, i) => i);

    const curves: Curve[] = [];
    // One store for every round's run: features are kept per image, so a round computes the
    // backbone only for the labels it added (and none for images an earlier seed or order took).
    const store = new FeatureStore();
    for (const seed of o.seeds) {
      const start = balancedStart(o.pool, o.classes.length, o.initial, seed);
      for (const strategy of strategies) {
        const labelled = [...start];
        const randomOrder = new Rng(seed + 7919).permutation(o.pool.size);
        const curve: Curve = { strategy, seed, labels: [], accuracy: [] };
        for (let round = 0; round <= o.rounds; round++) {
          const config = runConfig('squeezenet1_1', {
            valSplit: 0,
            options: { freeze: true, hflip: false, epochs: o.epochs, learningRate: o.learningRate, batchSize: o.batchSize, earlyStopping: null, seed },
          });
          const run = await runTraining({ config, classes: o.classes, pool: subset(o.pool, labelled), weights: o.weights }, { featureStore: store });
          const probs = await headProbabilities(scorer, run.pth, evalFeatures, evalIdx);
          const correct = probs.filter((p, i) => p.indexOf(Math.max(...p)) === o.evaluation.label(i)).length;
          curve.labels.push(labelled.length);
          curve.accuracy.push(correct / probs.length);
          log(`seed ${seed} ${strategy.padEnd(7)} ${String(labelled.length).padStart(4)} labels: accuracy ${(correct / probs.length).toFixed(4)}`);
          if (round === o.rounds) break;
          const taken = new Set(labelled);
          const unlabelled = Array.from({ length: o.pool.size }, (_, i) => i).filter((i) => !taken.has(i));
          if (strategy === 'random') {
            labelled.push(...randomOrder.filter((i) => !taken.has(i)).slice(0, o.perRound));
          } else {
            const poolProbs = await headProbabilities(scorer, run.pth, poolFeatures, unlabelled);
            labelled.push(...uncertaintyQueue(poolProbs, strategy).slice(0, o.perRound).map((q) => unlabelled[q.index]!));
          }
        }
        curves.push(curve);
      }
    }
    log(`the runs computed backbone features of ${store.size} images`);
    const summary = strategies.map((strategy) => {
      const mine = curves.filter((c) => c.strategy === strategy);
      const labels = mine[0]!.labels;
      const stats = labels.map((_, k) => meanStd(mine.map((c) => c.accuracy[k]!)));
      return { strategy, labels, mean: stats.map((s) => s.mean), std: stats.map((s) => s.std) };
    });
    return { curves, summary, featureSeconds, seconds: (performance.now() - started) / 1000 };
  } finally {
    scorer.dispose();
  }
}
