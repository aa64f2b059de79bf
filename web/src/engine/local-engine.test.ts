import { existsSync, readFileSync } from 'node:fs';
import * as tf from '@tensorflow/tfjs-core';
import { beforeAll, describe, expect, it } from 'vitest';
import { BundleFormatError, StorageFullError } from './errors';
import type { TrainConfig, TrainProgress } from './types';
import { caffeBgr } from '../../../model/preprocess';
import { DEFAULT_TRAIN_OPTIONS } from '../../../model/train';
import { openDb } from './store-schema';
import { stripCommonRoot } from './local-engine';
import { strToU8, unzipSync, zipSync } from 'fflate';
import { initNodeBackend } from '../../../node/backend';
import type { BackendInfo, BackendName } from './types';
import { LocalEngine } from './local-engine';
import { INTEL, MemoryLocks, PTH, intelFiles, nodeEngine, sharpDecoder } from './test-support';

// The shared data is part of the test setup: without it this file fails rather than skips.
if (!existsSync(INTEL) || !existsSync(PTH)) throw new Error(`shared data not found (${INTEL}, ${PTH})`);
const CLASSES = ['forest', 'street', 'sea'];

/** A small, fast run: SqueezeNet features at 64x64, head only. */
function smallRun(datasetId: string, weightsId: string | null, epochs: number): TrainConfig {
  return {
    datasetId,
    arch: 'squeezenet1_1',
    weightsId,
    preprocessing: caffeBgr(64),
    valSplit: 0.25,
    options: { ...DEFAULT_TRAIN_OPTIONS, freeze: true, batchSize: 8, learningRate: 3e-3, epochs, hflip: false, seed: 1 },
  };
}

describe('stripCommonRoot', () => {
  it('drops the picked folder name but never a split folder', () => {
    expect(stripCommonRoot(['pics/forest/1.jpg', 'pics/sea/2.jpg'])('pics/forest/1.jpg')).toBe('forest/1.jpg');
    expect(stripCommonRoot(['seg_train/forest/1.jpg', 'seg_train/sea/2.jpg'])('seg_train/forest/1.jpg')).toBe('seg_train/forest/1.jpg');
    expect(stripCommonRoot(['a/x.jpg', 'b/y.jpg'])('a/x.jpg')).toBe('a/x.jpg');
  });
});

