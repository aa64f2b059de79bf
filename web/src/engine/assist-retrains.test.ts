import { existsSync, readFileSync, readdirSync } from 'node:fs';
import path from 'node:path';
import { afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import { ClassifierModel } from '../../../model/model';
import { caffeBgr } from '../../../model/preprocess';
import { DEFAULT_TRAIN_OPTIONS } from '../../../model/train';
import type { LocalEngine } from './local-engine';
import { openDb } from './store-schema';
import { INTEL, MemoryLocks, PTH, SHARED, intelFiles, nodeEngine } from './test-support';
import type { ImportFile, TrainConfig } from './types';

if (!existsSync(INTEL) || !existsSync(PTH)) throw new Error(`shared data not found (${INTEL}, ${PTH})`);
const PRED = path.join(SHARED, 'datasets/intel-scenes/pred');

const predFiles = (n: number): ImportFile[] =>
  readdirSync(PRED)
    .sort()
    .slice(0, n)
    .map((f) => ({ path: `intel-small/pred/${f}`, file: new Blob([readFileSync(path.join(PRED, f))], { type: 'image/jpeg' }) }));

/** forest/sea/street, 3 train + 1 test each, and 6 unlabelled images. */
async function smallDataset(engine: LocalEngine, name = 'small'): Promise<string> {
  const files = [...intelFiles(['forest', 'sea', 'street'], 3, 1), ...predFiles(6)];
  return (await engine.importDataset({ name, source: { kind: 'files', files } })).dataset.id;
}

/** A head-only run as the Label screen's retrain makes it, small enough for a test. */
function config(datasetId: string, weightsId: string, assist: { labels: number } | undefined): TrainConfig {
  return {
    datasetId,
    weightsId,
    arch: 'squeezenet1_1',
    preprocessing: caffeBgr(64),
    valSplit: 0.2,
    confirmedOnly: true,
    ...(assist && { assist }),
    options: { ...DEFAULT_TRAIN_OPTIONS, freeze: true, batchSize: 8, epochs: 2, hflip: true, seed: 1 },
  };
}

/** Images the backbone has seen since the spy was made. */
function backboneImages(): { count: () => number } {
  const spy = vi.spyOn(ClassifierModel.prototype, 'backbone');
  let seen = 0;
  return {
    count: () => {
      const all = spy.mock.calls.reduce((n, [x]) => n + x.shape[0], 0);
      const since = all - seen;
      seen = all;
      return since;
    },
  };
}

beforeAll(async () => {
  await nodeEngine().engine.init('wasm');
});
afterEach(() => vi.restoreAllMocks());

describe('labelling-assist retrains in the engine', () => {
  it('compute backbone features only for the images labelled since, keep the curve with the dataset, and replace the previous assist model', async () => {
    const { engine, dbName } = nodeEngine();
    const id = await smallDataset(engine);
    const w = await engine.importWeights('w.pth', new Blob([readFileSync(PTH)]));
    // The model the user trained and labels with: never removed.
    const mine = (await engine.train(config(id, w.id, undefined))).model!;

    const backbone = backboneImages();
    const first = await engine.train(config(id, w.id, { labels: 9 }));
    // 9 labelled images, each plain and mirrored.
    expect(backbone.count()).toBe(18);
    expect(first.model?.assist).toBe(true);

    const pred = (await engine.labelEntries(id)).filter((e) => e.label === null).map((e) => e.id);
    await engine.labelImages({ datasetId: id, images: pred.slice(0, 3), label: 'sea', source: 'person' });
    const second = await engine.train(config(id, w.id, { labels: 12 }));
    // Only the 3 new labels go through the backbone, though the hold-out is drawn anew from 12 images.
    expect(backbone.count()).toBe(6);

    // The superseded assist model, its run and checkpoints are gone; the user's model and run stay.
    let models = await engine.listModels();
    expect(models.map((m) => m.id).sort()).toEqual([mine.id, second.model!.id].sort());
    const runs = await engine.listRuns();
    expect(runs.map((r) => r.id).sort()).toEqual([mine.runId, second.run.id].sort());
    const db = await openDb(dbName);
    expect(await db.get('checkpoints', first.run.id)).toBeUndefined();
    db.close();

    // The curve is stored with the dataset: a reopened engine (a reloaded page) shows it.
    const reopened = nodeEngine({ dbName }).engine;
    const curve = (await reopened.labelSummary(id)).curve;
    expect(curve.map((p) => p.labels)).toEqual([9, 12]);
    expect(curve[1]!.accuracy).toBe(second.model!.metrics!.accuracy);
    expect(curve.every((p) => p.at > 0)).toBe(true);

    // A kept assist model stays when the next retrain lands.
    const kept = await engine.keepModel(second.model!.id);
    expect(kept.assist).toBeUndefined();
    await engine.labelImages({ datasetId: id, images: pred.slice(3, 4), label: 'forest', source: 'person' });
    const third = await engine.train(config(id, w.id, { labels: 13 }));
    expect(backbone.count()).toBe(2);
    models = await engine.listModels();
    expect(models.map((m) => m.id).sort()).toEqual([mine.id, second.model!.id, third.model!.id].sort());
    expect((await engine.labelSummary(id)).curve.map((p) => p.labels)).toEqual([9, 12, 13]);
    await expect(engine.keepModel('no-such-model')).rejects.toThrow(/no model/);
  });

  it('drops the kept features when the dataset or the weights change, and retrains of another dataset keep its models', async () => {
    const { engine } = nodeEngine();
    const a = await smallDataset(engine, 'a');
    const b = await smallDataset(engine, 'b');
    const w = await engine.importWeights('w.pth', new Blob([readFileSync(PTH)]));
    await engine.train(config(a, w.id, undefined));
    const backbone = backboneImages();
    const onA = await engine.train(config(a, w.id, { labels: 9 }));
    expect(backbone.count()).toBe(18);
    await engine.train(config(b, w.id, { labels: 9 }));
    expect(backbone.count()).toBe(18);
    // Back on the first dataset: its features were dropped for the second one's.
    await engine.train(config(a, w.id, { labels: 9 }));
    expect(backbone.count()).toBe(18);
    // Each dataset keeps its own latest assist model.
    const assistModels = (await engine.listModels()).filter((m) => m.assist);
    expect(assistModels.map((m) => m.datasetId).sort()).toEqual([a, b].sort());
    expect(assistModels.some((m) => m.id === onA.model!.id)).toBe(false);
    // Deleting the weights drops the features too: the same weights imported again (a new id) compute them anew.
    await engine.deleteWeights(w.id);
    const again = await engine.importWeights('w.pth', new Blob([readFileSync(PTH)]));
    await engine.train(config(a, again.id, { labels: 9 }));
    expect(backbone.count()).toBe(18);
  });

  it('removes an assist run a closed tab left running, but not one whose tab still trains it', async () => {
    const locks = new MemoryLocks();
    const { engine, dbName } = nodeEngine({ locks });
    const id = await smallDataset(engine);
    const w = await engine.importWeights('w.pth', new Blob([readFileSync(PTH)]));
    const first = await engine.train(config(id, w.id, { labels: 9 }));
    // Two earlier retrains still marked running: one a closed tab left (no lock), one another tab trains (its lock held).
    const db = await openDb(dbName);
    const row = (await db.get('runs', first.run.id))!;
    await db.put('runs', { ...row, id: 'orphan', status: 'running', modelId: null });
    await db.put('runs', { ...row, id: 'live', status: 'running', modelId: null });
    // A checkpoint of the orphan, as its last finished epoch left it (any stored row will do).
    await db.put('checkpoints', { runId: 'orphan', savedAt: Date.now() } as never);
    locks.names.add('scenelab-run-live');
    expect((await engine.listRuns()).find((r) => r.id === 'orphan')?.status).toBe('interrupted');

    const second = await engine.train(config(id, w.id, { labels: 9 }));
    const ids = (await engine.listRuns()).map((r) => r.id).sort();
    expect(ids).toEqual(['live', second.run.id].sort());
    expect(await db.get('checkpoints', 'orphan')).toBeUndefined();
    db.close();
  });
});
