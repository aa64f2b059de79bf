import { readFileSync } from 'node:fs';
import * as tf from '@tensorflow/tfjs-core';
import { beforeAll, describe, expect, it } from 'vitest';
import { useBackend } from '../test/helpers/backend';
import { CLASSES, fileSource, intelFiles, PRETRAINED } from '../test/helpers/intel';
import { ImageDecodeError, type ImageSource } from './data/source';
import { classify, evaluate } from './evaluate';
import { ClassifierModel } from './model';
import { preprocessImages } from './preprocess';
import { readPth } from './pth';
import { crossEntropy, recalibrateBatchNorm, train, type TrainCheckpoint, type TrainEvent } from './train';

beforeAll(async () => {
  await useBackend('wasm');
});

async function meanLoss(model: ClassifierModel, source: ImageSource): Promise<number> {
  let sum = 0;
  for (let i = 0; i < source.size; i += 16) {
    const idx = Array.from({ length: Math.min(16, source.size - i) }, (_, k) => i + k);
    const images = await Promise.all(idx.map((j) => source.load(j)));
    const x = preprocessImages(images, model.preprocessing);
    const y = tf.tensor1d(idx.map((j) => source.label(j)), 'int32');
    const logits = model.forward(x);
    const loss = crossEntropy(logits, y);
    sum += (await loss.data())[0]! * idx.length;
    tf.dispose([x, y, logits, loss]);
  }
  return sum / source.size;
}

function pretrainedSqueezeNet(): ClassifierModel {
  const model = ClassifierModel.create({ arch: 'squeezenet1_1', numClasses: 6, labels: CLASSES, seed: 1 });
  model.loadStateDict(readPth(readFileSync(PRETRAINED)));
  return model;
}

describe('frozen training (head on cached features)', () => {
  it('learns the Intel scenes from pretrained features: a small version of the CLI acceptance run', async () => {
    const model = pretrainedSqueezeNet();
    const events: TrainEvent[] = [];
    const result = await train(
      model,
      { train: fileSource(intelFiles('train', 40)), val: fileSource(intelFiles('train', 10, CLASSES, 40)) },
      { freeze: true, epochs: 8, batchSize: 32, learningRate: 1e-3, seed: 0 },
      { onEvent: (e) => events.push(e) },
    );
    expect(result.cancelled).toBe(false);
    expect(result.history).toHaveLength(8);
    expect(result.history[7]!.trainLoss).toBeLessThan(result.history[0]!.trainLoss);
    const report = await evaluate(model, fileSource(intelFiles('test', 25)));
    // 6 classes: chance is 0.17; 240 training images get well past 0.7 with these features.
    expect(report.accuracy).toBeGreaterThanOrEqual(0.7);
    expect(report.n).toBe(150);
    // Typed progress: feature stage, batches with throughput and ETA, epochs.
    expect(events.some((e) => e.type === 'stage' && e.stage === 'features' && e.done === e.total)).toBe(true);
    const batch = events.find((e) => e.type === 'batch');
    expect(batch && batch.type === 'batch' && batch.imagesPerSecond > 0 && Number.isFinite(batch.etaSeconds)).toBe(true);
    expect(events.filter((e) => e.type === 'epoch')).toHaveLength(8);
    model.dispose();
  });
});

describe('frozen training past the feature-cache limit', () => {
  it('streams features per batch and learns the same as the cached run, without leaking', async () => {
    const data = { train: fileSource(intelFiles('train', 4, ['forest', 'sea', 'street'])), val: fileSource(intelFiles('train', 2, ['forest', 'sea', 'street'], 60)) };
    const opts = { freeze: true, epochs: 2, batchSize: 4, learningRate: 1e-3, seed: 3 };
    const run = async (limit: number | undefined) => {
      const model = ClassifierModel.create({ arch: 'squeezenet1_1', numClasses: 3, seed: 2 });
      model.loadStateDict(readPth(readFileSync(PRETRAINED)));
      const result = await train(model, data, opts, limit === undefined ? {} : { featureCacheLimitBytes: limit });
      const head = Array.from(await model.param('classifier.1.weight').data());
      model.dispose();
      return { result, head };
    };
    const cached = await run(undefined);
    const before = tf.memory().numTensors;
    const streamed = await run(1024);
    expect(tf.memory().numTensors).toBe(before);
    expect(cached.result.features).toBe('cached');
    expect(streamed.result.features).toBe('streamed');
    expect(streamed.result.history).toHaveLength(2);
    for (let e = 0; e < 2; e++) {
      const [a, b] = [streamed.result.history[e]!, cached.result.history[e]!];
      expect(Math.abs(a.trainLoss - b.trainLoss) / b.trainLoss).toBeLessThan(1e-4);
      expect(Math.abs(a.valLoss! - b.valLoss!) / b.valLoss!).toBeLessThan(1e-4);
    }
    const scale = Math.max(...cached.head.map(Math.abs));
    expect(Math.max(...streamed.head.map((v, i) => Math.abs(v - cached.head[i]!))) / scale).toBeLessThan(1e-3);
  });
});