describe('LocalEngine (Node: fake-indexeddb, sharp, wasm)', () => {
  let weightsBytes: Uint8Array<ArrayBuffer>;
  beforeAll(async () => {
    weightsBytes = new Uint8Array(readFileSync(PTH));
    await nodeEngine().engine.init('wasm');
  });

  it('imports a folder: classes and splits from paths, corrupt and non-image files skipped and listed', async () => {
    const { engine } = nodeEngine();
    const files = [
      ...intelFiles(CLASSES, 4, 2),
      { path: 'intel-small/train/forest/broken.jpg', file: new Blob([new Uint8Array([0xff, 0xd8, 0xff, 0x00, 1, 2, 3])]) },
      { path: 'intel-small/notes.txt', file: new Blob(['hello']) },
      { path: 'intel-small/.DS_Store', file: new Blob(['x']) },
    ];
    const progress: number[] = [];
    const r = await engine.importDataset({ name: 'small', source: { kind: 'files', files } }, { onProgress: (p) => progress.push(p.done) });
    expect(r.imported).toBe(18);
    expect(r.dataset.classes).toEqual(['forest', 'sea', 'street']);
    expect(r.dataset.counts['forest']).toEqual({ train: 4, validation: 0, test: 2, unassigned: 0 });
    expect(r.skipped.map((s) => s.source).sort()).toEqual(['notes.txt', 'train/forest/broken.jpg']);
    expect(progress.at(-1)).toBe(19);
    const listed = await engine.listDatasets();
    expect(listed[0]?.status).toBe('ready');
    const page = await engine.images({ datasetId: r.dataset.id, label: 'sea', split: 'test' });
    expect(page.total).toBe(2);
    expect(page.images[0]?.path).toMatch(/^test\/sea\//);
  });

  it('re-splits labelled images per class, keeping the test split', async () => {
    const { engine } = nodeEngine();
    const { dataset } = await engine.importDataset({ name: 's', source: { kind: 'files', files: intelFiles(CLASSES, 4, 2) } });
    const after = await engine.resplit({ datasetId: dataset.id, validation: 0.25, test: 0, seed: 3, keepTest: true });
    for (const c of CLASSES) expect(after.counts[c]).toEqual({ train: 3, validation: 1, test: 2, unassigned: 0 });
    expect(after.imageCount).toBe(18);
  });

  it('stores a .pth once and recognises its architecture', async () => {
    const { engine } = nodeEngine();
    const a = await engine.importWeights('sq.pth', new Blob([weightsBytes]));
    const b = await engine.importWeights('again.pth', new Blob([weightsBytes]));
    expect(b.id).toBe(a.id);
    expect(a).toMatchObject({ arch: 'squeezenet1_1', tensors: 50, parameters: 722_496, hasHead: false });
    expect(await engine.listWeights()).toHaveLength(1);
    await expect(engine.importWeights('junk.pth', new Blob([new Uint8Array([1, 2, 3])]))).rejects.toThrow();
  });

  it('trains with a checkpoint per epoch, then evaluates, classifies, exports and re-imports the model', async () => {
    const locks = new MemoryLocks();
    const { engine, dbName } = nodeEngine({ locks });
    const { dataset } = await engine.importDataset({ name: 's', source: { kind: 'files', files: intelFiles(CLASSES, 6, 3) } });
    const weights = await engine.importWeights('sq.pth', new Blob([weightsBytes]));
    const events: TrainProgress['type'][] = [];
    const before = tf.memory().numTensors;
    const { run, model } = await engine.train(smallRun(dataset.id, weights.id, 3), { onProgress: (e) => events.push(e.type) });
    expect(run.status).toBe('done');
    expect(run.history).toHaveLength(3);
    expect(events.filter((e) => e === 'checkpoint')).toHaveLength(3);
    expect(model?.labels).toEqual(['forest', 'sea', 'street']);
    expect(model?.metricsSplit).toBe('validation');
    expect(tf.memory().numTensors).toBe(before);

    const db = await openDb(dbName);
    const ckpt = await db.get('checkpoints', run.id);
    expect(ckpt?.epoch).toBe(3);
    expect((await db.get('runs', run.id))?.checkpointEpoch).toBe(3);
    db.close();

    const ev = await engine.evaluate({ modelId: model!.id, datasetId: dataset.id, split: 'test' });
    expect(ev.report.n).toBe(9);
    expect(ev.cells.flat(2).sort()).toHaveLength(9);
    expect(ev.report.accuracy).toBeGreaterThan(0.5);

    const test = await engine.images({ datasetId: dataset.id, label: 'forest', split: 'test' });
    const c = await engine.classify({ modelId: model!.id, images: [test.images[0]!.blob, new Blob(['not an image'])], names: ['a.jpg', 'b.txt'] });
    expect(c.results[0]?.prediction?.top).toHaveLength(3);
    expect(c.results[1]?.error).toMatch(/b.txt: not a supported image/);
    expect(c.backend).toBe('wasm');

    const zip = await engine.exportModel(model!.id);
    const imported = await engine.importModel('copy.zip', new Blob([zip as Uint8Array<ArrayBuffer>]));
    expect(imported).toMatchObject({ name: 'copy', arch: 'squeezenet1_1', labels: model!.labels });
    expect(imported.metrics?.accuracy).toBe(model!.metrics?.accuracy);
    const again = await engine.classify({ modelId: imported.id, images: [test.images[0]!.blob] });
    expect(again.results[0]?.prediction?.probabilities).toEqual(c.results[0]?.prediction?.probabilities);
    expect(await engine.listModels()).toHaveLength(2);

    // A tampered bundle is refused naming the file and the field, and nothing is stored.
    const tampered = (name: string, text: string): Blob => {
      const files = unzipSync(zip);
      files[name] = strToU8(text);
      return new Blob([zipSync(files) as Uint8Array<ArrayBuffer>]);
    };
    await expect(engine.importModel('bad.zip', tampered('history.json', '{"epochs": 3}'))).rejects.toThrow(/history\.json in the bundle: the file must be a list of epochs/);
    await expect(engine.importModel('bad.zip', tampered('history.json', '[{"epoch": 1, "trainLoss": "low"}]'))).rejects.toThrow(/history\.json in the bundle: epoch 1 trainLoss must be a number/);
    await expect(engine.importModel('bad.zip', tampered('metrics.json', '{"accuracy": 0.9, "macroF1": 0.9, "n": 9, "classes": ["x"]}'))).rejects.toThrow(/metrics\.json in the bundle: classes must be the model's labels/);
    await expect(engine.importModel('bad.zip', tampered('hyperparameters.json', '{not json'))).rejects.toBeInstanceOf(BundleFormatError);
    expect(await engine.listModels()).toHaveLength(2);
  });

  it('a run cut short resumes from its checkpoint and ends where an uninterrupted run ends', async () => {
    const locks = new MemoryLocks();
    const { engine } = nodeEngine({ locks });
    const { dataset } = await engine.importDataset({ name: 's', source: { kind: 'files', files: intelFiles(CLASSES, 6, 0) } });
    const weights = await engine.importWeights('sq.pth', new Blob([weightsBytes]));
    const config = smallRun(dataset.id, weights.id, 3);

    const straight = await engine.train(config);

    const controller = new AbortController();
    const first = await engine.train(config, {
      signal: controller.signal,
      onProgress: (e) => {
        if (e.type === 'checkpoint' && e.epoch === 1) controller.abort();
      },
    });
    expect(first.run.status).toBe('cancelled');
    expect(first.run.checkpointEpoch).toBe(1);
    const resumed = await engine.resume(first.run.id);
    expect(resumed.run.status).toBe('done');
    expect(resumed.run.history.map((h) => h.epoch)).toEqual([1, 2, 3]);
    expect(resumed.run.history[2]!.trainLoss).toBeCloseTo(straight.run.history[2]!.trainLoss, 4);
    expect(resumed.run.history[2]!.valAccuracy).toBeCloseTo(straight.run.history[2]!.valAccuracy!, 6);
  });

  it('shows a run whose lock nobody holds as interrupted', async () => {
    const locks = new MemoryLocks();
    const { engine, dbName } = nodeEngine({ locks });
    const { dataset } = await engine.importDataset({ name: 's', source: { kind: 'files', files: intelFiles(CLASSES, 2, 0) } });
    const db = await openDb(dbName);
    const now = Date.now();
    await db.put('runs', {
      id: 'r1', name: 'r', datasetId: dataset.id, config: smallRun(dataset.id, null, 2), status: 'running', history: [], checkpointEpoch: 1,
      createdAt: now, updatedAt: now, modelId: null, error: null, backend: 'wasm',
    });
    db.close();
    expect((await engine.listRuns())[0]?.status).toBe('interrupted');
    locks.names.add('scenelab-run-r1');
    expect((await engine.listRuns())[0]?.status).toBe('running');
    await expect(engine.resume('r1')).rejects.toThrow(/another tab/);
  });

  it('trains a frozen run whose features would not fit in memory by streaming them per batch', async () => {
    const { engine } = nodeEngine({ featureCacheLimit: 1024 });
    const { dataset } = await engine.importDataset({ name: 's', source: { kind: 'files', files: intelFiles(CLASSES, 2, 0) } });
    const { run, model } = await engine.train(smallRun(dataset.id, null, 1));
    expect(run.status).toBe('done');
    expect(run.history).toHaveLength(1);
    expect(model).not.toBeNull();
  });

  it('turns a quota error into StorageFullError and leaves no half-imported dataset', async () => {
    const { engine, dbName } = nodeEngine();
    const db = await openDb(dbName);
    const files = intelFiles(CLASSES, 14, 0); // 42 images: two import transactions
    let batches = 0;
    const realTransaction = db.transaction.bind(db);
    // Simulate the browser refusing the second batch of images.
    (db as { transaction: typeof db.transaction }).transaction = ((...args: Parameters<typeof db.transaction>) => {
      const tx = realTransaction(...args);
      if (args[1] === 'readwrite' && Array.isArray(args[0]) && args[0].includes('images') && ++batches === 2) {
        const store = tx.objectStore('datasets');
        store.put = (() => Promise.reject(new DOMException('quota', 'QuotaExceededError'))) as typeof store.put;
      }
      return tx;
    }) as typeof db.transaction;
    const { engine: quotaEngine } = nodeEngine({ db });
    await expect(quotaEngine.importDataset({ name: 'big', source: { kind: 'files', files } })).rejects.toBeInstanceOf(StorageFullError);
    expect(await engine.listDatasets()).toEqual([]);
    expect(await realTransaction('images').store.count()).toBe(0);
  });

  it('imports a zip by streaming it, its wrapping folder dropped', async () => {
    const { engine } = nodeEngine();
    const files = intelFiles(CLASSES, 3, 1);
    const entries: Record<string, Uint8Array> = {};
    for (const f of files) entries[`wrapped/${f.path}`] = new Uint8Array(await f.file.arrayBuffer());
    entries['wrapped/README.txt'] = new TextEncoder().encode('hi');
    const zip = zipSync(entries, { level: 0 });
    const r = await engine.importDataset({ name: 'z', source: { kind: 'zip', zip: new Blob([zip as Uint8Array<ArrayBuffer>]), name: 'z.zip' } });
    expect(r.imported).toBe(12);
    expect(r.dataset.counts['sea']).toEqual({ train: 3, validation: 0, test: 1, unassigned: 0 });
    expect(r.skipped).toEqual([{ source: 'README.txt', reason: 'not an image file' }]);
  });

  it('when the GPU device is lost mid-run, continues on the next backend from the last checkpoint', async () => {
    let lost: ((reason: string) => void) | null = null;
    let current: BackendInfo | null = null;
    const picked: BackendName[] = [];
    const engine = new LocalEngine({
      db: () => import('./store-schema').then((m) => m.openDb(`lost-${Date.now()}`)),
      decoder: sharpDecoder,
      backends: {
        // "webgpu" here is the wasm backend under another name: what matters is the hand-over.
        select: async (_pref, exclude = []) => {
          await initNodeBackend('wasm');
          const name: BackendName = exclude.includes('webgpu') ? 'wasm' : 'webgpu';
          picked.push(name);
          current = Object.freeze({ name, adapter: null, simd: true, threads: false, attempts: [] });
          return current;
        },
        current: () => current,
        onDeviceLost: (l) => {
          lost = l;
          return () => undefined;
        },
      },
    });
    await engine.init('auto');
    const { dataset } = await engine.importDataset({ name: 's', source: { kind: 'files', files: intelFiles(CLASSES, 6, 0) } });
    const weights = await engine.importWeights('sq.pth', new Blob([weightsBytes]));
    const config = smallRun(dataset.id, weights.id, 3);
    const straight = await engine.train(config);
    const events: TrainProgress[] = [];
    let fired = false;
    const { run } = await engine.train(config, {
      onProgress: (e) => {
        events.push(e);
        if (e.type === 'checkpoint' && e.epoch === 1 && !fired) {
          fired = true;
          lost!('GPU process crashed');
        }
      },
    });
    expect(picked).toEqual(['webgpu', 'wasm']);
    expect(events.find((e) => e.type === 'backend')).toMatchObject({ type: 'backend', backend: { name: 'wasm' } });
    expect(events.filter((e) => e.type === 'run').map((e) => (e.type === 'run' ? e.resumedFromEpoch : -1))).toEqual([0, 1]);
    expect(run).toMatchObject({ status: 'done', backend: 'wasm' });
    expect(run.history.map((h) => h.epoch)).toEqual([1, 2, 3]);
    expect(run.history[2]!.trainLoss).toBeCloseTo(straight.run.history[2]!.trainLoss, 4);
  });
});
