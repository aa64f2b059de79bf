import { status } from '@grpc/grpc-js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startServer, type RunningServer } from '../../server/app';
import { VertexEmulator } from '../emulators/vertex-emulator';
import { cleanup, intelJpegs, tempDir, testConfig } from '../../server/test/helpers';
import { StubPredictor } from '../../server/test/stub-predictor';
import { classifyWithFallback, CloudPredictClient, CloudPredictError, NoAnswerError, toBase64, type Connectivity, type DeviceAnswer } from '../../web/src/api/cloud-predict-client';

const IMAGE = new Uint8Array([0xff, 0xd8, 0xff, 0xe0, 1, 2, 3]);
const OK_ONE = { predictions: [{ label: 'sea', probabilities: { sea: 0.8, forest: 0.2 } }], source: 'vertex', model: { id: 'projects/p/locations/r/endpoints/1', deployedModelId: '9' } };

/** A scripted fetch: each call takes the next answer (the last repeats); records what was sent. */
function scriptedFetch(answers: Array<(init: RequestInit) => Promise<Response>>) {
  const calls: Array<{ url: string; init: RequestInit }> = [];
  const fn = (async (input: string | URL | Request, init?: RequestInit) => {
    calls.push({ url: String(input), init: init ?? {} });
    return answers[Math.min(calls.length - 1, answers.length - 1)]!(init ?? {});
  }) as typeof fetch;
  return { fn, calls };
}
const json =
  (body: unknown, code = 200, headers: Record<string, string> = {}) =>
  async (): Promise<Response> =>
    new Response(JSON.stringify(body), { status: code, headers: { 'content-type': 'application/json', ...headers } });
const hang = (init: RequestInit): Promise<Response> =>
  new Promise((_, reject) => init.signal?.addEventListener('abort', () => reject(new DOMException('aborted', 'AbortError'))));
const networkDown = async (): Promise<Response> => {
  throw new TypeError('fetch failed');
};

/** Connectivity the test switches. */
function switchable(online: boolean): Connectivity & { set(v: boolean): void } {
  const listeners = new Set<() => void>();
  return {
    isOnline: () => online,
    onOnline: (l) => {
      listeners.add(l);
      return () => listeners.delete(l);
    },
    set(v) {
      online = v;
      if (v) for (const l of [...listeners]) l();
    },
  };
}

async function rejection(p: Promise<unknown>): Promise<CloudPredictError> {
  try {
    await p;
  } catch (e) {
    if (e instanceof CloudPredictError) return e;
    throw e;
  }
  throw new Error('expected a rejection');
}

const fast = { retryDelayMs: 5, maxRetryDelayMs: 20 };

