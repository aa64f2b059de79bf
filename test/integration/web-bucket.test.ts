// The app's bucket transfers, end to end without a browser: the real engine (IndexedDB via
// fake-indexeddb, sharp decoding) on one side, a real listening SceneLab server with its
// embedded bucket on the other.
import { existsSync } from 'node:fs';
import path from 'node:path';
import { unzipSync } from 'fflate';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startServer, type RunningServer } from '../../server/app';
import { BucketClient } from '../../web/src/api/bucket-client';
import { LocalBucket } from '../../server/storage/local-bucket';
import { cleanup, tempDir, testConfig } from '../../server/test/helpers';
import { StubPredictor } from '../../server/test/stub-predictor';
import { intelFiles, nodeEngine } from '../../web/src/engine/test-support';
import { datasetObjectName, importFromBucket, uploadDataset, uploadModel } from '../../web/src/lib/bucket';

const CLASSES = ['forest', 'sea', 'street'];

describe('datasets and models to and from the server bucket', () => {
  let dir: string;
  let server: RunningServer;
  let client: BucketClient;

  beforeAll(async () => {
    dir = tempDir('web-bucket');
    server = await startServer(testConfig(dir), { logger: false, predictor: new StubPredictor() });
    client = new BucketClient({ baseUrl: server.url });
    await nodeEngine().engine.init('wasm');
  });
  afterAll(async () => {
    await server.close();
    await cleanup(dir);
  });

  it('uploads a dataset with its splits and classes, and imports it back with the same counts', async () => {
    const { engine } = nodeEngine();
    const { dataset } = await engine.importDataset({ name: 'Intel small', source: { kind: 'files', files: intelFiles(CLASSES, 3, 2) } });
    const progress: number[] = [];
    const up = await uploadDataset(engine, dataset, { client, onProgress: (p) => progress.push(p.done) });
    expect(up.uploaded).toBe(15);
    expect(progress.at(-1)).toBe(15);
    const listed = await client.list(up.folder);
    expect(listed).toHaveLength(15);
    expect(listed.filter((o) => o.name.includes('/test/sea/'))).toHaveLength(2);

    const back = await importFromBucket(engine, up.folder, 'from bucket', { client });
    expect(back.imported).toBe(15);
    expect(back.skipped).toEqual([]);
    expect(back.dataset.classes).toEqual(CLASSES);
    expect(back.dataset.counts).toEqual(dataset.counts);
  });

  it('imports a bucket laid out like the seed pipeline (seg_train/seg_train/<class>/) in chunks', async () => {
    const { engine } = nodeEngine();
    const files = intelFiles(['forest', 'sea'], 140, 0);
    for (const f of files) await client.upload(`datasets/seed/seg_train/seg_train/${f.path.split('/').slice(-2).join('/')}`, f.file as Blob);
    const r = await importFromBucket(engine, 'datasets/seed/', 'seed', { client });
    // 280 images: two chunks, appended into one dataset.
    expect(r.imported).toBe(280);
    expect(r.dataset.counts['forest']?.train).toBe(140);
    expect(r.dataset.counts['sea']?.train).toBe(140);
    expect((await engine.listDatasets()).filter((d) => d.name === 'seed')).toHaveLength(1);
  });

  it('uploads a trained model bundle and its curves and metrics', async () => {
    const { engine } = nodeEngine();
    const { dataset } = await engine.importDataset({ name: 's', source: { kind: 'files', files: intelFiles(CLASSES, 3, 1) } });
    const { model } = await engine.train({
      datasetId: dataset.id,
      arch: 'squeezenet1_1',
      weightsId: null,
      preprocessing: 'auto',
      valSplit: 0.34,
      options: { freeze: true, batchSize: 4, learningRate: 1e-3, epochs: 2, optimizer: 'adam', momentum: 0.9, weightDecay: 0, hflip: false, recalibrateBatchNorm: false, earlyStopping: null, seed: 0 },
    });
    const names = await uploadModel(engine, model!, { client });
    expect(names[0]).toMatch(/^models\/.+\.zip$/);
    expect(names.slice(1).map((n) => n.split('/').pop())).toEqual(['history.json', 'curves.svg', 'metrics.json']);
    const objects = (server.store as LocalBucket).objectsDir;
    for (const n of names) expect(existsSync(path.join(objects, ...n.split('/'))), n).toBe(true);
    const bundle = await client.download({ name: names[0]!, size: 0, updated: '' });
    expect(Object.keys(unzipSync(new Uint8Array(await bundle.arrayBuffer())))).toContain('model.json');
    // Objects are never overwritten: a second upload of the same model is refused, by name.
    await expect(uploadModel(engine, model!, { client })).rejects.toThrow(/exists/);
  });

  it('names dataset objects so that splits, classes and unlabelled images survive the trip', () => {
    const ds = { name: 'My set', id: 'abcdef123456' };
    expect(datasetObjectName(ds, { id: 7, path: 'x/train/sea/1.jpg', label: 'sea', split: 'train' })).toBe('datasets/My-set-abcdef12/train/sea/7-1.jpg');
    expect(datasetObjectName(ds, { id: 8, path: 'a b.png', label: 'forest', split: 'unassigned' })).toBe('datasets/My-set-abcdef12/forest/8-a-b.png');
    expect(datasetObjectName(ds, { id: 9, path: 'p/9.jpg', label: null, split: 'unassigned' })).toBe('datasets/My-set-abcdef12/pred/9-9.jpg');
  });
});
