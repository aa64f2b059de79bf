import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { GcsEmulator } from '../../test/emulators/gcs-emulator';
import type { SignedUrl } from '../storage/types';
import { b64, cleanup, intelJpegs, makeModel, postJson, tempDir } from './helpers';
import { freePort, spawnServer } from './server-process';

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

describe('npm run serve with no configuration (the README walk-through)', () => {
  let dir: string;

  beforeAll(() => {
    dir = tempDir('proc-local');
  });
  afterAll(async () => {
    await cleanup(dir);
  });

  it('serves the embedded bucket and predictor: signed upload/download and a prediction round-trip', async () => {
    const model = await makeModel(dir);
    // Only where to keep data and a free port: everything else is the default.
    const proc = spawnServer({ SCENELAB_DATA_DIR: path.join(dir, 'data'), SCENELAB_PORT: String(await freePort()) });
    try {
      const url = await proc.started;
      expect(url).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
      expect(proc.output()).toMatch(/storage: +LOCAL: embedded bucket/);
      expect(proc.output()).toMatch(/prediction: +LOCAL: embedded tfjs \(wasm, in a worker thread\)/);

      // 1. Upload a model bundle through a signed URL; the server starts serving it.
      const s = await postJson(`${url}/api/storage/signed-url`, { op: 'write', object: 'models/intel.zip', contentType: 'application/zip', size: model.bundleBytes.length });
      const w = s.json as unknown as SignedUrl;
      expect((await fetch(w.url, { method: 'PUT', headers: w.headers, body: model.bundleBytes })).status).toBe(201);

      // 2. Classify a photo.
      const jpeg = intelJpegs('glacier', 1)[0]!;
      let r = await postJson(`${url}/api/predict`, { instances: [{ data: { b64: b64(jpeg) } }] });
      for (let i = 0; r.status === 503 && i < 100; i++) {
        await sleep(100);
        r = await postJson(`${url}/api/predict`, { instances: [{ data: { b64: b64(jpeg) } }] });
      }
      expect(r.status, JSON.stringify(r.json)).toBe(200);
      expect(r.json).toMatchObject({ source: 'local', model: { id: 'models/intel.zip', arch: 'squeezenet1_1', classes: 6 } });

      // 3. A signed upload and download of a photo.
      const up = (await postJson(`${url}/api/storage/signed-url`, { op: 'write', object: 'datasets/mine/glacier/1.jpg', contentType: 'image/jpeg', size: jpeg.length })).json as unknown as SignedUrl;
      expect((await fetch(up.url, { method: 'PUT', headers: up.headers, body: jpeg })).status).toBe(201);
      const down = (await postJson(`${url}/api/storage/signed-url`, { op: 'read', object: 'datasets/mine/glacier/1.jpg' })).json as unknown as SignedUrl;
      expect(new Uint8Array(await (await fetch(down.url)).arrayBuffer())).toEqual(jpeg);
      expect(await readFile(path.join(dir, 'data/bucket/objects/datasets/mine/glacier/1.jpg'))).toEqual(Buffer.from(jpeg));

      // Structured JSON logs, without signatures in them.
      const logLines = proc.output().split('\n').filter((l) => l.startsWith('{'));
      expect(logLines.length).toBeGreaterThan(3);
      for (const l of logLines) expect(() => JSON.parse(l) as unknown).not.toThrow();
      expect(proc.output()).not.toMatch(/signature=/);
    } finally {
      expect(await proc.stop()).toBe(0);
    }
  });

  it('exits with a one-line message on a bad configuration or a missing model', async () => {
    const bad = spawnServer({ SCENELAB_DATA_DIR: path.join(dir, 'data2'), SCENELAB_VERTEX_PROJECT: 'my-project' });
    expect(await bad.exited).toBe(2);
    expect(bad.output()).toMatch(/configuration error: Vertex AI prediction needs .* missing SCENELAB_VERTEX_REGION/);
    const missing = spawnServer({ SCENELAB_DATA_DIR: path.join(dir, 'data3'), SCENELAB_PORT: '0', SCENELAB_MODEL: path.join(dir, 'no-such-run') });
    expect(await missing.exited).toBe(1);
    expect(missing.output()).toMatch(/cannot load the model from .*no-such-run: .*no such run directory or bundle/);
  });
});