describe('full fine-tuning on wasm', () => {
  it('SqueezeNet: validation loss drops within one epoch', async () => {
    const model = pretrainedSqueezeNet();
    const trainSet = fileSource(intelFiles('train', 8, CLASSES));
    const valSet = fileSource(intelFiles('train', 4, CLASSES, 100));
    const before = await meanLoss(model, valSet);
    const result = await train(model, { train: trainSet, val: valSet }, { freeze: false, epochs: 1, batchSize: 8, learningRate: 1e-4, seed: 0 });
    expect(result.history[0]!.valLoss!).toBeLessThan(before);
    model.dispose();
  });

  it('MobileNetV3 Small: validation loss drops within one epoch, and every layer moved', async () => {
    // No ImageNet MobileNetV3 weights can be had here; the golden fixture's weights stand in for
    // a pretrained backbone (its BatchNorm statistics are calibrated), and its 6-class head is replaced.
    const model = ClassifierModel.create({ arch: 'mobilenet_v3_small', numClasses: 2, labels: ['forest', 'street'], seed: 3 });
    const report = model.loadStateDict(readPth(readFileSync(new URL('../test/fixtures/golden/mobilenet_v3_small-6.pth', import.meta.url))));
    expect(report.headReplaced).toEqual(['classifier.0.weight', 'classifier.0.bias', 'classifier.3.weight', 'classifier.3.bias']);
    const files = (offset: number, n: number) => intelFiles('train', n, ['forest', 'street'], offset);
    const valSet = fileSource(files(100, 8));
    const firstConv = (await model.param('features.0.0.weight').data()).slice();
    const trainSet = fileSource(files(0, 24));
    await recalibrateBatchNorm(model, trainSet, 8);
    const before = await meanLoss(model, valSet);
    const result = await train(model, { train: trainSet, val: valSet }, { freeze: false, epochs: 1, batchSize: 8, learningRate: 1e-4, seed: 0, recalibrateBatchNorm: false });
    expect(result.history[0]!.valLoss!).toBeLessThan(before);
    const after = await model.param('features.0.0.weight').data();
    expect(after.some((v, i) => v !== firstConv[i])).toBe(true);
    model.dispose();
  });
});

describe('control and robustness', () => {
  it('an abort stops between batches and keeps what was learnt', async () => {
    const model = pretrainedSqueezeNet();
    const controller = new AbortController();
    let batches = 0;
    const result = await train(
      model,
      { train: fileSource(intelFiles('train', 6)), val: null },
      { freeze: false, epochs: 3, batchSize: 4, seed: 0 },
      {
        signal: controller.signal,
        onEvent: (e) => {
          if (e.type === 'batch' && ++batches === 2) controller.abort();
        },
      },
    );
    expect(result.cancelled).toBe(true);
    expect(batches).toBe(2);
    expect(result.history).toHaveLength(0);
    model.dispose();
  });

  it('skips and reports an undecodable image without stopping the run', async () => {
    const good = fileSource(intelFiles('train', 3, ['forest', 'sea']));
    const withBad: ImageSource = {
      size: good.size + 1,
      label: (i) => (i < good.size ? good.label(i) : 0),
      name: (i) => (i < good.size ? good.name(i) : 'broken.jpg'),
      load: (i) => (i < good.size ? good.load(i) : Promise.reject(new ImageDecodeError('broken.jpg', 'cannot decode image'))),
    };
    const model = ClassifierModel.create({ arch: 'squeezenet1_1', numClasses: 2, labels: ['forest', 'sea'] });
    const events: TrainEvent[] = [];
    const result = await train(model, { train: withBad, val: null }, { freeze: true, epochs: 2, batchSize: 4 }, { onEvent: (e) => events.push(e) });
    expect(result.history).toHaveLength(2);
    expect(result.skipped).toEqual([{ source: 'broken.jpg', reason: 'broken.jpg: cannot decode image' }]);
    expect(events.filter((e) => e.type === 'skipped')).toHaveLength(1);
    model.dispose();
  });

  it('resuming from an epoch checkpoint ends where an uninterrupted run ends', async () => {
    const data = { train: fileSource(intelFiles('train', 4, ['forest', 'sea'])), val: fileSource(intelFiles('train', 2, ['forest', 'sea'], 50)) };
    const opts = { freeze: false, epochs: 2, batchSize: 4, learningRate: 1e-3, seed: 5 };
    const make = () => {
      const m = ClassifierModel.create({ arch: 'squeezenet1_1', numClasses: 2, labels: ['forest', 'sea'], seed: 9 });
      return m;
    };
    const straight = make();
    const checkpoints: TrainCheckpoint[] = [];
    const full = await train(straight, data, opts, { onCheckpoint: (c) => void checkpoints.push(c) });
    expect(checkpoints.map((c) => c.epoch)).toEqual([1, 2]);

    const resumed = make();
    const rest = await train(resumed, data, opts, { resume: checkpoints[0]! });
    expect(rest.history.map((h) => h.epoch)).toEqual([1, 2]);
    expect(Math.abs(rest.history[1]!.trainLoss - full.history[1]!.trainLoss) / full.history[1]!.trainLoss).toBeLessThan(1e-5);
    const a = await straight.param('features.0.weight').data();
    const b = await resumed.param('features.0.weight').data();
    let maxDiff = 0;
    let scale = 0;
    for (let i = 0; i < a.length; i++) {
      maxDiff = Math.max(maxDiff, Math.abs(a[i]! - b[i]!));
      scale = Math.max(scale, Math.abs(a[i]!));
    }
    // Restored Adam state differs from the live one only in float rounding.
    expect(maxDiff / scale).toBeLessThan(1e-4);
    straight.dispose();
    resumed.dispose();
  });

  it('early stopping keeps the best epoch', async () => {
    const model = pretrainedSqueezeNet();
    const result = await train(
      model,
      { train: fileSource(intelFiles('train', 5)), val: fileSource(intelFiles('train', 3, CLASSES, 60)) },
      // A learning rate this high makes validation loss climb after the first epochs.
      { freeze: true, epochs: 12, batchSize: 8, learningRate: 0.05, earlyStopping: { patience: 2, minDelta: 0 }, seed: 0 },
    );
    const losses = result.history.map((h) => h.valLoss!);
    const best = losses.indexOf(Math.min(...losses)) + 1;
    expect(result.bestEpoch).toBe(best);
    if (result.stoppedEarly) expect(result.history.length).toBe(best + 2);
    expect(result.stoppedEarly || result.history.length === 12).toBe(true);
    model.dispose();
  });

  it('rejects bad hyperparameters by name', async () => {
    const model = ClassifierModel.create({ arch: 'squeezenet1_1', numClasses: 2 });
    const data = { train: fileSource(intelFiles('train', 1, ['forest', 'sea'])), val: null };
    await expect(train(model, data, { batchSize: 0 })).rejects.toThrow(/batch size/);
    await expect(train(model, data, { learningRate: -1 })).rejects.toThrow(/learning rate/);
    await expect(train(model, data, { epochs: 1.5 })).rejects.toThrow(/epochs/);
    model.dispose();
  });
});

