import { mkdir, rm, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startServer, type RunningServer } from '../app';
import { startupBanner } from '../banner';
import { loadConfig, VERTEX_BODY_LIMIT } from '../config';
import { ConfigError } from '../errors';
import { cacheControlFor } from '../web-app';
import { b64, cleanup, intelJpegs, postJson, tempDir, testConfig } from './helpers';
import { StubPredictor } from './stub-predictor';

const ISOLATION = { 'cross-origin-opener-policy': 'same-origin', 'cross-origin-embedder-policy': 'require-corp' };
const expectIsolated = (res: Response): void => {
  for (const [k, v] of Object.entries(ISOLATION)) expect(res.headers.get(k), k).toBe(v);
};

describe('serving the app', () => {
  let dir: string;
  let server: RunningServer;
  let webDir: string;

  beforeAll(async () => {
    dir = tempDir('app');
    server = await startServer(testConfig(dir, { SCENELAB_CORS_ORIGINS: 'http://localhost:5173' }), { logger: false, predictor: new StubPredictor() });
    webDir = server.config.webDir;
  });
  afterAll(async () => {
    await server.close();
    await cleanup(dir);
  });

  it('answers 503 with instructions while dist/web is missing, with isolation headers', async () => {
    for (const p of ['/', '/classify', '/assets/app.js']) {
      const res = await fetch(`${server.url}${p}`, { headers: { accept: 'text/html' } });
      expect(res.status, p).toBe(503);
      expect(await res.text()).toMatch(/not built yet[\s\S]*npm run build/);
      expectIsolated(res);
    }
    // The API still works.
    expect((await fetch(`${server.url}/healthz`)).status).toBe(200);
  });

  it('serves the build once it appears: hashed assets immutable, entry points no-cache, routes fall back to index.html', async () => {
    await mkdir(path.join(webDir, 'assets'), { recursive: true });
    await writeFile(path.join(webDir, 'index.html'), '<!doctype html><title>SceneLab</title>');
    await writeFile(path.join(webDir, 'sw.js'), 'self.addEventListener("fetch", () => {});');
    await writeFile(path.join(webDir, 'assets', 'index-B1x2y3z4.js'), 'console.log(1)');
    await writeFile(path.join(webDir, 'manifest.webmanifest'), '{}');
    try {
      const index = await fetch(`${server.url}/`);
      expect(index.status).toBe(200);
      expect(index.headers.get('cache-control')).toBe('no-cache');
      expect(await index.text()).toMatch(/SceneLab/);
      expectIsolated(index);

      const asset = await fetch(`${server.url}/assets/index-B1x2y3z4.js`);
      expect(asset.status).toBe(200);
      expect(asset.headers.get('cache-control')).toBe('public, max-age=31536000, immutable');
      expect(asset.headers.get('content-type')).toMatch(/javascript/);
      expectIsolated(asset);

      const sw = await fetch(`${server.url}/sw.js`);
      expect(sw.headers.get('cache-control')).toBe('no-cache');
      expect((await fetch(`${server.url}/manifest.webmanifest`)).headers.get('cache-control')).toBe('no-cache');

      const route = await fetch(`${server.url}/classify`, { headers: { accept: 'text/html' } });
      expect(route.status).toBe(200);
      expect(route.headers.get('cache-control')).toBe('no-cache');
      expect(await route.text()).toMatch(/SceneLab/);

      const missing = await fetch(`${server.url}/assets/nope-12345678.js`);
      expect(missing.status).toBe(404);
      expectIsolated(missing);
    } finally {
      await rm(webDir, { recursive: true, force: true });
    }
  });

  it('classifies paths for caching', () => {
    expect(cacheControlFor('index.html')).toBe('no-cache');
    expect(cacheControlFor('sw.js')).toBe('no-cache');
    expect(cacheControlFor('assets/ort-wasm-simd-threaded.wasm')).toMatch(/immutable/);
    expect(cacheControlFor('workbox-5f3a9c1d.js')).toMatch(/immutable/);
    expect(cacheControlFor('icons/icon-192.png')).toBe('no-cache');
    expect(cacheControlFor('tfjs-wasm/tfjs-backend-wasm-simd.wasm')).toBe('no-cache');
  });

  it('sets isolation headers on API answers and errors too', async () => {
    expectIsolated(await fetch(`${server.url}/healthz`));
    expectIsolated(await fetch(`${server.url}/api/storage/list`));
    expectIsolated(await fetch(`${server.url}/metrics`));
  });

  it('answers CORS preflights for allowed origins only', async () => {
    const ok = await fetch(`${server.url}/api/predict`, { method: 'OPTIONS', headers: { origin: 'http://localhost:5173', 'access-control-request-method': 'POST', 'access-control-request-headers': 'content-type,authorization' } });
    expect(ok.status).toBe(204);
    expect(ok.headers.get('access-control-allow-origin')).toBe('http://localhost:5173');
    expect(ok.headers.get('access-control-allow-headers')).toMatch(/authorization/);
    const bad = await fetch(`${server.url}/api/predict`, { method: 'OPTIONS', headers: { origin: 'https://evil.example', 'access-control-request-method': 'POST' } });
    expect(bad.headers.get('access-control-allow-origin')).toBeNull();
  });

  it('reports health and Prometheus metrics by route, status, source and signing', async () => {
    const jpeg = intelJpegs('forest', 1)[0]!;
    expect((await postJson(`${server.url}/api/predict`, { instances: [{ data: { b64: b64(jpeg) } }, { data: { b64: b64(jpeg) } }] })).status).toBe(200);
    expect((await postJson(`${server.url}/api/storage/signed-url`, { op: 'write', object: 'datasets/m.jpg', contentType: 'image/jpeg', size: 10 })).status).toBe(200);
    await postJson(`${server.url}/api/storage/signed-url`, { op: 'bogus' });

    const health = (await (await fetch(`${server.url}/healthz`)).json()) as Record<string, unknown>;
    expect(health).toMatchObject({ status: 'ok', storage: { kind: 'local' }, prediction: { source: 'local', ready: true }, auth: 'none' });

    const res = await fetch(`${server.url}/metrics`);
    expect(res.headers.get('content-type')).toMatch(/^text\/plain; version=0\.0\.4/);
    const text = await res.text();
    expect(text).toMatch(/^# TYPE scenelab_http_requests_total counter$/m);
    expect(text).toMatch(/^scenelab_http_requests_total\{route="\/api\/predict",method="POST",status="200"\} 1$/m);
    expect(text).toMatch(/^scenelab_http_requests_total\{route="\/api\/storage\/signed-url",method="POST",status="400"\} 1$/m);
    expect(text).toMatch(/^scenelab_http_request_duration_seconds_bucket\{route="\/api\/predict",method="POST",status="200",le="\+Inf"\} 1$/m);
    expect(text).toMatch(/^scenelab_http_request_duration_seconds_count\{route="\/api\/predict",method="POST",status="200"\} 1$/m);
    expect(text).toMatch(/^scenelab_predictions_total\{source="local"\} 2$/m);
    expect(text).toMatch(/^scenelab_signed_urls_total\{op="write",store="local"\} 1$/m);
    // Every sample line is `name{labels} value`.
    for (const line of text.split('\n').filter((l) => l && !l.startsWith('#'))) expect(line).toMatch(/^[a-z_]+(\{[^}]*\})? [0-9.e+-]+$/);
  });

  it('says in its start-up message which parts run locally or in the cloud', () => {
    const banner = startupBanner(server, server.config);
    expect(banner).toMatch(/listening on http:\/\/127\.0\.0\.1:\d+/);
    expect(banner).toMatch(/storage: +LOCAL: embedded bucket/);
    expect(banner).toMatch(/prediction: +LOCAL/);
    expect(banner).toMatch(/not built .* run npm run build/);
  });
});

