import { readFileSync } from 'node:fs';
import * as tf from '@tensorflow/tfjs-core';
import { afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import { useBackend } from '../test/helpers/backend';
import { fileSource, intelFiles, PRETRAINED } from '../test/helpers/intel';
import { ImageDecodeError, subset, type ImageSource } from './data/source';
import { FeatureStore, featuresBytes, type SourceFeatures } from './feature-cache';
import { ClassifierModel } from './model';
import { caffeBgr } from './preprocess';
import { readPth } from './pth';
import { runConfig } from './run/config';
import { runTraining, type RunHooks, type RunInput, type RunOutcome } from './run/pipeline';
import type { TrainOptions } from './train';

const CLASSES = ['forest', 'sea', 'street'];
const weights = { name: 'squeezenet1_1-features-imagenet.pth', stateDict: readPth(readFileSync(PRETRAINED)) };

/** 8 images a class and one that cannot be decoded: it must be reported by every run, also one that reuses features. */
const pool: ImageSource = (() => {
  const good = fileSource(intelFiles('train', 8, CLASSES));
  return {
    size: good.size + 1,
    label: (i) => (i < good.size ? good.label(i) : 0),
    name: (i) => (i < good.size ? good.name(i) : 'broken.jpg'),
    load: (i) => (i < good.size ? good.load(i) : Promise.reject(new ImageDecodeError('broken.jpg', 'cannot decode image'))),
  };
})();

function input(options: Partial<TrainOptions>, images: ImageSource = pool): RunInput {
  // A small input keeps the backbone passes short; the features still come from the real weights.
  const config = runConfig('squeezenet1_1', { preprocessing: caffeBgr(64), valSplit: 0.25, options: { freeze: true, epochs: 2, seed: 4, ...options } });
  return { config, classes: CLASSES, pool: images, weights };
}

/** Runs with a spy on the backbone; returns the outcome and the images the backbone saw. */
async function run(options: Partial<TrainOptions>, hooks: RunHooks = {}, source: ImageSource = pool) {
  const spy = vi.spyOn(ClassifierModel.prototype, 'backbone');
  const skipped: string[] = [];
  try {
    const outcome = await runTraining(input(options, source), { ...hooks, onEvent: (e) => e.type === 'skipped' && skipped.push(e.file) });
    const images = spy.mock.calls.reduce((n, [x]) => n + x.shape[0], 0);
    return { outcome, images, skipped };
  } finally {
    spy.mockRestore();
  }
}

beforeAll(async () => {
  await useBackend('wasm');
});
afterEach(() => vi.restoreAllMocks());

/** A run with the store ends where the same run without it ends: history, metrics, weights byte for byte. */
async function expectSameAsAlone(shared: RunOutcome, options: Partial<TrainOptions>, images: ImageSource = pool): Promise<void> {
  const alone = await run(options, {}, images);
  expect(alone.images).toBeGreaterThan(0);
  expect(shared.result.history.map(({ seconds: _s, ...r }) => r)).toEqual(alone.outcome.result.history.map(({ seconds: _s, ...r }) => r));
  expect(shared.metrics).toEqual(alone.outcome.metrics);
  // Byte for byte (a deep equality over 5 MB is slow).
  expect(Buffer.from(shared.pth).equals(Buffer.from(alone.outcome.pth))).toBe(true);
}

describe('a feature store shared by frozen runs', () => {
  it('computes the backbone once for runs that differ in head hyperparameters, with the results of runs without it', async () => {
    const store = new FeatureStore();
    const first = await run({ learningRate: 1e-3, batchSize: 8, hflip: false }, { featureStore: store });
    // 18 training images and 6 validation images (one training file cannot be decoded).
    expect(first.images).toBe(24);
    // One entry per image: 24 images' features and the broken image's failure.
    expect(store.size).toBe(25);

    const second = await run({ learningRate: 3e-3, batchSize: 4, optimizer: 'sgd', hflip: false }, { featureStore: store });
    expect(second.images).toBe(0);
    expect(second.skipped).toEqual(['broken.jpg']);
    expect(second.outcome.result.skipped).toEqual(first.outcome.result.skipped);

    // Flips are added to the stored features: only the mirrored images go through the backbone.
    const flipped = await run({ learningRate: 2e-3, batchSize: 8, hflip: true }, { featureStore: store });
    expect(flipped.images).toBe(24);
    const again = await run({ learningRate: 2e-3, batchSize: 8, hflip: true }, { featureStore: store });
    expect(again.images).toBe(0);

    for (const [shared, options] of [
      [second, { learningRate: 3e-3, batchSize: 4, optimizer: 'sgd' as const, hflip: false }],
      [again, { learningRate: 2e-3, batchSize: 8, hflip: true }],
    ] as const) {
      await expectSameAsAlone(shared.outcome, options);
    }
  });

  it('computes only the images a growing set adds, with the results of runs without the store', async () => {
    const store = new FeatureStore();
    const first = await run({ hflip: true }, { featureStore: store }, subset(pool, Array.from({ length: 18 }, (_, i) => i)));
    // Every image plain and mirrored (validation images too, so a later split may move them to training).
    expect(first.images).toBe(18 * 2);
    // Seven new images, one of which cannot be decoded. The hold-out is drawn anew, so old images
    // change splits: still only the new ones are read and go through the backbone, plain and mirrored.
    const loads = vi.spyOn(pool, 'load');
    const second = await run({ hflip: true }, { featureStore: store });
    const read = new Set(loads.mock.calls.map(([i]) => pool.name(i)));
    loads.mockRestore();
    expect(read).toEqual(new Set(Array.from({ length: 7 }, (_, k) => pool.name(18 + k))));
    expect(second.images).toBe(6 * 2);
    expect(second.skipped).toEqual(['broken.jpg']);
    await expectSameAsAlone(second.outcome, { hflip: true });
    // The same images split another way reuse every feature.
    const otherSplit = await run({ hflip: true, seed: 5 }, { featureStore: store });
    expect(otherSplit.images).toBe(0);
    await expectSameAsAlone(otherSplit.outcome, { hflip: true, seed: 5 });
  });

  it('scores the validation images from their features, as the full model scores the images', async () => {
    const { outcome } = await run({ epochs: 1, hflip: false });
    const model = ClassifierModel.create({ arch: 'squeezenet1_1', numClasses: 3, labels: CLASSES, preprocessing: caffeBgr(64) });
    model.loadStateDict(readPth(outcome.pth));
    const { evaluate } = await import('./evaluate');
    const { randomSplit } = await import('./data/split');
    const { subset } = await import('./data/source');
    const val = subset(pool, randomSplit(pool.size, 0.25, 4).val);
    const direct = await evaluate(model, val);
    model.dispose();
    expect(outcome.metrics!.confusion).toEqual(direct.confusion);
    expect(outcome.metrics!.n).toBe(direct.n);
  });

  it('runs that differ in architecture, weights or preprocessing compute their own', async () => {
    const store = new FeatureStore();
    await run({ hflip: false }, { featureStore: store });
    const spy = vi.spyOn(ClassifierModel.prototype, 'backbone');
    await runTraining({ ...input({ hflip: false }), weights: { ...weights, stateDict: new Map(weights.stateDict) } }, { featureStore: store });
    expect(spy.mock.calls.reduce((n, [x]) => n + x.shape[0], 0)).toBe(24);
    spy.mockRestore();
    // A weights file read again under the id it is stored by shares the features of the first read.
    const store2 = new FeatureStore();
    const fileRun = (stateDict: typeof weights.stateDict) => runTraining({ ...input({ hflip: false }), weights: { ...weights, stateDict, id: 'w1' } }, { featureStore: store2 });
    const spy2 = vi.spyOn(ClassifierModel.prototype, 'backbone');
    await fileRun(new Map(weights.stateDict));
    await fileRun(new Map(weights.stateDict));
    expect(spy2.mock.calls.reduce((n, [x]) => n + x.shape[0], 0)).toBe(24);
    spy2.mockRestore();
    const resized = await runTraining({ ...input({ hflip: false }), config: runConfig('squeezenet1_1', { preprocessing: caffeBgr(72), valSplit: 0.25, options: { freeze: true, epochs: 1, seed: 4, hflip: false } }) }, { featureStore: store });
    expect(resized.result.features).toBe('cached');
    // Three namespaces of 25 entries: the weights object, its copy, the other input size.
    expect(store.size).toBe(75);
    // A full fine-tuning run never reads or fills the store.
    const entries = store.size;
    await run({ freeze: false, epochs: 1, batchSize: 8, hflip: false }, { featureStore: store });
    expect(store.size).toBe(entries);
  });

  it('keeps within its byte limit, dropping the least recently used images first', () => {
    const features = (n: number): SourceFeatures => ({
      shape: [2, 2],
      features: Array.from({ length: n }, () => new Float32Array(4)),
      flipped: null,
      labels: new Int32Array(n),
      valid: Array.from({ length: n }, (_, i) => i),
      skipped: [],
    });
    expect(featuresBytes(features(10))).toBe(160);
    const entry = (n: number) => ({ shape: [n], data: new Float32Array(n) });
    const store = new FeatureStore(400);
    store.set('ns', 'plain', 'a', entry(40));
    store.set('ns', 'flip', 'a', entry(40));
    expect(store.get('ns', 'plain', 'a')).toBeDefined(); // plain a is now the most recently used
    store.set('ns', 'plain', 'b', entry(40)); // 480 bytes would pass the limit: mirrored a goes
    expect([store.get('ns', 'plain', 'a'), store.get('ns', 'flip', 'a'), store.get('ns', 'plain', 'b')].map(Boolean)).toEqual([true, false, true]);
    expect(store.get('other', 'plain', 'a')).toBeUndefined();
    expect(store.bytes).toBe(320);
    store.set('ns', 'plain', 'huge', entry(120)); // larger than the whole limit: not kept, nothing dropped for it
    expect(store.get('ns', 'plain', 'huge')).toBeUndefined();
    store.set('ns', 'plain', 'bad', { failed: 'cannot decode image' }); // a failure costs no bytes
    expect(store.size).toBe(3);
    expect(store.bytes).toBe(320);
  });

  it('leaks no tensors', async () => {
    const store = new FeatureStore();
    await run({ hflip: true }, { featureStore: store });
    const before = tf.memory().numTensors;
    await run({ hflip: true, learningRate: 5e-3 }, { featureStore: store });
    expect(tf.memory().numTensors).toBe(before);
  });
});
