// Datasets and models to and from the server's bucket, in the browser, against the real
// SceneLab server (embedded bucket, signed URLs) serving the built app.
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { expect, test } from '@playwright/test';
import { go, importFolder, importWeights, makeSubset, requireSharedData, startHeadOnlyRun } from './fixtures';

requireSharedData();

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const PORT = 8700 + Math.floor(Math.random() * 80);
const SERVER = `http://localhost:${PORT}`;
const dataDir = mkdtempSync(path.join(tmpdir(), 'scenelab-e2e-server-'));
let server: ChildProcess;

test.beforeAll(async () => {
  server = spawn(process.execPath, ['--import', 'tsx', 'server/main.ts'], {
    cwd: ROOT,
    env: { ...process.env, SCENELAB_PORT: String(PORT), SCENELAB_DATA_DIR: dataDir, SCENELAB_WEB_DIR: path.join(ROOT, 'dist/web') },
    stdio: 'ignore',
  });
  for (let i = 0; i < 120; i++) {
    const ok = await fetch(`${SERVER}/healthz`).then((r) => r.ok, () => false);
    if (ok) return;
    await new Promise((r) => setTimeout(r, 500));
  }
  throw new Error('the SceneLab server did not start');
});

test.afterAll(() => {
  server.kill('SIGTERM');
});

/** Every object under a folder of the embedded bucket, relative to the bucket. */
function objects(prefix: string): string[] {
  const root = path.join(dataDir, 'bucket/objects');
  const walk = (dir: string): string[] => (existsSync(dir) ? readdirSync(dir, { withFileTypes: true }).flatMap((e) => (e.isDirectory() ? walk(path.join(dir, e.name)) : [path.relative(root, path.join(dir, e.name))])) : []);
  return walk(path.join(root, prefix));
}

test('upload a dataset to the bucket and import it back; upload a trained model with its curves and metrics', async ({ page }) => {
  await page.goto(`${SERVER}/?backend=wasm#/datasets`);
  await expect(page.getByTestId('backend')).toContainText('wasm', { timeout: 60_000 });
  await importFolder(page, makeSubset(3, 1));
  await expect(page.getByTestId('dataset-summary')).toContainText('24 images · 6 classes');

  await page.getByTestId('bucket-upload-dataset').click();
  const message = page.getByTestId('message');
  await expect(message).toContainText('Uploaded 24 images', { timeout: 60_000 });
  const folder = /under (datasets\/\S+\/)/.exec((await message.textContent())!)![1]!;
  expect(objects(folder)).toHaveLength(24);

  await page.getByText("From the server's bucket").click();
  await page.getByTestId('bucket-prefix').fill(folder);
  await page.getByTestId('bucket-import').click();
  await expect(message).toContainText('Imported 24 images from the bucket', { timeout: 60_000 });
  await expect(page.getByTestId('dataset-summary')).toContainText('24 images · 6 classes');

  await importWeights(page);
  await startHeadOnlyRun(page, 1, 8);
  await expect(message).toContainText('Training finished', { timeout: 120_000 });
  await go(page, 'models');
  await page.getByTestId('bucket-upload-model').first().click();
  await expect(message).toContainText('Uploaded', { timeout: 60_000 });
  expect(objects('models').filter((n) => n.endsWith('.zip'))).toHaveLength(1);
  expect(objects('runs').map((n) => path.basename(n)).sort()).toEqual(['curves.svg', 'history.json', 'metrics.json']);
});

test('export a dataset\'s labels to the bucket as a Vertex AI file, with its images under the same prefix', async ({ page }) => {
  await page.goto(`${SERVER}/?backend=wasm#/datasets`);
  await expect(page.getByTestId('backend')).toContainText('wasm', { timeout: 60_000 });
  await importFolder(page, makeSubset(2, 1));
  await go(page, 'label');
  await page.getByTestId('view-files').click();
  await page.getByTestId('export-format').selectOption('vertex-jsonl');
  await page.getByTestId('gcs-prefix').fill('gs://scenelab-bucket/datasets/labelled');
  await page.getByTestId('export-bucket').click();
  await expect(page.getByTestId('message')).toContainText('Uploaded 18 images and datasets/labelled/intel-small-vertex.jsonl', { timeout: 60_000 });
  const stored = objects('datasets/labelled');
  expect(stored).toHaveLength(19);
  const lines = readFileSync(path.join(dataDir, 'bucket/objects/datasets/labelled/intel-small-vertex.jsonl'), 'utf8').trim().split('\n');
  expect(lines).toHaveLength(18);
  // Every URI in the file names an object that is in the bucket.
  for (const line of lines) {
    const uri = (JSON.parse(line) as { imageGcsUri: string }).imageGcsUri;
    expect(stored).toContain(uri.replace('gs://scenelab-bucket/', ''));
  }
});
