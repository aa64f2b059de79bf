import { existsSync, readFileSync } from 'node:fs';
import { beforeAll, describe, expect, it } from 'vitest';
import { caffeBgr } from '../../../model/preprocess';
import { countedTrials } from '../../../model/tune';
import type { LocalEngine } from './local-engine';
import { openDb } from './store-schema';
import type { StudyConfig, StudyProgress } from './study-types';
import { INTEL, PTH, intelFiles, nodeEngine } from './test-support';

// The shared data is part of the test setup: without it this file fails rather than skips.
if (!existsSync(INTEL) || !existsSync(PTH)) throw new Error(`shared data not found (${INTEL}, ${PTH})`);
const CLASSES = ['forest', 'street', 'sea'];

/** Head-only SqueezeNet trials at 64x64 on 18 images: a trial takes well under a second of training. */
function tinyStudy(datasetId: string, weightsId: string | null, over: Partial<StudyConfig> = {}): StudyConfig {
  return {
    datasetId,
    weightsId,
    space: { arch: ['squeezenet1_1'], freeze: [true], learningRate: { low: 1e-3, high: 3e-2 }, batchSize: [8], epochs: { low: 2, high: 2 }, optimizer: ['adam'], weightDecay: false, hflip: [false] },
    sampler: 'random',
    pruner: 'none',
    objective: 'valAccuracy',
    budget: { maxTrials: 3 },
    seed: 1,
    preprocessing: caffeBgr(64),
    valSplit: 0.25,
    ...over,
  };
}

