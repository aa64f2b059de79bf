import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startServer, type RunningServer } from '../app';
import { b64, cleanup, intelJpegs, makeModel, pngDeclaring, tempDir, testConfig } from './helpers';
import { StubPredictor } from './stub-predictor';

const TOKEN = 'test-token-0123456789';
const AUTH = { authorization: `Bearer ${TOKEN}` };
const JSON_AUTH = { ...AUTH, 'content-type': 'application/json' };

interface BadInput {
  name: string;
  method: 'GET' | 'POST' | 'PUT';
  path: string;
  headers?: Record<string, string>;
  body?: string | Uint8Array;
  status: number;
  message: RegExp;
}

const jpeg = intelJpegs('mountain', 1)[0]!;
const predict = (instances: unknown, extra: Record<string, unknown> = {}): string => JSON.stringify({ instances, ...extra });
const sign = (body: Record<string, unknown>): string => JSON.stringify(body);

const CASES: BadInput[] = [
  // Authentication and origin
  { name: 'no bearer token', method: 'POST', path: '/api/predict', headers: { 'content-type': 'application/json' }, body: predict([]), status: 401, message: /requires Authorization: Bearer/ },
  { name: 'wrong bearer token', method: 'POST', path: '/api/storage/signed-url', headers: { authorization: 'Bearer nope', 'content-type': 'application/json' }, body: sign({}), status: 401, message: /not valid/ },
  { name: 'Basic instead of Bearer', method: 'GET', path: '/api/storage/list?prefix=datasets/', headers: { authorization: `Basic ${btoa('a:b')}` }, status: 401, message: /Bearer/ },
  { name: 'origin not on the allow-list', method: 'GET', path: '/api/storage/list?prefix=datasets/', headers: { ...AUTH, origin: 'https://evil.example' }, status: 403, message: /origin https:\/\/evil.example is not allowed/ },
  // Body parsing
  { name: 'text/plain body', method: 'POST', path: '/api/storage/signed-url', headers: { ...AUTH, 'content-type': 'text/plain' }, body: 'op=read', status: 415, message: /application\/json/ },
  { name: 'malformed JSON', method: 'POST', path: '/api/storage/signed-url', headers: JSON_AUTH, body: '{"op": "read",', status: 400, message: /not valid JSON/ },
  { name: 'empty JSON body', method: 'POST', path: '/api/predict', headers: JSON_AUTH, body: '', status: 400, message: /empty/ },
  { name: 'JSON array instead of object', method: 'POST', path: '/api/storage/signed-url', headers: JSON_AUTH, body: '[]', status: 400, message: /must be of type object/ },
  // Signed URLs
  { name: 'missing op', method: 'POST', path: '/api/storage/signed-url', headers: JSON_AUTH, body: sign({ object: 'datasets/a.jpg' }), status: 400, message: /missing the required field "op"/ },
  { name: 'unknown op', method: 'POST', path: '/api/storage/signed-url', headers: JSON_AUTH, body: sign({ op: 'delete', object: 'datasets/a.jpg' }), status: 400, message: /must be one of: read, write/ },
  { name: 'client-chosen bucket', method: 'POST', path: '/api/storage/signed-url', headers: JSON_AUTH, body: sign({ op: 'read', object: 'datasets/a.jpg', bucket: 'other' }), status: 400, message: /unknown field "bucket"/ },
  { name: 'client-chosen host', method: 'POST', path: '/api/storage/signed-url', headers: JSON_AUTH, body: sign({ op: 'read', object: 'datasets/a.jpg', host: 'http://169.254.169.254' }), status: 400, message: /unknown field "host"/ },
  { name: 'path traversal', method: 'POST', path: '/api/storage/signed-url', headers: JSON_AUTH, body: sign({ op: 'read', object: 'datasets/../../etc/passwd' }), status: 400, message: /"\.\." segment/ },
  { name: 'absolute path', method: 'POST', path: '/api/storage/signed-url', headers: JSON_AUTH, body: sign({ op: 'read', object: '/etc/passwd' }), status: 400, message: /relative/ },
  { name: 'NUL in name', method: 'POST', path: '/api/storage/signed-url', headers: JSON_AUTH, body: sign({ op: 'read', object: 'datasets/a\u0000.jpg' }), status: 400, message: /control characters/ },
  { name: 'CR/LF in name', method: 'POST', path: '/api/storage/signed-url', headers: JSON_AUTH, body: sign({ op: 'write', object: 'datasets/a\r\nX-Evil: 1.jpg', contentType: 'image/jpeg', size: 10 }), status: 400, message: /control characters/ },
  { name: 'over-long name', method: 'POST', path: '/api/storage/signed-url', headers: JSON_AUTH, body: sign({ op: 'read', object: `datasets/${'x'.repeat(2000)}` }), status: 400, message: /longer than 1024 bytes/ },
  { name: 'write outside the allowed prefixes', method: 'POST', path: '/api/storage/signed-url', headers: JSON_AUTH, body: sign({ op: 'write', object: 'seg_train/a.jpg', contentType: 'image/jpeg', size: 10 }), status: 403, message: /only be written under datasets\/, models\/, runs\// },
  { name: 'write without contentType', method: 'POST', path: '/api/storage/signed-url', headers: JSON_AUTH, body: sign({ op: 'write', object: 'datasets/a.jpg', size: 10 }), status: 400, message: /contentType is required/ },
  { name: 'write without size', method: 'POST', path: '/api/storage/signed-url', headers: JSON_AUTH, body: sign({ op: 'write', object: 'datasets/a.jpg', contentType: 'image/jpeg' }), status: 400, message: /size is required/ },
  { name: 'size as a string', method: 'POST', path: '/api/storage/signed-url', headers: JSON_AUTH, body: sign({ op: 'write', object: 'datasets/a.jpg', contentType: 'image/jpeg', size: '10' }), status: 400, message: /size must be of type integer/ },
  { name: 'negative size', method: 'POST', path: '/api/storage/signed-url', headers: JSON_AUTH, body: sign({ op: 'write', object: 'datasets/a.jpg', contentType: 'image/jpeg', size: -5 }), status: 400, message: /size must be >= 1/ },
  { name: 'HTML upload', method: 'POST', path: '/api/storage/signed-url', headers: JSON_AUTH, body: sign({ op: 'write', object: 'models/x.html', contentType: 'text/html', size: 10 }), status: 415, message: /only images .*, model artifacts .* and label files/ },
  { name: 'extension does not match type', method: 'POST', path: '/api/storage/signed-url', headers: JSON_AUTH, body: sign({ op: 'write', object: 'datasets/a.exe', contentType: 'image/png', size: 10 }), status: 400, message: /needs a name ending in \.png/ },
  { name: 'image over the size limit', method: 'POST', path: '/api/storage/signed-url', headers: JSON_AUTH, body: sign({ op: 'write', object: 'datasets/a.jpg', contentType: 'image/jpeg', size: 50 * 1024 * 1024 }), status: 413, message: /exceeds the image limit/ },
  { name: 'contentType on a read', method: 'POST', path: '/api/storage/signed-url', headers: JSON_AUTH, body: sign({ op: 'read', object: 'datasets/a.jpg', contentType: 'image/jpeg' }), status: 400, message: /apply to op "write" only/ },
  { name: 'read of a missing object', method: 'POST', path: '/api/storage/signed-url', headers: JSON_AUTH, body: sign({ op: 'read', object: 'datasets/missing.jpg' }), status: 404, message: /no object named datasets\/missing.jpg/ },
  { name: 'read outside the readable prefixes', method: 'POST', path: '/api/storage/signed-url', headers: JSON_AUTH, body: sign({ op: 'read', object: 'signing-key' }), status: 403, message: /only be read under/ },
  // Listing
  { name: 'list without prefix', method: 'GET', path: '/api/storage/list', headers: AUTH, status: 400, message: /prefix is required/ },
  { name: 'list outside the readable prefixes', method: 'GET', path: '/api/storage/list?prefix=../', headers: AUTH, status: 400, message: /"\." or "\.\." segment/ },
  { name: 'list of a private prefix', method: 'GET', path: '/api/storage/list?prefix=private/', headers: AUTH, status: 403, message: /prefix must start with one of/ },
  { name: 'maxResults zero', method: 'GET', path: '/api/storage/list?prefix=datasets/&maxResults=0', headers: AUTH, status: 400, message: /maxResults must be from 1 to 1000/ },
  { name: 'maxResults not a number', method: 'GET', path: '/api/storage/list?prefix=datasets/&maxResults=ten', headers: AUTH, status: 400, message: /maxResults must match pattern/ },
  { name: 'client-chosen bucket in the query', method: 'GET', path: '/api/storage/list?prefix=datasets/&bucket=other', headers: AUTH, status: 400, message: /unknown field "bucket"/ },
  { name: 'foreign page token', method: 'GET', path: `/api/storage/list?prefix=datasets/&pageToken=${Buffer.from('models/x').toString('base64url')}`, headers: AUTH, status: 400, message: /pageToken does not belong/ },
  { name: 'verify of a missing object', method: 'POST', path: '/api/storage/verify', headers: JSON_AUTH, body: sign({ object: 'datasets/none.jpg' }), status: 404, message: /no object named/ },
  // Prediction
  { name: 'predict without instances', method: 'POST', path: '/api/predict', headers: JSON_AUTH, body: '{}', status: 400, message: /missing the required field "instances"/ },
  { name: 'predict with no instances', method: 'POST', path: '/api/predict', headers: JSON_AUTH, body: predict([]), status: 400, message: /instances must NOT have fewer than 1 items/ },
  { name: 'instances not a list', method: 'POST', path: '/api/predict', headers: JSON_AUTH, body: predict({ data: { b64: 'AAAA' } }), status: 400, message: /instances must be of type array/ },
  { name: 'instance without data', method: 'POST', path: '/api/predict', headers: JSON_AUTH, body: predict([{ image: 'x' }]), status: 400, message: /missing the required field "data"/ },
  { name: 'raw string instead of {b64}', method: 'POST', path: '/api/predict', headers: JSON_AUTH, body: predict([{ data: 'abc' }]), status: 400, message: /data must be of type object/ },
  { name: 'not base64', method: 'POST', path: '/api/predict', headers: JSON_AUTH, body: predict([{ data: { b64: 'this is *not* base64!' } }]), status: 400, message: /instances\[0\].data.b64 is not valid base64/ },
  { name: 'base64 of text', method: 'POST', path: '/api/predict', headers: JSON_AUTH, body: predict([{ data: { b64: btoa('#!/bin/sh rm -rf /') } }]), status: 415, message: /instances\[0\] is not an image/ },
  { name: 'truncated JPEG', method: 'POST', path: '/api/predict', headers: JSON_AUTH, body: predict([{ data: { b64: b64(jpeg.subarray(0, 300)) } }]), status: 422, message: /instances\[0\]/ },
  { name: 'decompression bomb', method: 'POST', path: '/api/predict', headers: JSON_AUTH, body: predict([{ data: { b64: b64(pngDeclaring(20000, 20000)) } }]), status: 413, message: /20000x20000 .* resize it before sending/ },
  { name: 'too many instances', method: 'POST', path: '/api/predict', headers: JSON_AUTH, body: predict(Array.from({ length: 33 }, () => ({ data: { b64: b64(jpeg.subarray(0, 4)) } }))), status: 400, message: /33 instances in one request; the limit is 32/ },
  { name: 'body over 1.5 MB', method: 'POST', path: '/api/predict', headers: JSON_AUTH, body: predict([{ data: { b64: 'A'.repeat(1_700_000) } }]), status: 413, message: /larger than 1.5 MB/ },
  // The embedded bucket's object routes
  { name: 'unsigned upload', method: 'PUT', path: '/bucket/datasets/a.jpg', headers: { 'content-type': 'image/jpeg' }, body: jpeg, status: 403, message: /not signed/ },
  { name: 'malformed signature', method: 'GET', path: '/bucket/datasets/a.jpg?expires=9999999999&signature=zz', status: 403, message: /malformed signature/ },
  { name: 'bad percent-encoding in an object URL', method: 'GET', path: '/bucket/datasets/%E0%A4%A.jpg?expires=1&signature=00', status: 400, message: /percent-encoding/ },
  { name: 'unknown API route', method: 'GET', path: '/api/nothing-here', headers: AUTH, status: 404, message: /no route for GET \/api\/nothing-here/ },
];

describe('bad inputs across the routes', () => {
  let dir: string;
  let server: RunningServer;

  beforeAll(async () => {
    dir = tempDir('bad');
    const { runDir } = await makeModel(dir);
    server = await startServer(testConfig(dir, { SCENELAB_TOKEN: TOKEN, SCENELAB_CORS_ORIGINS: 'https://app.example.com', SCENELAB_MODEL: runDir, SCENELAB_PREDICT_WORKER: 'false' }), { logger: false });
    await server.modelLoaded;
  });
  afterAll(async () => {
    await server.close();
    await cleanup(dir);
  });

  it(`has at least 30 cases (${CASES.length})`, () => {
    expect(CASES.length).toBeGreaterThanOrEqual(30);
  });

  it.each(CASES.map((c) => [c.name, c] as const))('%s → 4xx with a clear message', async (_name, c) => {
    const res = await fetch(`${server.url}${c.path}`, { method: c.method, headers: c.headers ?? {}, ...(c.body !== undefined ? { body: c.body } : {}) });
    expect(res.status).toBe(c.status);
    expect(res.status).toBeGreaterThanOrEqual(400);
    expect(res.status).toBeLessThan(500);
    const json = (await res.json()) as { statusCode: number; error: string; code: string; message: string };
    expect(json.statusCode).toBe(c.status);
    expect(json.code).toMatch(/^[a-z0-9_]+$/);
    expect(json.message).toMatch(c.message);
  });

  it('accepts the same requests when they are well-formed (the cases fail for the stated reason)', async () => {
    // This server runs its model in the main thread (SCENELAB_PREDICT_WORKER=false).
    expect(server.predictor.status()).toMatchObject({ runner: 'in-process', ready: true });
    const ok = await fetch(`${server.url}/api/predict`, { method: 'POST', headers: { ...JSON_AUTH, origin: 'https://app.example.com' }, body: predict([{ data: { b64: b64(jpeg) } }]) });
    expect(ok.status).toBe(200);
    expect(ok.headers.get('access-control-allow-origin')).toBe('https://app.example.com');
    const list = await fetch(`${server.url}/api/storage/list?prefix=datasets/`, { headers: AUTH });
    expect(list.status).toBe(200);
  });
});

describe('rate limits', () => {
  let dir: string;
  let server: RunningServer;
  beforeAll(async () => {
    dir = tempDir('rate');
    server = await startServer(testConfig(dir, { SCENELAB_RATE_LIMIT_SIGN: '3', SCENELAB_RATE_LIMIT_PREDICT: '2' }), { logger: false, predictor: new StubPredictor() });
  });
  afterAll(async () => {
    await server.close();
    await cleanup(dir);
  });

  it('answers 429 with a clear message once signing or prediction exceeds its limit', async () => {
    const statuses: number[] = [];
    for (let i = 0; i < 5; i++) statuses.push((await fetch(`${server.url}/api/storage/list?prefix=datasets/`)).status);
    expect(statuses).toEqual([200, 200, 200, 429, 429]);
    const limited = await fetch(`${server.url}/api/storage/list?prefix=datasets/`);
    expect(((await limited.json()) as { message: string }).message).toMatch(/rate limit of 3 requests per minute reached; retry in/);
    expect(limited.headers.get('retry-after')).toMatch(/^\d+$/);

    const body = predict([{ data: { b64: b64(jpeg) } }]);
    const p: number[] = [];
    for (let i = 0; i < 3; i++) p.push((await fetch(`${server.url}/api/predict`, { method: 'POST', headers: { 'content-type': 'application/json' }, body })).status);
    expect(p).toEqual([200, 200, 429]);
    // Other routes are not limited.
    expect((await fetch(`${server.url}/healthz`)).status).toBe(200);
  });
});
