// Train in the cloud from the Train screen, in the browser: the real SceneLab server (configured
// for Cloud Storage and Vertex AI training) serving the built app, a Cloud Storage emulator the
// page uploads to through signed URLs (with the bucket's CORS set, as a deployment needs), and a
// JobService emulator whose machines run the staged PyTorch trainer with Debian's torch. The
// finished run lands in Models and classifies.
import { spawn, type ChildProcess } from 'node:child_process';
import { generateKeyPairSync } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { expect, test } from '@playwright/test';
import { GcsEmulator } from '../../test/emulators/gcs-emulator';
import { JobEmulator } from '../../test/emulators/job-emulator';
import { vertexMachines } from '../../test/emulators/vertex-machines';
import { go, heldOutImage, importFolder, importWeights, makeSubset, requireSharedData } from './fixtures';

requireSharedData();

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const PORT = 8780 + Math.floor(Math.random() * 80);
const SERVER = `http://localhost:${PORT}`;
const BUCKET = 'scenelab-e2e';
const dir = mkdtempSync(path.join(tmpdir(), 'scenelab-e2e-cloud-'));
let server: ChildProcess;
let gcs: GcsEmulator;
let jobs: JobEmulator;

test.beforeAll(async () => {
  const { publicKey, privateKey } = generateKeyPairSync('rsa', { modulusLength: 2048, publicKeyEncoding: { type: 'spki', format: 'pem' }, privateKeyEncoding: { type: 'pkcs8', format: 'pem' } });
  const clientEmail = 'scenelab-e2e@scenelab-e2e.iam.gserviceaccount.com';
  const keyFile = path.join(dir, 'service-account.json');
  writeFileSync(keyFile, JSON.stringify({ type: 'service_account', project_id: 'scenelab-e2e', client_email: clientEmail, private_key: privateKey }));
  gcs = await GcsEmulator.start(BUCKET, { clientEmail, publicKeyPem: publicKey });
  gcs.cors = { origins: [SERVER], methods: ['GET', 'PUT', 'HEAD'], responseHeaders: ['Content-Type', 'x-goog-generation'], maxAgeSeconds: 3600 };
  jobs = await JobEmulator.start(vertexMachines(gcs));
  server = spawn(process.execPath, ['--import', 'tsx', 'server/main.ts'], {
    cwd: ROOT,
    env: {
      ...process.env,
      SCENELAB_PORT: String(PORT),
      SCENELAB_DATA_DIR: path.join(dir, 'data'),
      SCENELAB_WEB_DIR: path.join(ROOT, 'dist/web'),
      SCENELAB_GCS_BUCKET: BUCKET,
      SCENELAB_GCS_PROJECT: 'scenelab-e2e',
      SCENELAB_GCS_API_ENDPOINT: gcs.endpoint,
      GOOGLE_APPLICATION_CREDENTIALS: keyFile,
      SCENELAB_TRAINING_PROJECT: 'scenelab-e2e',
      SCENELAB_TRAINING_REGION: 'europe-west4',
      SCENELAB_TRAINING_API_ENDPOINT: jobs.address,
      SCENELAB_TRAINING_POLL_MS: '300',
    },
    stdio: 'ignore',
  });
  for (let i = 0; i < 240; i++) {
    const ok = await fetch(`${SERVER}/healthz`).then((r) => r.ok, () => false);
    if (ok) return;
    await new Promise((r) => setTimeout(r, 500));
  }
  throw new Error('the SceneLab server did not start');
});

test.afterAll(async () => {
  server.kill('SIGTERM');
  await jobs.stop();
  await gcs.stop();
  rmSync(dir, { recursive: true, force: true });
});

test('Train in the cloud: upload through signed URLs, the server runs the job on Vertex AI, the model lands in Models and classifies', async ({ page }) => {
  await page.goto(`${SERVER}/?backend=wasm#/datasets`);
  await expect(page.getByTestId('backend')).toContainText('wasm', { timeout: 60_000 });
  await importFolder(page, makeSubset(3, 1));
  await importWeights(page);

  await go(page, 'train');
  await page.getByTestId('preset').selectOption('head');
  await expect(page.getByTestId('train-weights')).not.toHaveValue('');
  await page.getByTestId('epochs').fill('2');
  await page.getByTestId('batch-size').fill('8');
  const card = page.getByTestId('cloud-training');
  await expect(card).toContainText('europe-west4, n1-standard-4');
  await card.getByTestId('cloud-train').click();
  const message = page.getByTestId('message');
  await expect(message).toContainText('Submitted', { timeout: 120_000 });

  // Everything the job reads came through the browser's own uploads, straight to the bucket.
  const create = jobs.calls.find((c) => c.method === 'CreateCustomJob');
  expect(create).toBeTruthy();
  const spec = (create!.request.customJob as { jobSpec: { workerPoolSpecs: Array<{ pythonPackageSpec: { args: string[] } }> } }).jobSpec.workerPoolSpecs[0]!.pythonPackageSpec;
  expect(spec.args).toEqual(expect.arrayContaining(['--arch=squeezenet1_1', '--epochs=2', '--batch-size=8', '--freeze']));
  const dataArg = spec.args.find((a) => a.startsWith('--data=/gcs/'))!;
  const dataPrefix = dataArg.slice(`--data=/gcs/${BUCKET}/`.length);
  expect([...gcs.objects.keys()].filter((k) => k.startsWith(dataPrefix)).length).toBeGreaterThanOrEqual(18);
  expect(gcs.log.some((r) => r.method === 'PUT' && r.status === 200)).toBe(true);

  // The job is followed on the page until its run is imported.
  const job = card.getByTestId('cloud-job').first();
  await expect(job.getByTestId('cloud-job-state')).toHaveText('finished', { timeout: 300_000 });
  await expect(job).toContainText('epoch 2/2');
  await expect(message).toContainText('The cloud run is in Models', { timeout: 120_000 });

  await go(page, 'models');
  await expect(page.getByRole('main')).toContainText('(cloud)');
  await go(page, 'classify');
  await page.getByTestId('classify-input').setInputFiles(heldOutImage('forest', 1));
  await expect(page.getByTestId('top1')).toBeVisible({ timeout: 60_000 });
});
