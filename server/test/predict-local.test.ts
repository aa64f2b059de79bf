import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { decodeImage } from '../../node/data';
import { importModelFiles } from '../../model/artifacts';
import { classify } from '../../model/evaluate';
import { readModelFiles } from '../../node/model-store';
import { startServer, type RunningServer } from '../app';
import { WorkerRunner } from '../predict/runner';
import { InProcessRunner } from '../predict/runner-core';
import type { LocalPredictor } from '../predict/local';
import type { SignedUrl } from '../storage/types';
import { b64, CLASSES, cleanup, intelJpegs, makeModel, pngDeclaring, postJson, solidPng, tempDir, testConfig } from './helpers';

interface PredictJson {
  predictions: Array<{ label: string; probabilities: Record<string, number> }>;
  source: string;
  model: { id: string; arch: string; classes: number };
}

describe('embedded tfjs predictor', () => {
  let dir: string;
  let model: Awaited<ReturnType<typeof makeModel>>;
  let server: RunningServer;
  const jpegs = [...intelJpegs('forest', 2), ...intelJpegs('street', 2)];

  beforeAll(async () => {
    dir = tempDir('predict');
    model = await makeModel(dir);
    server = await startServer(testConfig(dir, { SCENELAB_MODEL: model.runDir }), { logger: false });
    await server.modelLoaded;
  });
  afterAll(async () => {
    await server.close();
    await cleanup(dir);
  });

  it('answers what the model core answers for the same images', async () => {
    const r = await postJson(`${server.url}/api/predict`, { instances: jpegs.map((j) => ({ data: { b64: b64(j) } })) });
    expect(r.status, JSON.stringify(r.json)).toBe(200);
    const json = r.json as unknown as PredictJson;
    expect(json.source).toBe('local');
    expect(json.model).toEqual({ id: model.runDir, arch: 'squeezenet1_1', classes: 6 });
    expect(json.predictions).toHaveLength(4);

    const reference = importModelFiles(await readModelFiles(model.runDir));
    try {
      const expected = await classify(reference, await Promise.all(jpegs.map((j, i) => decodeImage(j, `img${i}`))));
      json.predictions.forEach((p, i) => {
        expect(Object.keys(p.probabilities)).toEqual(CLASSES);
        expect(p.label).toBe(expected[i]!.label);
        for (const c of CLASSES) expect(p.probabilities[c]).toBeCloseTo(expected[i]!.probabilities[c]!, 5);
        expect(Object.values(p.probabilities).reduce((a, x) => a + x, 0)).toBeCloseTo(1, 4);
      });
    } finally {
      reference.dispose();
    }
  });

  it('micro-batches concurrent requests and gives each its own answer', async () => {
    const single = await Promise.all(jpegs.map((j) => postJson(`${server.url}/api/predict`, { instances: [{ data: { b64: b64(j) } }] })));
    const repeated = await Promise.all(Array.from({ length: 12 }, (_, k) => postJson(`${server.url}/api/predict`, { instances: [{ data: { b64: b64(jpegs[k % 4]!) } }] })));
    repeated.forEach((r, k) => {
      expect(r.status).toBe(200);
      const got = (r.json as unknown as PredictJson).predictions[0]!;
      const want = (single[k % 4]!.json as unknown as PredictJson).predictions[0]!;
      expect(got.label).toBe(want.label);
      expect(got.probabilities.forest).toBeCloseTo(want.probabilities.forest!, 5);
    });
  });

  it('shrinks large photos before tfjs, and refuses decompression bombs before decoding', async () => {
    const big = await solidPng(2400, 1600);
    const ok = await postJson(`${server.url}/api/predict`, { instances: [{ data: { b64: b64(big) } }] });
    expect(ok.status).toBe(200);
    const bomb = pngDeclaring(30000, 30000);
    expect(bomb.length).toBeLessThan(2000);
    const r = await postJson(`${server.url}/api/predict`, { instances: [{ data: { b64: b64(bomb) } }] });
    expect(r.status).toBe(413);
    expect(r.json.message).toMatch(/30000x30000 \(900\.0 MP\); the limit is 16\.8 MP/);
  });

  it('runs the model in a worker thread and leaks no tensors across requests', async () => {
    const runner = (server.predictor as LocalPredictor).runner;
    expect(runner.home).toBe('worker');
    const body = { instances: [{ data: { b64: b64(jpegs[0]!) } }, { data: { b64: b64(jpegs[1]!) } }] };
    await postJson(`${server.url}/api/predict`, body);
    const before = await runner.numTensors();
    for (let i = 0; i < 5; i++) expect((await postJson(`${server.url}/api/predict`, body)).status).toBe(200);
    expect(await runner.numTensors()).toBe(before);
  });

  it('restarts a dead worker with the same model and keeps answering', async () => {
    const runner = (server.predictor as LocalPredictor).runner as WorkerRunner;
    const body = { instances: [{ data: { b64: b64(jpegs[2]!) } }] };
    const before = (await postJson(`${server.url}/api/predict`, body)).json as unknown as PredictJson;
    await runner.kill();
    const after = await postJson(`${server.url}/api/predict`, body);
    expect(after.status).toBe(200);
    expect((after.json as unknown as PredictJson).predictions[0]!.probabilities.forest).toBeCloseTo(before.predictions[0]!.probabilities.forest!, 5);
  });
});

