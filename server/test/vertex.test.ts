import { status } from '@grpc/grpc-js';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { startServer, type RunningServer } from '../app';
import { VertexEmulator } from '../../test/emulators/vertex-emulator';
import { fromProtoValue, toProtoValue, type Json } from '../predict/proto-value';
import { normalizePrediction } from '../predict/vertex';
import { b64, CLASSES, cleanup, intelJpegs, postJson, tempDir, testConfig } from './helpers';

const ENDPOINT = 'projects/scenelab-test/locations/europe-west4/endpoints/4242';

describe('Vertex AI prediction broker against a gRPC PredictionService emulator', () => {
  let dir: string;
  let emulator: VertexEmulator;
  let server: RunningServer;
  const [a, b] = intelJpegs('sea', 2) as [Uint8Array, Uint8Array];
  const body = { instances: [{ data: { b64: b64(a) } }, { data: { b64: b64(b) } }] };

  beforeAll(async () => {
    dir = tempDir('vertex');
    emulator = await VertexEmulator.start();
    server = await startServer(
      testConfig(dir, {
        SCENELAB_VERTEX_PROJECT: 'scenelab-test',
        SCENELAB_VERTEX_REGION: 'europe-west4',
        SCENELAB_VERTEX_ENDPOINT_ID: '4242',
        SCENELAB_VERTEX_API_ENDPOINT: emulator.address,
        SCENELAB_VERTEX_TIMEOUT_MS: '1000',
        SCENELAB_VERTEX_LABELS: CLASSES.join(','),
      }),
      { logger: false },
    );
  });
  afterAll(async () => {
    await server.close();
    await emulator.stop();
    await cleanup(dir);
  });
  beforeEach(() => {
    emulator.calls.length = 0;
  });

  it('sends exactly the TorchServe/Vertex instances to the configured endpoint, with a deadline', async () => {
    const r = await postJson(`${server.url}/api/predict`, { ...body, parameters: { confidenceThreshold: 0.5 } });
    expect(r.status, JSON.stringify(r.json)).toBe(200);
    expect(emulator.calls).toHaveLength(1);
    const call = emulator.calls[0]!;
    expect(call.method).toBe('Predict');
    // The whole request: endpoint from the configuration, instances byte-for-byte, no client parameters.
    expect(call.request).toEqual({ endpoint: ENDPOINT, instances: body.instances });
    expect(call.metadata['x-goog-request-params']).toBe(`endpoint=${encodeURIComponent(ENDPOINT)}`);
    expect(call.metadata['x-goog-api-client']).toMatch(/gax\//);
    expect(call.deadlineMs).toBeGreaterThan(0);
    expect(call.deadlineMs).toBeLessThanOrEqual(1000);
    expect(r.json).toEqual({
      predictions: [
        { label: 'forest', probabilities: { forest: 0.9, sea: 0.1 } },
        { label: 'forest', probabilities: { forest: 0.9, sea: 0.1 } },
      ],
      source: 'vertex',
      model: { id: ENDPOINT, deployedModelId: '1234' },
    });
    expect(server.metrics.predictions.get({ source: 'vertex' })).toBeGreaterThanOrEqual(2);
  });

  it('understands a TorchServe SqueezeNet handler that returns a class per instance', async () => {
    emulator.predict = () => ({ predictions: ['sea', 'glacier'] });
    let r = await postJson(`${server.url}/api/predict`, body);
    expect(r.json.predictions).toEqual([
      { label: 'sea', probabilities: {} },
      { label: 'glacier', probabilities: {} },
    ]);
    // Class indices, named through SCENELAB_VERTEX_LABELS, and {"class": …} wrappers.
    emulator.predict = () => ({ predictions: [3, { class: 1 }] });
    r = await postJson(`${server.url}/api/predict`, body);
    expect(r.json.predictions).toEqual([
      { label: 'mountain', probabilities: {} },
      { label: 'forest', probabilities: {} },
    ]);
    // TorchServe's image_classifier: a top-k dict per instance.
    emulator.predict = () => ({ predictions: [{ sea: 0.7, glacier: 0.2 }, [{ street: 0.6, buildings: 0.4 }]] });
    r = await postJson(`${server.url}/api/predict`, body);
    expect(r.json.predictions).toEqual([
      { label: 'sea', probabilities: { sea: 0.7, glacier: 0.2 } },
      { label: 'street', probabilities: { street: 0.6, buildings: 0.4 } },
    ]);
    expect(r.json.source).toBe('vertex');
  });

  it.each([
    ['a timeout', () => ({ delayMs: 3000, then: { predictions: [1, 2] } }), 504, 'vertex_timeout', /did not answer within 1000 ms/],
    ['UNAVAILABLE', () => ({ error: { code: status.UNAVAILABLE, details: 'no healthy upstream' } }), 503, 'vertex_unavailable', /unavailable \(no healthy upstream\)/],
    ['INTERNAL (a 5xx of the model server)', () => ({ error: { code: status.INTERNAL, details: 'model server returned 500' } }), 502, 'vertex_error', /model server returned 500/],
    ['NOT_FOUND', () => ({ error: { code: status.NOT_FOUND, details: 'Endpoint not found' } }), 502, 'vertex_not_found', /SCENELAB_VERTEX_PROJECT/],
    ['FAILED_PRECONDITION', () => ({ error: { code: status.FAILED_PRECONDITION, details: 'no deployed model' } }), 503, 'vertex_not_ready', /is a model deployed/],
    ['PERMISSION_DENIED', () => ({ error: { code: status.PERMISSION_DENIED, details: 'denied' } }), 502, 'vertex_auth', /roles\/aiplatform.user/],
    ['RESOURCE_EXHAUSTED', () => ({ error: { code: status.RESOURCE_EXHAUSTED, details: 'quota' } }), 429, 'vertex_quota', /quota/],
    ['a wrong prediction count', () => ({ predictions: ['sea'] }), 502, 'vertex_bad_response', /1 predictions for 2 instances/],
    ['an unreadable prediction', () => ({ predictions: [true, false] }), 502, 'vertex_bad_response', /shape this server does not understand/],
  ] as const)('maps %s to a clear HTTP error', async (_name, behaviour, httpStatus, code, message) => {
    emulator.predict = behaviour;
    const started = Date.now();
    const r = await postJson(`${server.url}/api/predict`, body);
    expect(r.status).toBe(httpStatus);
    expect(r.json.code).toBe(code);
    expect(r.json.message).toMatch(message);
    expect(Date.now() - started).toBeLessThan(2500);
    expect(server.metrics.predictionErrors.get({ source: 'vertex', code })).toBeGreaterThan(0);
  });

  it('checks images before forwarding them', async () => {
    const r = await postJson(`${server.url}/api/predict`, { instances: [{ data: { b64: b64(new TextEncoder().encode('not an image at all')) } }] });
    expect(r.status).toBe(415);
    expect(emulator.calls).toHaveLength(0);
  });

  it('answers 503 when the endpoint cannot be reached', async () => {
    const down = await VertexEmulator.start();
    const address = down.address;
    await down.stop();
    const dir2 = tempDir('vertex-down');
    const s = await startServer(
      testConfig(dir2, { SCENELAB_VERTEX_PROJECT: 'p-12345', SCENELAB_VERTEX_REGION: 'us-central1', SCENELAB_VERTEX_ENDPOINT_ID: '1', SCENELAB_VERTEX_API_ENDPOINT: address }),
      { logger: false },
    );
    try {
      const r = await postJson(`${s.url}/api/predict`, body);
      expect(r.status).toBe(503);
      expect(r.json.code).toBe('vertex_unavailable');
    } finally {
      await s.close();
      await cleanup(dir2);
    }
  });
});

describe('google.protobuf.Value and prediction shapes', () => {
  it('round-trips JSON through Value', () => {
    const v: Json = { a: [1, 'two', true, null, { b: [] }], c: 'x' };
    expect(fromProtoValue(toProtoValue(v))).toEqual(v);
  });

  it('normalises the prediction shapes of known serving stacks', () => {
    expect(normalizePrediction({ label: 'sea', probabilities: { sea: 0.8, forest: 0.2 } }, undefined)).toEqual({ label: 'sea', probabilities: { sea: 0.8, forest: 0.2 } });
    expect(normalizePrediction([0.1, 0.7, 0.2], ['a', 'b', 'c'])).toEqual({ label: 'b', probabilities: { a: 0.1, b: 0.7, c: 0.2 } });
    expect(normalizePrediction({ predicted_class: 'street' }, undefined)).toEqual({ label: 'street', probabilities: {} });
    expect(normalizePrediction(5, undefined)).toEqual({ label: '5', probabilities: {} });
    expect(normalizePrediction(null, undefined)).toBeNull();
    expect(normalizePrediction({ nested: { deep: 1 } }, undefined)).toBeNull();
  });
});
