import 'fake-indexeddb/auto';
import { flushSync } from 'svelte';
import { describe, expect, it } from 'vitest';
import type { Engine, ModelSummary, RunSummary, TrainOutcome, TrainProgress } from '../engine/types';
import { AppState } from './app.svelte';

function model(id: string): ModelSummary {
  return { id, name: id, arch: 'squeezenet1_1', labels: ['a', 'b'], preprocessing: {} as never, createdAt: 0, runId: null, datasetId: null, hyperparameters: {}, history: [], metrics: null, metricsSplit: null, bytes: 0 };
}

function fakeEngine(models: ModelSummary[], runs: RunSummary[] = []): Engine {
  const none = async () => [];
  return {
    listDatasets: none,
    listWeights: none,
    listRuns: async () => runs,
    listModels: async () => models,
    storage: async () => ({ usage: 1, quota: 2, persisted: false }),
    train: async (_c: unknown, o: { onProgress?: (p: TrainProgress) => void } = {}): Promise<TrainOutcome> => {
      o.onProgress?.({ type: 'batch', epoch: 1, batch: 1, batches: 2, loss: 1, accuracy: 0.5, imagesPerSecond: 10, etaSeconds: 3 });
      const m = model('new');
      models.push(m);
      return { run: { status: 'done', name: 'run', history: [] } as unknown as RunSummary, model: m };
    },
  } as unknown as Engine;
}

describe('AppState', () => {
  it('makes the newest trained model the active one and reports the run', async () => {
    const app = new AppState(fakeEngine([model('old')]));
    await app.refresh();
    flushSync();
    expect(app.activeModel?.id).toBe('old');
    const outcome = await app.train({ options: { epochs: 2 } } as never);
    flushSync();
    expect(outcome?.model?.id).toBe('new');
    expect(app.activeModel?.id).toBe('new');
    expect(app.training).toBe(false);
    expect(app.message).toEqual({ kind: 'info', text: 'Training finished: run' });
  });

  it('offers interrupted and cancelled-with-checkpoint runs for resuming', async () => {
    const run = (id: string, status: RunSummary['status'], checkpointEpoch: number): RunSummary =>
      ({ id, status, checkpointEpoch, config: { options: { epochs: 4 } } }) as unknown as RunSummary;
    const app = new AppState(fakeEngine([], [run('a', 'interrupted', 1), run('b', 'cancelled', 2), run('c', 'cancelled', 0), run('d', 'done', 4)]));
    await app.refresh();
    flushSync();
    expect(app.interruptedRuns.map((r) => r.id)).toEqual(['a', 'b']);
  });
});