describe('embedded predictor with no model configured', () => {
  let dir: string;
  let server: RunningServer;

  beforeAll(async () => {
    dir = tempDir('predict-upload');
    server = await startServer(testConfig(dir), { logger: false });
    await server.modelLoaded;
  });
  afterAll(async () => {
    await server.close();
    await cleanup(dir);
  });

  const uploadBundle = async (object: string, bytes: Uint8Array): Promise<void> => {
    const s = await postJson(`${server.url}/api/storage/signed-url`, { op: 'write', object, contentType: 'application/zip', size: bytes.length });
    expect(s.status, JSON.stringify(s.json)).toBe(200);
    const w = s.json as unknown as SignedUrl;
    expect((await fetch(w.url, { method: 'PUT', headers: w.headers, body: bytes })).status).toBe(201);
  };
  const activeModel = async (): Promise<string | undefined> => {
    const h = (await (await fetch(`${server.url}/healthz`)).json()) as { prediction: { model: { id: string } | null } };
    return h.prediction.model?.id;
  };
  const waitFor = async (id: string): Promise<void> => {
    const deadline = Date.now() + 20_000;
    while ((await activeModel()) !== id && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
    expect(await activeModel()).toBe(id);
  };

  it('answers 503 until a bundle is uploaded under models/, then serves the newest one', async () => {
    const jpeg = intelJpegs('sea', 1)[0]!;
    const before = await postJson(`${server.url}/api/predict`, { instances: [{ data: { b64: b64(jpeg) } }] });
    expect(before.status).toBe(503);
    expect(before.json.message).toMatch(/no model is loaded: upload a model bundle/);

    const one = await makeModel(dir, 1);
    await uploadBundle('models/first.zip', one.bundleBytes);
    await waitFor('models/first.zip');
    const r1 = await postJson(`${server.url}/api/predict`, { instances: [{ data: { b64: b64(jpeg) } }] });
    expect(r1.status).toBe(200);
    expect((r1.json as unknown as PredictJson).model.id).toBe('models/first.zip');
    const runner = (server.predictor as LocalPredictor).runner;
    const tensorsWithOne = await runner.numTensors();

    const two = await makeModel(dir, 2);
    await uploadBundle('models/second.zip', two.bundleBytes);
    await waitFor('models/second.zip');
    const r2 = await postJson(`${server.url}/api/predict`, { instances: [{ data: { b64: b64(jpeg) } }] });
    expect((r2.json as unknown as PredictJson).model.id).toBe('models/second.zip');
    // The first model was disposed when the second replaced it.
    expect(await runner.numTensors()).toBe(tensorsWithOne);
  });
});

describe('the runner interface in both homes', () => {
  it('gives the same answers in this thread and in a worker, without leaking tensors', async () => {
    const dir = tempDir('runners');
    try {
      const { runDir } = await makeModel(dir, 3);
      const files = await readModelFiles(runDir);
      const images = await Promise.all(intelJpegs('sea', 3).map((j, i) => decodeImage(j, `sea${i}`)));
      const inProcess = new InProcessRunner();
      const worker = new WorkerRunner();
      try {
        const [a, b] = await Promise.all([inProcess.load(files, 'm', 2), worker.load(files, 'm', 2)]);
        expect(a).toEqual({ id: 'm', arch: 'squeezenet1_1', classes: 6 });
        expect(b).toEqual(a);
        const before = await inProcess.numTensors();
        const [x, y] = await Promise.all([inProcess.classify(images), worker.classify(images)]);
        expect(await inProcess.numTensors()).toBe(before);
        expect(y.predictions.map((p) => p.label)).toEqual(x.predictions.map((p) => p.label));
        y.predictions.forEach((p, i) => expect(p.probabilities.sea).toBeCloseTo(x.predictions[i]!.probabilities.sea!, 6));
        await expect(worker.load(new Map([['model.json', new TextEncoder().encode('{}')]]), 'broken', 1)).rejects.toThrow(/broken: model.json is not a SceneLab classifier/);
        // The broken model did not replace the working one.
        expect((await worker.classify(images.slice(0, 1))).ref.id).toBe('m');
      } finally {
        await inProcess.close();
        await worker.close();
      }
    } finally {
      await cleanup(dir);
    }
  });
});
