// *Train in the cloud* from the app, end to end without a browser: the real web engine (IndexedDB
// via fake-indexeddb) uploads a dataset and weights through signed URLs into a Cloud Storage
// emulator, the real server submits the run to a JobService emulator whose machines run the
// staged trainer with Debian's PyTorch, follows it (also across a server restart), and the run
// comes back into the engine's models.
import { generateKeyPairSync } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { Storage } from '@google-cloud/storage';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startServer, type RunningServer } from '../../server/app';
import { cleanup, postJson, tempDir, testConfig } from '../../server/test/helpers';
import { StubPredictor } from '../../server/test/stub-predictor';
import { DEFAULT_TRAIN_OPTIONS } from '../../model/train';
import { BucketClient } from '../../web/src/api/bucket-client';
import { TrainingClient, type CloudJob } from '../../web/src/api/training-client';
import { intelFiles, nodeEngine, PTH } from '../../web/src/engine/test-support';
import { followCloudRun, importCloudRun, submitCloudRun } from '../../web/src/lib/cloud-training';
import { GcsEmulator } from '../emulators/gcs-emulator';
import { JobEmulator } from '../emulators/job-emulator';
import { vertexMachines } from '../emulators/vertex-machines';

const { publicKey, privateKey } = generateKeyPairSync('rsa', { modulusLength: 2048, publicKeyEncoding: { type: 'spki', format: 'pem' }, privateKeyEncoding: { type: 'pkcs8', format: 'pem' } });
const SA = { client_email: 'scenelab-test@scenelab-test.iam.gserviceaccount.com', private_key: privateKey };
const BUCKET = 'scenelab-app';

