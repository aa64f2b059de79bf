import 'fake-indexeddb/auto';
import { describe, expect, it } from 'vitest';
import { DB_VERSION, MIGRATIONS, classesOfCounts, countImage, isQuotaError, openDb, type DatasetRow } from './store-schema';

let n = 0;
const fresh = (): string => `scenelab-db-test-${++n}`;

describe('IndexedDB schema', () => {
  it('creates every store at the current version', async () => {
    const db = await openDb(fresh());
    expect(db.version).toBe(DB_VERSION);
    expect([...db.objectStoreNames].sort()).toEqual(['checkpoints', 'datasets', 'images', 'labelHistory', 'labels', 'models', 'runs', 'settings', 'studies', 'studyModels', 'weights']);
    expect([...db.transaction('images').store.indexNames].sort()).toEqual(['byDataset', 'byDatasetLabel', 'byDatasetSplit', 'byDatasetSplitLabel']);
    db.close();
  });

  it('migrates a version-1 database step by step, keeping its data', async () => {
    const name = fresh();
    const v1 = await openDb(name, 1);
    await v1.put('images', { datasetId: 'd', path: 'a/x.jpg', label: 'a', split: 'train', original: new Blob(['x']), copy: null, width: 1, height: 1 });
    await v1.put('weights', { id: 'w', name: 'w.pth', bytes: 1, sha256: 'abc', tensors: 1, parameters: 1, arch: null, hasHead: false, createdAt: 0, data: new Blob(['w']) });
    v1.close();
    const db = await openDb(name);
    expect(await db.getAllKeysFromIndex('images', 'byDatasetSplitLabel', ['d', 'train', 'a'])).toHaveLength(1);
    expect((await db.getFromIndex('weights', 'bySha', 'abc'))?.id).toBe('w');
    db.close();
  });

  it('never edits a shipped step: the version is the number of steps', () => {
    expect(DB_VERSION).toBe(MIGRATIONS.length);
  });

  it('a checkpoint and its run are written together or not at all', async () => {
    const db = await openDb(fresh());
    const tx = db.transaction(['runs', 'checkpoints'], 'readwrite');
    void tx.objectStore('checkpoints').put({ runId: 'r', epoch: 1, weights: [], optimizer: [], rngState: 1, history: [], best: null, options: {} as never, savedAt: 0 }).catch(() => undefined);
    tx.abort();
    await tx.done.catch(() => undefined);
    expect(await db.get('checkpoints', 'r')).toBeUndefined();
    db.close();
  });

  it('keeps per-class, per-split counts', () => {
    const ds: DatasetRow = { id: 'd', name: 'd', createdAt: 0, status: 'ready', imageCount: 0, unlabelled: 0, counts: {}, problems: [] };
    countImage(ds, 'sea', 'train');
    countImage(ds, 'sea', 'test');
    countImage(ds, '', 'unassigned');
    countImage(ds, 'forest', 'train');
    countImage(ds, 'forest', 'train', -1);
    expect(ds).toMatchObject({ imageCount: 3, unlabelled: 1 });
    expect(classesOfCounts(ds.counts)).toEqual(['sea']);
  });

  it('recognises quota errors, also wrapped', () => {
    expect(isQuotaError(new DOMException('full', 'QuotaExceededError'))).toBe(true);
    expect(isQuotaError({ name: 'AbortError', error: new DOMException('full', 'QuotaExceededError') })).toBe(true);
    expect(isQuotaError(new Error('x'))).toBe(false);
  });
});