describe('no tensor leaks', () => {
  it('predict, a training epoch (frozen and full) and an evaluation leave numTensors unchanged', async () => {
    const model = pretrainedSqueezeNet();
    const source = fileSource(intelFiles('train', 2, CLASSES));
    const images = await Promise.all([0, 1].map((i) => source.load(i)));
    await classify(model, images); // warm-up: first-use allocations are not leaks
    const base = tf.memory().numTensors;
    await classify(model, images);
    expect(tf.memory().numTensors).toBe(base);
    await train(model, { train: source, val: source }, { freeze: true, epochs: 1, batchSize: 4 });
    expect(tf.memory().numTensors).toBe(base);
    await train(model, { train: source, val: source }, { freeze: false, epochs: 1, batchSize: 4 });
    expect(tf.memory().numTensors).toBe(base);
    await evaluate(model, source);
    expect(tf.memory().numTensors).toBe(base);
    model.dispose();
  });

  it('checkpointing every epoch and resuming from a checkpoint leave numTensors unchanged', async () => {
    const model = pretrainedSqueezeNet();
    const source = fileSource(intelFiles('train', 1, CLASSES));
    await train(model, { train: source, val: null }, { freeze: false, epochs: 1, batchSize: 6 }); // warm-up
    const base = tf.memory().numTensors;
    const checkpoints: TrainCheckpoint[] = [];
    await train(model, { train: source, val: source }, { freeze: false, epochs: 2, batchSize: 6 }, { onCheckpoint: (c) => void checkpoints.push(c) });
    expect(tf.memory().numTensors).toBe(base);
    await train(model, { train: source, val: source }, { freeze: false, epochs: 2, batchSize: 6 }, { resume: checkpoints[0]! });
    expect(tf.memory().numTensors).toBe(base);
    model.dispose();
  });

  it('MobileNetV3 training (BatchNorm updates) leaves numTensors unchanged', async () => {
    const model = ClassifierModel.create({ arch: 'mobilenet_v3_small', numClasses: 2 });
    const source = fileSource(intelFiles('train', 2, ['forest', 'sea']));
    const base = tf.memory().numTensors;
    await train(model, { train: source, val: source }, { freeze: false, epochs: 1, batchSize: 2 });
    expect(tf.memory().numTensors).toBe(base);
    model.dispose();
    expect(tf.memory().numTensors).toBe(base - model.specs.filter((s) => s.kind !== 'count').length);
  });
});