describe('CloudPredictClient', () => {
  it('sends the TorchServe/Vertex body with the token and returns a typed result naming the source', async () => {
    const f = scriptedFetch([json(OK_ONE)]);
    const client = new CloudPredictClient({ baseUrl: 'https://scenelab.example', token: () => 'tok', fetch: f.fn, connectivity: switchable(true) });
    const r = await client.predict([new Blob([IMAGE])]);
    expect(f.calls).toHaveLength(1);
    expect(f.calls[0]!.url).toBe('https://scenelab.example/api/predict');
    expect(f.calls[0]!.init.method).toBe('POST');
    expect(f.calls[0]!.init.headers).toEqual({ 'content-type': 'application/json', authorization: 'Bearer tok' });
    expect(JSON.parse(String(f.calls[0]!.init.body))).toEqual({ instances: [{ data: { b64: Buffer.from(IMAGE).toString('base64') } }] });
    expect(r).toEqual({
      predictions: [{ label: 'sea', probabilities: { sea: 0.8, forest: 0.2 }, confidence: 0.8 }],
      source: 'vertex',
      model: { id: 'projects/p/locations/r/endpoints/1', deployedModelId: '9' },
    });
  });

  it('encodes large images in base64 exactly', () => {
    const big = new Uint8Array(200_000).map((_, i) => (i * 31) % 256);
    expect(toBase64(big)).toBe(Buffer.from(big).toString('base64'));
  });

  it('times out each attempt and retries transient failures before giving up', async () => {
    const f = scriptedFetch([hang]);
    const client = new CloudPredictClient({ fetch: f.fn, connectivity: switchable(true), timeoutMs: 30, maxAttempts: 3, ...fast });
    const e = await rejection(client.predict([IMAGE]));
    expect(e.code).toBe('timeout');
    expect(e.message).toMatch(/did not answer within 0.03 s/);
    expect(f.calls).toHaveLength(3);
  });

  it('retries 503 (honouring Retry-After) and succeeds', async () => {
    const f = scriptedFetch([json({ code: 'vertex_unavailable', message: 'down' }, 503, { 'retry-after': '0' }), json(OK_ONE)]);
    const client = new CloudPredictClient({ fetch: f.fn, connectivity: switchable(true), ...fast });
    expect((await client.predict([IMAGE])).source).toBe('vertex');
    expect(f.calls).toHaveLength(2);
  });

  it('does not retry a 4xx, and passes the server’s code and message on', async () => {
    const f = scriptedFetch([json({ statusCode: 415, code: 'not_an_image', message: 'instances[0] is not an image' }, 415)]);
    const client = new CloudPredictClient({ fetch: f.fn, connectivity: switchable(true), ...fast });
    const e = await rejection(client.predict([IMAGE]));
    expect(e).toMatchObject({ code: 'not_an_image', status: 415, retryable: false, message: 'instances[0] is not an image' });
    expect(f.calls).toHaveLength(1);
  });

  it('queues while offline and sends when the device comes back online', async () => {
    const net = switchable(false);
    const f = scriptedFetch([json(OK_ONE)]);
    const seen: number[] = [];
    const client = new CloudPredictClient({ fetch: f.fn, connectivity: net, onQueueChange: (n) => seen.push(n), ...fast, maxRetryDelayMs: 60_000 });
    const pending = client.predict([IMAGE]);
    await new Promise((r) => setTimeout(r, 30));
    expect(f.calls).toHaveLength(0);
    expect(client.queuedCount).toBe(1);
    net.set(true);
    expect((await pending).predictions[0]!.label).toBe('sea');
    expect(f.calls).toHaveLength(1);
    expect(seen).toEqual([1, 0]);
  });

  it('treats an unreachable server as offline: queues and retries until it answers', async () => {
    const f = scriptedFetch([networkDown, networkDown, json(OK_ONE)]);
    const client = new CloudPredictClient({ fetch: f.fn, connectivity: switchable(true), ...fast });
    expect((await client.predict([IMAGE])).source).toBe('vertex');
    expect(f.calls).toHaveLength(3);
  });

  it('bounds the queue, refuses oversize bodies, rejects malformed answers and honours abort', async () => {
    const net = switchable(false);
    const client = new CloudPredictClient({ fetch: scriptedFetch([json({ nope: 1 })]).fn, connectivity: net, maxQueued: 1, maxBodyBytes: 1000, ...fast, maxRetryDelayMs: 60_000 });
    const controller = new AbortController();
    const first = client.predict([IMAGE], { signal: controller.signal });
    await new Promise((r) => setTimeout(r, 10));
    expect((await rejection(client.predict([IMAGE]))).code).toBe('queue_full');
    controller.abort();
    expect((await rejection(first)).code).toBe('aborted');
    expect(client.queuedCount).toBe(0);
    expect((await rejection(client.predict([new Uint8Array(2000)]))).code).toBe('too_large');
    net.set(true);
    const bad = await rejection(client.predict([IMAGE]));
    expect(bad.code).toBe('bad_response');
    expect(bad.message).toMatch(/malformed/);
  });
});

