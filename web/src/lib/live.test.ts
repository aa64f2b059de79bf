import { describe, expect, it } from 'vitest';
import { applyTrainProgress, emptyLive } from './live';

describe('live training view', () => {
  it('folds batch, epoch, checkpoint and resume events', () => {
    let live = emptyLive(3);
    live = applyTrainProgress(live, { type: 'run', runId: 'r', resumedFromEpoch: 1 });
    expect(live).toMatchObject({ runId: 'r', resumedFromEpoch: 1, epoch: 1 });
    live = applyTrainProgress(live, { type: 'batch', epoch: 2, batch: 3, batches: 4, loss: 0.5, accuracy: 0.75, imagesPerSecond: 40, etaSeconds: 12 });
    expect(live).toMatchObject({ epoch: 2, done: 7, total: 12, loss: 0.5, etaSeconds: 12, stage: 'epoch 2/3' });
    const record = { epoch: 2, trainLoss: 0.5, trainAccuracy: 0.7, valLoss: 0.6, valAccuracy: 0.6, seconds: 1, learningRate: 1e-3 };
    live = applyTrainProgress(live, { type: 'epoch', epochs: 3, etaSeconds: 5, ...record });
    live = applyTrainProgress(live, { type: 'epoch', epochs: 3, etaSeconds: 5, ...record });
    expect(live.history).toEqual([record]);
    live = applyTrainProgress(live, { type: 'checkpoint', epoch: 2 });
    expect(live.note).toBe('checkpoint saved after epoch 2');
  });
});