describe('studies (Node engine: fake-indexeddb, sharp, wasm)', () => {
  let weightsBytes: Uint8Array<ArrayBuffer>;
  beforeAll(async () => {
    weightsBytes = new Uint8Array(readFileSync(PTH));
    await nodeEngine().engine.init('wasm');
  });

  async function setUp(): Promise<{ engine: LocalEngine; dbName: string; datasetId: string; weightsId: string }> {
    const { engine, dbName } = nodeEngine();
    const { dataset } = await engine.importDataset({ name: 'small', source: { kind: 'files', files: intelFiles(CLASSES, 6, 0) } });
    const weights = await engine.importWeights('sq.pth', new Blob([weightsBytes]));
    return { engine, dbName, datasetId: dataset.id, weightsId: weights.id };
  }

  it('creates a study and runs its trials to the budget, saving after every trial state change', async () => {
    const { engine, datasetId, weightsId } = await setUp();
    const created = await engine.createStudy(tinyStudy(datasetId, weightsId));
    expect(created).toMatchObject({ status: 'created', name: 'small: validation accuracy (RANDOM)' });
    expect(Object.keys(created.study.space)).toEqual(['learningRate']);
    const events: StudyProgress[] = [];
    const out = await engine.runStudy({ studyId: created.id }, { onProgress: (e) => events.push(e) });
    expect(out).toMatchObject({ reason: 'budget', trialsRun: 3 });
    expect(out.study.status).toBe('done');
    const trials = out.study.study.trials;
    expect(trials.map((t) => t.state)).toEqual(['complete', 'complete', 'complete']);
    for (const t of trials) {
      expect(t.intermediate.map((v) => v.step)).toEqual([1, 2]);
      expect(t.value).toBe(t.intermediate[1]!.value);
      expect(t.params.learningRate).toBeGreaterThanOrEqual(1e-3);
    }
    // Each trial: saved when it starts and when it ends; once more when the search stops.
    expect(events.filter((e) => e.type === 'saved')).toHaveLength(7);
    expect(events.filter((e) => e.type === 'trial-report')).toHaveLength(6);
    expect(events.some((e) => e.type === 'trial-train' && e.event.type === 'epoch')).toBe(true);
    // Head-only trials share one feature store: the first extracts features batch by batch, the
    // others find both sources' features stored (one jump to the end per source: train, validation).
    const stageEvents = [0, 1, 2].map((n) => events.filter((e) => e.type === 'trial-train' && e.trial === n && e.event.type === 'stage').length);
    expect(stageEvents[0]).toBeGreaterThan(2);
    expect(stageEvents.slice(1)).toEqual([2, 2]);
    const listed = await engine.listStudies();
    expect(listed.map((s) => s.id)).toEqual([created.id]);
    expect((await engine.getStudy(created.id)).study.trials).toHaveLength(3);
    expect(listed[0]!.keptTrial).not.toBeNull();
  });

  it('after a tab dies mid-trial, continuing re-queues that trial and never reruns a finished one', async () => {
    const { engine, dbName, datasetId, weightsId } = await setUp();
    const { id } = await engine.createStudy(tinyStudy(datasetId, weightsId));
    const stop = new AbortController();
    const db = await openDb(dbName);
    let snapshot: Promise<unknown> | null = null;
    const stopped = await engine.runStudy(
      { studyId: id },
      {
        signal: stop.signal,
        onProgress: (e) => {
          // The store as the dying tab left it: trial 0 finished, trial 1 saved as running.
          if (e.type === 'trial-start' && e.trial === 1) {
            snapshot = db.get('studies', id);
            stop.abort();
          }
        },
      },
    );
    expect(stopped.reason).toBe('aborted');
    expect(stopped.study.status).toBe('stopped');
    const row = (await snapshot!) as Awaited<ReturnType<typeof db.get<'studies'>>>;
    expect(row!.study.trials.map((t) => t.state)).toEqual(['complete', 'running']);
    await db.put('studies', row!);
    db.close();

    // A new page: a new engine over the same database.
    const reopened = nodeEngine({ dbName }).engine;
    expect((await reopened.getStudy(id)).status).toBe('interrupted');
    const started: number[] = [];
    let resumed: number[] = [];
    const out = await reopened.runStudy(
      { studyId: id },
      {
        onProgress: (e) => {
          if (e.type === 'resumed') resumed = e.interrupted;
          if (e.type === 'trial-start') started.push(e.trial);
        },
      },
    );
    expect(resumed).toEqual([1]);
    const trials = out.study.study.trials;
    expect(trials.map((t) => t.state)).toEqual(['complete', 'failed', 'complete', 'complete']);
    expect(trials[1]!.failure?.reason).toBe('interrupted');
    expect(trials[2]!.retryOf).toBe(1);
    expect(trials[2]!.params).toEqual(trials[1]!.params);
    // Trial 0 is exactly as it was stored, and no trial was started for its parameters again.
    expect(trials[0]).toEqual(row!.study.trials[0]);
    expect(started).toEqual([2, 3]);
    expect(countedTrials(out.study.study)).toBe(3);
  });

  it('makes a model from the best trial: the kept one, or the same parameters trained again', async () => {
    const { engine, dbName, datasetId, weightsId } = await setUp();
    const { id } = await engine.createStudy(tinyStudy(datasetId, weightsId, { budget: { maxTrials: 2 } }));
    await expect(engine.modelFromBestTrial(id)).rejects.toThrow(/no complete trial/);
    const { study } = await engine.runStudy({ studyId: id });
    const best = [...study.study.trials].sort((a, b) => b.value! - a.value! || a.number - b.number)[0]!;
    expect(study.keptTrial).toBe(best.number);

    const kept = await engine.modelFromBestTrial(id);
    expect(kept.name).toBe(`${study.name}, best trial #${best.number}`);
    expect(kept.hyperparameters.learningRate).toBe(best.params.learningRate);
    expect(kept.history.at(-1)?.valAccuracy).toBe(best.value);
    expect((await engine.listModels()).map((m) => m.id)).toContain(kept.id);
    expect((await engine.getStudy(id)).modelId).toBe(kept.id);
    const c = await engine.classify({ modelId: kept.id, images: [(await engine.images({ datasetId, label: 'sea' })).images[0]!.blob] });
    expect(c.results[0]?.prediction?.top).toHaveLength(3);

    // Without the kept model, the best parameters train again with the study's seed.
    const db = await openDb(dbName);
    await db.delete('studyModels', id);
    db.close();
    const epochs: number[] = [];
    const again = await engine.modelFromBestTrial(id, { onProgress: (e) => e.type === 'epoch' && epochs.push(e.epoch) });
    expect(epochs).toEqual([1, 2]);
    expect(again.hyperparameters.learningRate).toBe(best.params.learningRate);
    expect(again.history.at(-1)?.valAccuracy).toBeCloseTo(best.value!, 6);
    expect(await engine.listModels()).toHaveLength(2);
  });

  it('prunes trials whose validation loss falls behind at a rung (successive halving)', async () => {
    const { engine, datasetId, weightsId } = await setUp();
    const config = tinyStudy(datasetId, weightsId, {
      space: { ...tinyStudy('', null).space, learningRate: { low: 1e-5, high: 1e-1 }, epochs: { low: 4, high: 4 } },
      pruner: 'halving',
      objective: 'valLoss',
      budget: { maxTrials: 5 },
    });
    const { id } = await engine.createStudy(config);
    const { study } = await engine.runStudy({ studyId: id });
    const pruned = study.study.trials.filter((t) => t.state === 'pruned');
    expect(pruned.length).toBeGreaterThan(0);
    for (const t of pruned) expect(t.intermediate.length).toBeLessThan(4);
    expect(study.study.direction).toBe('minimize');
  });

  it('refuses bad input with a clear message and stores nothing', async () => {
    const { engine, datasetId, weightsId } = await setUp();
    const base = tinyStudy(datasetId, weightsId);
    const bad: Array<[Partial<StudyConfig>, RegExp]> = [
      [{ datasetId: 'nope' }, /dataset of this study does not exist/],
      [{ space: { ...base.space, arch: [] } }, /architecture: choose at least one value/],
      [{ space: { ...base.space, learningRate: { low: 0.1, high: 0.01 } } }, /learning rate: need 0 < low ≤ high/],
      [{ space: { ...base.space, learningRate: { low: 0.01, high: 0.01 } } }, /every option has one value/],
      [{ space: { ...base.space, arch: ['mobilenet_v3_small'] } }, /weights sq.pth are for squeezenet1_1, not mobilenet_v3_small/],
      [{ budget: {} }, /set a budget/],
      [{ budget: { maxTrials: 2.5 } }, /trials must be a whole number/],
      [{ sampler: 'grid' as never }, /sampler must be tpe or random/],
      [{ weightsId: 'gone' }, /weights of this study do not exist/],
      [{ valSplit: 0 }, /measures every trial on validation images/],
    ];
    for (const [over, message] of bad) await expect(engine.createStudy({ ...base, ...over })).rejects.toThrow(message);
    expect(await engine.listStudies()).toEqual([]);
    await expect(engine.runStudy({ studyId: 'nope' })).rejects.toThrow(/no longer exists/);
    const { id } = await engine.createStudy(base);
    await expect(engine.runStudy({ studyId: id, budget: { maxSeconds: -1 } })).rejects.toThrow(/positive number of seconds/);
    expect((await engine.getStudy(id)).study.trials).toEqual([]);

    // One search at a time per study, and a running study is not deleted.
    const stop = new AbortController();
    let trialStarted: () => void = () => undefined;
    const started = new Promise<void>((resolve) => (trialStarted = resolve));
    const running = engine.runStudy({ studyId: id }, { signal: stop.signal, onProgress: (e) => e.type === 'trial-start' && trialStarted() });
    await started;
    await expect(engine.runStudy({ studyId: id })).rejects.toThrow(/already running/);
    await expect(engine.deleteStudy(id)).rejects.toThrow(/stop the study/);
    stop.abort();
    expect((await running).reason).toBe('aborted');
    await engine.deleteStudy(id);
    expect(await engine.listStudies()).toEqual([]);
  });
});