describe('classifyWithFallback', () => {
  const confident: DeviceAnswer = { label: 'forest', probabilities: { forest: 0.95, sea: 0.05 } };
  const unsure: DeviceAnswer = { label: 'forest', probabilities: { forest: 0.4, sea: 0.35, glacier: 0.25 } };

  it('auto: keeps a confident device answer and does not call the server', async () => {
    const f = scriptedFetch([json(OK_ONE)]);
    const client = new CloudPredictClient({ fetch: f.fn, connectivity: switchable(true) });
    const r = await classifyWithFallback(IMAGE, { mode: 'auto', threshold: 0.6, client, onDevice: async () => confident });
    expect(r).toMatchObject({ label: 'forest', source: 'device', confidence: 0.95 });
    expect(f.calls).toHaveLength(0);
  });

  it('auto: asks the server below the threshold or without a device model, and says who answered', async () => {
    const f = scriptedFetch([json(OK_ONE)]);
    const client = new CloudPredictClient({ fetch: f.fn, connectivity: switchable(true) });
    const low = await classifyWithFallback(IMAGE, { mode: 'auto', threshold: 0.6, client, onDevice: async () => unsure });
    expect(low).toMatchObject({ label: 'sea', source: 'vertex', confidence: 0.8, device: unsure });
    const none = await classifyWithFallback(IMAGE, { mode: 'auto', threshold: 0.6, client, onDevice: async () => null });
    expect(none).toMatchObject({ label: 'sea', source: 'vertex' });
    expect(none.device).toBeUndefined();
  });

  it('shows the device answer at once when the cloud fails, with the cloud’s error', async () => {
    const f = scriptedFetch([json({ code: 'vertex_timeout', message: 'Vertex AI endpoint did not answer within 10000 ms' }, 504)]);
    const client = new CloudPredictClient({ fetch: f.fn, connectivity: switchable(true), ...fast });
    const r = await classifyWithFallback(IMAGE, { mode: 'cloud', threshold: 0.6, client, onDevice: async () => unsure });
    expect(r).toMatchObject({ label: 'forest', source: 'device' });
    expect(r.cloudError).toMatchObject({ code: 'vertex_timeout', status: 504 });
    // No retries while a device answer is waiting.
    expect(f.calls).toHaveLength(1);
  });

  it('offline with a device answer: answers now, and the queued cloud answer follows', async () => {
    const net = switchable(false);
    const f = scriptedFetch([json(OK_ONE)]);
    const client = new CloudPredictClient({ fetch: f.fn, connectivity: net, ...fast, maxRetryDelayMs: 60_000 });
    const r = await classifyWithFallback(IMAGE, { mode: 'auto', threshold: 0.6, client, onDevice: async () => unsure });
    expect(r).toMatchObject({ source: 'device', cloudError: { code: 'offline' } });
    expect(r.later).toBeInstanceOf(Promise);
    net.set(true);
    expect(await r.later).toMatchObject({ label: 'sea', source: 'vertex' });
  });

  it('fails clearly when neither the device nor the server can answer', async () => {
    const client = new CloudPredictClient({ fetch: scriptedFetch([json({ code: 'no_model', message: 'no model is loaded' }, 400)]).fn, connectivity: switchable(true) });
    await expect(classifyWithFallback(IMAGE, { mode: 'device', threshold: 0.5, client, onDevice: async () => null })).rejects.toThrow(/no model on this device/);
    const e = await classifyWithFallback(IMAGE, { mode: 'auto', threshold: 0.5, client, onDevice: async () => null }).catch((x: unknown) => x);
    expect(e).toBeInstanceOf(NoAnswerError);
    expect((e as NoAnswerError).cloudError?.code).toBe('no_model');
  });
});