describe('the Vertex AI serving container', () => {
  let dir: string;
  let gcs: GcsEmulator;

  beforeAll(async () => {
    dir = tempDir('proc-aip');
    gcs = await GcsEmulator.start('vertex-artifacts');
    const model = await makeModel(dir);
    // What "scenelab deploy" uploads: the run directory's files under models/NAME/.
    for (const name of ['model.json', 'weights.bin', 'labels.json', 'preprocessing.json']) {
      gcs.put(`models/intel-v1/${name}`, await readFile(path.join(model.runDir, name)), name.endsWith('.bin') ? 'application/octet-stream' : 'application/json');
    }
  });
  afterAll(async () => {
    await gcs.stop();
    await cleanup(dir);
  });

  it('honours AIP_* variables, answers health at once, loads the model from AIP_STORAGE_URI and speaks the Vertex format', async () => {
    const port = await freePort();
    const started = Date.now();
    const proc = spawnServer({
      AIP_HTTP_PORT: String(port),
      AIP_HEALTH_ROUTE: '/v1/endpoints/1/deployedModels/2',
      AIP_PREDICT_ROUTE: '/v1/endpoints/1/deployedModels/2:predict',
      AIP_STORAGE_URI: 'gs://vertex-artifacts/models/intel-v1',
      SCENELAB_GCS_API_ENDPOINT: gcs.endpoint,
      SCENELAB_DATA_DIR: path.join(dir, 'data'),
    });
    try {
      const url = await proc.started;
      expect(url).toBe(`http://127.0.0.1:${port}`);
      expect(proc.output()).toMatch(/Vertex AI serving container/);
      expect(proc.output()).toMatch(/bound to 0\.0\.0\.0/);
      const health = `http://127.0.0.1:${port}/v1/endpoints/1/deployedModels/2`;
      let status = 0;
      let slowest = 0;
      while (status !== 200 && Date.now() - started < 60_000) {
        const t = Date.now();
        status = (await fetch(health)).status;
        slowest = Math.max(slowest, Date.now() - t);
        expect([200, 503]).toContain(status);
        if (status !== 200) await sleep(50);
      }
      expect(status).toBe(200);
      // Health is answered promptly even while the model loads.
      expect(slowest).toBeLessThan(1000);
      expect(gcs.log.filter((l) => l.method === 'GET' && l.status === 200).length).toBeGreaterThanOrEqual(4);

      const jpegs = intelJpegs('buildings', 2);
      const r = await postJson(`http://127.0.0.1:${port}/v1/endpoints/1/deployedModels/2:predict`, { instances: jpegs.map((j) => ({ data: { b64: b64(j) } })) });
      expect(r.status).toBe(200);
      // Exactly what Vertex expects back: {"predictions": [...]}.
      expect(Object.keys(r.json)).toEqual(['predictions']);
      const predictions = r.json.predictions as Array<{ label: string; probabilities: Record<string, number> }>;
      expect(predictions).toHaveLength(2);
      expect(Object.keys(predictions[0]!.probabilities)).toEqual(['buildings', 'forest', 'glacier', 'mountain', 'sea', 'street']);
      // Oversize requests get Vertex's own limit.
      const big = await postJson(`http://127.0.0.1:${port}/v1/endpoints/1/deployedModels/2:predict`, { instances: [{ data: { b64: 'A'.repeat(1_600_000) } }] });
      expect(big.status).toBe(413);
    } finally {
      // Vertex stops containers with SIGTERM; the server drains and exits cleanly.
      expect(await proc.stop()).toBe(0);
    }
  });
});