describe('Train in the cloud, from the app through the server', () => {
  let dir: string;
  let gcs: GcsEmulator;
  let jobs: JobEmulator;
  let storage: Storage;
  let server: RunningServer;
  const env = (): Record<string, string> => ({
    SCENELAB_GCS_BUCKET: BUCKET,
    SCENELAB_TRAINING_PROJECT: 'scenelab-test',
    SCENELAB_TRAINING_REGION: 'europe-west4',
    SCENELAB_TRAINING_API_ENDPOINT: jobs.address,
    SCENELAB_TRAINING_POLL_MS: '200',
  });
  const start = async (): Promise<RunningServer> => startServer(testConfig(dir, env()), { logger: false, storage, predictor: new StubPredictor() });

  beforeAll(async () => {
    dir = tempDir('cloud-app');
    gcs = await GcsEmulator.start(BUCKET, { clientEmail: SA.client_email, publicKeyPem: publicKey });
    jobs = await JobEmulator.start(vertexMachines(gcs));
    storage = new Storage({ projectId: 'scenelab-test', credentials: SA, apiEndpoint: gcs.endpoint });
    server = await start();
    await nodeEngine().engine.init('wasm');
  });
  afterAll(async () => {
    await server.close();
    await jobs.stop();
    await gcs.stop();
    await cleanup(dir);
  });

  it('uploads the dataset and weights, trains on Vertex AI, follows across a restart, and imports the run', async () => {
    const { engine } = nodeEngine();
    const bucket = new BucketClient({ baseUrl: server.url });
    const training = new TrainingClient({ baseUrl: server.url });
    expect(await training.availability()).toMatchObject({ available: true, region: 'europe-west4', machineType: 'n1-standard-4', replicas: 1 });
    const { dataset } = await engine.importDataset({ name: 'cloud demo', source: { kind: 'files', files: intelFiles(['forest', 'sea', 'street'], 8, 3) } });
    const weights = await engine.importWeights('sq.pth', new Blob([new Uint8Array(readFileSync(PTH))]));
    const config = { arch: 'squeezenet1_1' as const, preprocessing: 'auto' as const, valSplit: 0.25, options: { ...DEFAULT_TRAIN_OPTIONS, freeze: true, epochs: 2, batchSize: 8, seed: 2 } };
    const submitted = await submitCloudRun(engine, { name: 'Cloud demo', dataset, weightsId: weights.id, config }, { bucket, training });
    expect(submitted.state).toBe('submitted');
    expect([...gcs.objects.keys()].filter((k) => k.startsWith('datasets/'))).toHaveLength(33);

    // The exact job the server sent: the app's dataset and weights read in place from its bucket.
    const create = jobs.calls.find((c) => c.method === 'CreateCustomJob')!;
    const args = ((create.request.customJob as { jobSpec: { workerPoolSpecs: Array<{ pythonPackageSpec: { args: string[] } }> } }).jobSpec.workerPoolSpecs[0]!.pythonPackageSpec.args);
    expect(args[0]).toMatch(/^--data=\/gcs\/scenelab-app\/datasets\/cloud-demo-[0-9a-f]{8}$/);
    expect(args[1]).toMatch(/^--weights=\/gcs\/scenelab-app\/runs\/Cloud-demo-[a-z0-9]+\/weights\.pth$/);
    expect(args).toEqual(expect.arrayContaining(['--arch=squeezenet1_1', '--epochs=2', '--batch-size=8', '--val-split=0.25', '--seed=2', '--freeze']));

    // The server stops while the job runs; a new one picks the job up from its data folder.
    for (let i = 0; i < 400 && (await training.job(submitted.id)).state !== 'running'; i++) await new Promise((r) => setTimeout(r, 50));
    await server.close();
    server = await start();
    const again = new TrainingClient({ baseUrl: server.url });
    const seen: CloudJob['state'][] = [];
    const done = await followCloudRun(submitted.id, (j) => seen.push(j.state), { intervalMs: 100, training: again });
    expect(done.state, done.error ?? '').toBe('succeeded');
    expect(done.epochs.map((e) => e.epoch)).toEqual([1, 2]);
    expect(done.model).toBe(`models/${submitted.id}.zip`);

    const model = await importCloudRun(engine, done, { bucket: new BucketClient({ baseUrl: server.url }) });
    expect(model).toMatchObject({ name: 'Cloud demo (cloud)', arch: 'squeezenet1_1', labels: ['forest', 'sea', 'street'] });
    expect(model.history).toHaveLength(2);
    expect(model.metrics?.accuracy).toBeGreaterThan(0);
    const test = await engine.images({ datasetId: dataset.id, split: 'test' });
    const c = await engine.classify({ modelId: model.id, images: [test.images[0]!.blob] });
    expect(c.results[0]?.prediction?.top).toHaveLength(3);
  });

  it('refuses bad requests with a message, and says when training is not offered', async () => {
    const bad = await postJson(`${server.url}/api/training/jobs`, { name: 'x', dataset: 'datasets/none/', weights: null, config: { arch: 'resnet50', preprocessing: 'auto', valSplit: 0.1, options: { ...DEFAULT_TRAIN_OPTIONS } } });
    expect(bad.status).toBe(400);
    expect(bad.json.message).toMatch(/architecture must be squeezenet1_1 or mobilenet_v3_small/);
    const missing = await postJson(`${server.url}/api/training/jobs`, { name: 'x', dataset: 'datasets/none/', weights: null, config: { arch: 'squeezenet1_1', preprocessing: 'auto', valSplit: 0.1, options: { ...DEFAULT_TRAIN_OPTIONS } } });
    expect(missing.status).toBe(404);
    expect(missing.json.message).toMatch(/upload the dataset to the bucket first/);
    const traversal = await postJson(`${server.url}/api/training/jobs`, { name: 'x', dataset: '../etc/', weights: null, config: { arch: 'squeezenet1_1', preprocessing: 'auto', valSplit: 0.1, options: { ...DEFAULT_TRAIN_OPTIONS } } });
    expect(traversal.status).toBe(400);
    expect((await fetch(`${server.url}/api/training/jobs/no-such-job`)).status).toBe(404);

    const plain = await startServer(testConfig(tempDir('cloud-app-off')), { logger: false, predictor: new StubPredictor() });
    try {
      expect(await new TrainingClient({ baseUrl: plain.url }).availability()).toMatchObject({ available: false, reason: expect.stringMatching(/SCENELAB_TRAINING_PROJECT/) });
      expect((await postJson(`${plain.url}/api/training/jobs`, {})).status).toBe(404);
    } finally {
      await plain.close();
    }
  });
});