describe('the client against a real server', () => {
  let dir: string;
  let vertex: VertexEmulator;
  let local: RunningServer;
  let cloud: RunningServer;
  const jpeg = intelJpegs('sea', 1)[0]!;

  beforeAll(async () => {
    dir = tempDir('client');
    vertex = await VertexEmulator.start();
    local = await startServer(testConfig(dir, { SCENELAB_TOKEN: 'client-token' }), { logger: false, predictor: new StubPredictor() });
    cloud = await startServer(
      testConfig(dir, {
        SCENELAB_VERTEX_PROJECT: 'scenelab-test',
        SCENELAB_VERTEX_REGION: 'us-central1',
        SCENELAB_VERTEX_ENDPOINT_ID: '1',
        SCENELAB_VERTEX_API_ENDPOINT: vertex.address,
        SCENELAB_VERTEX_TIMEOUT_MS: '300',
      }),
      { logger: false },
    );
  });
  afterAll(async () => {
    await Promise.all([local.close(), cloud.close(), vertex.stop()]);
    await cleanup(dir);
  });

  it('gets the local predictor’s answer through the token-protected API', async () => {
    const client = new CloudPredictClient({ baseUrl: local.url, token: 'client-token', connectivity: switchable(true) });
    const r = await client.predict([jpeg]);
    expect(r).toMatchObject({ source: 'local', predictions: [{ label: 'forest', confidence: 1 }] });
    const anonymous = new CloudPredictClient({ baseUrl: local.url, connectivity: switchable(true) });
    expect((await rejection(anonymous.predict([jpeg]))).status).toBe(401);
  });

  it('falls back to the device answer when Vertex times out, is unavailable or fails', async () => {
    const client = new CloudPredictClient({ baseUrl: cloud.url, connectivity: switchable(true), ...fast });
    const device = async (): Promise<DeviceAnswer> => ({ label: 'glacier', probabilities: { glacier: 0.5, sea: 0.5 } });
    const faults = [
      [() => ({ delayMs: 2000, then: { predictions: ['sea'] } }), 'vertex_timeout'],
      [() => ({ error: { code: status.UNAVAILABLE, details: 'upstream connect error' } }), 'vertex_unavailable'],
      [() => ({ error: { code: status.INTERNAL, details: 'model server 500' } }), 'vertex_error'],
    ] as const;
    for (const [behaviour, code] of faults) {
      vertex.predict = behaviour;
      const r = await classifyWithFallback(jpeg, { mode: 'auto', threshold: 0.9, client, onDevice: device });
      expect(r.source).toBe('device');
      expect(r.label).toBe('glacier');
      expect(r.cloudError?.code).toBe(code);
      expect(r.cloudError?.message.length).toBeGreaterThan(10);
    }
    vertex.predict = () => ({ predictions: ['sea'] });
    const healthy = await classifyWithFallback(jpeg, { mode: 'auto', threshold: 0.9, client, onDevice: device });
    expect(healthy).toMatchObject({ source: 'vertex', label: 'sea', confidence: null });
  });
});

describe('classifyWithFallback in cloud mode', () => {
  it('asks the device only when the cloud fails, and waits for the cloud when the device has no model', async () => {
    let deviceCalls = 0;
    const onDevice = async (): Promise<DeviceAnswer | null> => {
      deviceCalls++;
      return { label: 'street', probabilities: { street: 0.7, buildings: 0.3 } };
    };
    const ok = scriptedFetch([json(OK_ONE)]);
    const r = await classifyWithFallback(IMAGE, { mode: 'cloud', threshold: 0.5, client: new CloudPredictClient({ fetch: ok.fn, connectivity: switchable(true) }), onDevice });
    expect(r.source).toBe('vertex');
    expect(deviceCalls).toBe(0);

    // No device model: a transient failure is retried until the cloud answers.
    const flaky = scriptedFetch([json({ code: 'vertex_unavailable', message: 'down' }, 503), json({ code: 'vertex_unavailable', message: 'down' }, 503), json(OK_ONE)]);
    const waited = await classifyWithFallback(IMAGE, { mode: 'cloud', threshold: 0.5, client: new CloudPredictClient({ fetch: flaky.fn, connectivity: switchable(true), ...fast }), onDevice: async () => null });
    expect(waited).toMatchObject({ source: 'vertex', label: 'sea' });
    expect(flaky.calls.length).toBeGreaterThanOrEqual(3);
  });
});