describe('configuration', () => {
  it('defaults to everything local on loopback', () => {
    const c = loadConfig({});
    expect(c.host).toBe('127.0.0.1');
    expect(c.port).toBe(8787);
    expect(c.storage.kind).toBe('local');
    expect(c.predict).toEqual({ kind: 'local', model: undefined });
    expect(c.bodyLimit).toBe(VERTEX_BODY_LIMIT);
    expect(c.dataDir).toMatch(/\.scenelab$/);
    expect(c.expiry).toEqual({ write: 900, read: 3600 });
    expect(c.readPrefixes).toEqual(['datasets/', 'models/', 'runs/', 'seg_train/', 'seg_test/', 'seg_pred/']);
  });

  it('runs as a Vertex AI container when AIP_HTTP_PORT is set', () => {
    const c = loadConfig({ AIP_HTTP_PORT: '8080', AIP_PREDICT_ROUTE: '/v1/models/m:predict', AIP_HEALTH_ROUTE: '/v1/models/m', AIP_STORAGE_URI: 'gs://b/models/m' });
    expect(c.host).toBe('0.0.0.0');
    expect(c.port).toBe(8080);
    expect(c.container).toEqual({ predictRoute: '/v1/models/m:predict', healthRoute: '/v1/models/m', storageUri: 'gs://b/models/m' });
  });

  it.each([
    [{ SCENELAB_VERTEX_PROJECT: 'my-project' }, /missing SCENELAB_VERTEX_REGION, SCENELAB_VERTEX_ENDPOINT_ID/],
    [{ SCENELAB_VERTEX_PROJECT: 'my-project', SCENELAB_VERTEX_REGION: 'mars', SCENELAB_VERTEX_ENDPOINT_ID: '1' }, /is not a region/],
    [{ SCENELAB_VERTEX_PROJECT: 'my-project', SCENELAB_VERTEX_REGION: 'us-central1', SCENELAB_VERTEX_ENDPOINT_ID: 'abc' }, /numeric endpoint id/],
    [{ SCENELAB_GCS_BUCKET: 'gs://my-bucket' }, /no gs:\/\/ prefix/],
    [{ SCENELAB_PORT: 'eighty' }, /SCENELAB_PORT="eighty"/],
    [{ SCENELAB_SIGNING_SECRET: 'short' }, /at least 32 characters/],
    [{ SCENELAB_READ_PREFIXES: '../etc/' }, /must be a relative folder/],
    [{ SCENELAB_CORS_ORIGINS: 'not a url' }, /is not a URL/],
    [{ AIP_HTTP_PORT: '8080', SCENELAB_VERTEX_PROJECT: 'my-project', SCENELAB_VERTEX_REGION: 'us-central1', SCENELAB_VERTEX_ENDPOINT_ID: '1' }, /must predict locally/],
  ])('refuses %j with a message naming the variable', (env, message) => {
    expect(() => loadConfig(env)).toThrow(ConfigError);
    expect(() => loadConfig(env)).toThrow(message);
  });
});
