import { existsSync, readdirSync } from 'node:fs';
import { mkdir, symlink, utimes, writeFile } from 'node:fs/promises';
import { request } from 'node:http';
import { connect } from 'node:net';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startServer, type RunningServer } from '../app';
import { LocalBucket } from '../storage/local-bucket';
import type { SignedUrl } from '../storage/types';
import { cleanup, intelJpegs, postJson, tempDir, testConfig } from './helpers';
import { StubPredictor } from './stub-predictor';

/** A PUT through node:http, so the answer is seen even when the server stops reading the body early. */
function rawPut(url: string, headers: Record<string, string>, chunks: Uint8Array[]): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = request(url, { method: 'PUT', headers }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (c: string) => (body += c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
    });
    req.on('error', reject);
    const write = (i: number): void => {
      if (i === chunks.length) return void req.end();
      req.write(chunks[i]!, () => setTimeout(() => write(i + 1), 5));
    };
    write(0);
  });
}

describe('embedded bucket through a real listening server', () => {
  let dir: string;
  let server: RunningServer;
  let now = Date.now();
  let bucket: LocalBucket;
  const jpeg = intelJpegs('forest', 1)[0]!;

  const sign = async (body: Record<string, unknown>): Promise<SignedUrl> => {
    const r = await postJson(`${server.url}/api/storage/signed-url`, body);
    expect(r.status, JSON.stringify(r.json)).toBe(200);
    return r.json as unknown as SignedUrl;
  };
  const objectFile = (name: string): string => path.join(bucket.objectsDir, ...name.split('/'));
  const uploadsLeft = (): string[] => readdirSync(bucket.uploadsDir);

  beforeAll(async () => {
    dir = tempDir('bucket');
    server = await startServer(testConfig(dir), { logger: false, predictor: new StubPredictor(), now: () => now });
    bucket = server.store as LocalBucket;
  });
  afterAll(async () => {
    await server.close();
    await cleanup(dir);
  });

  it('uploads and downloads through signed URLs, and lists the object', async () => {
    const w = await sign({ op: 'write', object: 'datasets/demo/forest/1.jpg', contentType: 'image/jpeg', size: jpeg.length });
    expect(w.method).toBe('PUT');
    expect(w.headers).toEqual({ 'Content-Type': 'image/jpeg' });
    expect(new Date(w.expiresAt).getTime() - now).toBeLessThanOrEqual(15 * 60 * 1000);
    expect(w.url.startsWith(`${server.url}/bucket/datasets/demo/forest/1.jpg?`)).toBe(true);
    const put = await fetch(w.url, { method: 'PUT', headers: w.headers, body: jpeg });
    expect(put.status).toBe(201);
    expect(await put.json()).toMatchObject({ name: 'datasets/demo/forest/1.jpg', size: jpeg.length, contentType: 'image/jpeg' });

    const r = await sign({ op: 'read', object: 'datasets/demo/forest/1.jpg' });
    expect(new Date(r.expiresAt).getTime() - now).toBeLessThanOrEqual(3600 * 1000);
    const get = await fetch(r.url);
    expect(get.status).toBe(200);
    expect(get.headers.get('content-type')).toBe('image/jpeg');
    expect(get.headers.get('content-security-policy')).toMatch(/sandbox/);
    expect(new Uint8Array(await get.arrayBuffer())).toEqual(jpeg);

    const list = await fetch(`${server.url}/api/storage/list?prefix=datasets/demo/&signed=true`);
    const page = (await list.json()) as { objects: Array<{ name: string; size: number; url: string }> };
    expect(page.objects.map((o) => o.name)).toEqual(['datasets/demo/forest/1.jpg']);
    expect(page.objects[0]!.size).toBe(jpeg.length);
    expect(new Uint8Array(await (await fetch(page.objects[0]!.url)).arrayBuffer())).toEqual(jpeg);
    expect(server.metrics.signedUrls.get({ op: 'write', store: 'local' })).toBe(1);
  });

  it('paginates listings in name order', async () => {
    for (const n of ['b', 'a', 'c']) {
      const w = await sign({ op: 'write', object: `datasets/page/${n}.jpg`, contentType: 'image/jpeg', size: jpeg.length });
      expect((await fetch(w.url, { method: 'PUT', headers: w.headers, body: jpeg })).status).toBe(201);
    }
    const first = (await (await fetch(`${server.url}/api/storage/list?prefix=datasets/page/&maxResults=2`)).json()) as { objects: Array<{ name: string }>; nextPageToken: string };
    expect(first.objects.map((o) => o.name)).toEqual(['datasets/page/a.jpg', 'datasets/page/b.jpg']);
    const second = (await (await fetch(`${server.url}/api/storage/list?prefix=datasets/page/&maxResults=2&pageToken=${first.nextPageToken}`)).json()) as {
      objects: Array<{ name: string }>;
      nextPageToken?: string;
    };
    expect(second.objects.map((o) => o.name)).toEqual(['datasets/page/c.jpg']);
    expect(second.nextPageToken).toBeUndefined();
  });

  it('lists and serves a dataset folder the operator linked into the bucket', async () => {
    const store = path.join(dir, 'linked-store', 'sea');
    await mkdir(store, { recursive: true });
    await writeFile(path.join(store, '7.jpg'), jpeg);
    await mkdir(objectFile('datasets/linked'), { recursive: true });
    await symlink(path.dirname(store), objectFile('datasets/linked/train'));
    const page = (await (await fetch(`${server.url}/api/storage/list?prefix=datasets/linked/&signed=true`)).json()) as { objects: Array<{ name: string; size: number; url: string }> };
    expect(page.objects.map((o) => [o.name, o.size])).toEqual([['datasets/linked/train/sea/7.jpg', jpeg.length]]);
    expect(new Uint8Array(await (await fetch(page.objects[0]!.url)).arrayBuffer())).toEqual(jpeg);
  });

  it('refuses an expired URL and writes nothing', async () => {
    const w = await sign({ op: 'write', object: 'datasets/expired.jpg', contentType: 'image/jpeg', size: jpeg.length });
    now += 16 * 60 * 1000;
    try {
      const res = await fetch(w.url, { method: 'PUT', headers: w.headers, body: jpeg });
      expect(res.status).toBe(403);
      expect(((await res.json()) as { message: string }).message).toMatch(/expired/);
    } finally {
      now = Date.now();
    }
    expect(existsSync(objectFile('datasets/expired.jpg'))).toBe(false);
    expect(uploadsLeft()).toEqual([]);
  });

  it('refuses a forged signature, another object, and a replay with another content type or method', async () => {
    const w = await sign({ op: 'write', object: 'datasets/forged.png', contentType: 'image/png', size: 100_000 });
    const forged = w.url.replace(/signature=([0-9a-f])/, (_m, c: string) => `signature=${c === '0' ? '1' : '0'}`);
    const cases: Array<[string, RequestInit]> = [
      [forged, { method: 'PUT', headers: w.headers, body: jpeg }],
      [w.url.replace('forged.png', 'other.png'), { method: 'PUT', headers: w.headers, body: jpeg }],
      [w.url, { method: 'PUT', headers: { 'Content-Type': 'image/jpeg' }, body: jpeg }],
      [w.url.replace(/size=\d+/, 'size=999999999'), { method: 'PUT', headers: w.headers, body: jpeg }],
      [w.url, { method: 'GET' }],
    ];
    for (const [url, init] of cases) {
      const res = await fetch(url, init);
      expect(res.status, url).toBe(403);
      expect(((await res.json()) as { message: string }).message).toMatch(/signature does not match/);
    }
    expect(existsSync(objectFile('datasets/forged.png'))).toBe(false);
    expect(existsSync(objectFile('datasets/other.png'))).toBe(false);
    expect(uploadsLeft()).toEqual([]);
  });

  it('refuses bodies over the signed size, declared or streamed, and writes nothing', async () => {
    const w = await sign({ op: 'write', object: 'datasets/big.jpg', contentType: 'image/jpeg', size: 1000 });
    const declared = await rawPut(w.url, { 'content-type': 'image/jpeg', 'content-length': String(jpeg.length) }, [jpeg]);
    expect(declared.status).toBe(413);
    expect(declared.body).toMatch(/exceeds the 1000 bytes/);
    // Chunked: no Content-Length, so the limit is enforced while streaming.
    const streamed = await rawPut(w.url, { 'content-type': 'image/jpeg', 'transfer-encoding': 'chunked' }, [jpeg.subarray(0, 600), jpeg.subarray(600, 1200), jpeg.subarray(1200, 4000)]);
    expect(streamed.status).toBe(413);
    expect(streamed.body).toMatch(/exceeds the 1000 bytes/);
    expect(existsSync(objectFile('datasets/big.jpg'))).toBe(false);
    expect(uploadsLeft()).toEqual([]);
  });

  it('refuses bytes that are not what the URL was signed for (magic bytes)', async () => {
    const text = new TextEncoder().encode('<html><script>alert(1)</script></html>');
    const w = await sign({ op: 'write', object: 'datasets/fake.jpg', contentType: 'image/jpeg', size: text.length });
    const res = await fetch(w.url, { method: 'PUT', headers: w.headers, body: text });
    expect(res.status).toBe(415);
    expect(((await res.json()) as { message: string }).message).toMatch(/not an image/);
    expect(existsSync(objectFile('datasets/fake.jpg'))).toBe(false);
  });

  it('never overwrites: signing and uploading an existing name both answer 412', async () => {
    const w = await sign({ op: 'write', object: 'datasets/once.jpg', contentType: 'image/jpeg', size: jpeg.length });
    expect((await fetch(w.url, { method: 'PUT', headers: w.headers, body: jpeg })).status).toBe(201);
    const replay = await fetch(w.url, { method: 'PUT', headers: w.headers, body: jpeg });
    expect(replay.status).toBe(412);
    const again = await postJson(`${server.url}/api/storage/signed-url`, { op: 'write', object: 'datasets/once.jpg', contentType: 'image/jpeg', size: 10 });
    expect(again.status).toBe(412);
    expect(again.json.message).toMatch(/never overwrite/);
  });

  it('leaves no object and no temporary file when the connection is cut mid-upload', async () => {
    const w = await sign({ op: 'write', object: 'datasets/cut.jpg', contentType: 'image/jpeg', size: 200_000 });
    const url = new URL(w.url);
    let sawPartial = false;
    await new Promise<void>((resolve, reject) => {
      const socket = connect(Number(url.port), url.hostname, () => {
        socket.write(`PUT ${url.pathname}${url.search} HTTP/1.1\r\nHost: ${url.host}\r\nContent-Type: image/jpeg\r\nContent-Length: 200000\r\n\r\n`);
        socket.write(Buffer.concat([jpeg, Buffer.alloc(60_000, 7)]), () => {
          // Wait until the server has the partial upload on disk, then cut.
          const started = Date.now();
          const poll = setInterval(() => {
            sawPartial ||= uploadsLeft().length > 0;
            if (sawPartial || Date.now() - started > 2000) {
              clearInterval(poll);
              socket.destroy();
              resolve();
            }
          }, 5);
        });
      });
      socket.on('error', reject);
    });
    expect(sawPartial, 'the upload was in progress when the connection was cut').toBe(true);
    const deadline = Date.now() + 5000;
    while (uploadsLeft().length > 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
    expect(uploadsLeft()).toEqual([]);
    expect(existsSync(objectFile('datasets/cut.jpg'))).toBe(false);
    expect(server.metrics.uploads.get({ result: 'refused' })).toBeGreaterThan(0);
  });

  it('removes uploads left by a crash when it opens, and keeps its signing key across restarts', async () => {
    const stale = path.join(bucket.uploadsDir, 'crashed.part');
    await writeFile(stale, 'partial');
    const old = new Date(Date.now() - 2 * 3600_000);
    await utimes(stale, old, old);
    const w = await sign({ op: 'read', object: 'datasets/demo/forest/1.jpg' });
    const reopened = await LocalBucket.open({ root: path.dirname(bucket.objectsDir), publicUrl: () => server.url, expiry: { write: 900, read: 3600 } });
    expect(existsSync(stale)).toBe(false);
    // Same key from disk: a URL signed before the "restart" still opens.
    const { info, stream } = await reopened.openRead('datasets/demo/forest/1.jpg', Object.fromEntries(new URL(w.url).searchParams));
    stream.destroy();
    expect(info.size).toBe(jpeg.length);
  });
});

describe('signed URLs keep the loopback name the page used', () => {
  it('signs on localhost for a page opened as localhost, and never on a foreign Host', async () => {
    const dir = tempDir('bucket-host');
    const server = await startServer(testConfig(dir), { logger: false, predictor: new StubPredictor() });
    try {
      const port = new URL(server.url).port;
      const sign = (host: string) =>
        new Promise<string>((resolve, reject) => {
          const body = JSON.stringify({ op: 'read', object: 'datasets/x.jpg' });
          const req = request(`${server.url}/api/storage/signed-url`, { method: 'POST', headers: { host, 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) } }, (res) => {
            let text = '';
            res.on('data', (c: Buffer) => (text += c.toString()));
            res.on('end', () => resolve((JSON.parse(text) as { url: string }).url));
          });
          req.on('error', reject);
          req.end(body);
        });
      const objects = (server.store as LocalBucket).objectsDir;
      await mkdir(path.join(objects, 'datasets'), { recursive: true });
      await writeFile(path.join(objects, 'datasets', 'x.jpg'), intelJpegs('sea', 1)[0]!);
      expect(await sign(`localhost:${port}`)).toMatch(new RegExp(`^http://localhost:${port}/bucket/datasets/x\\.jpg\\?`));
      expect(await sign(`127.0.0.1:${port}`)).toMatch(new RegExp(`^http://127\\.0\\.0\\.1:${port}/bucket/`));
      expect(await sign(`evil.example:${port}`)).toMatch(new RegExp(`^${server.url}/bucket/`));
      expect(await sign(`localhost:${Number(port) + 1}`)).toMatch(new RegExp(`^${server.url}/bucket/`));
      // The signature does not cover the host: the localhost URL works as issued.
      const url = await sign(`localhost:${port}`);
      expect((await fetch(url)).status).toBe(200);
    } finally {
      await server.close();
      await cleanup(dir);
    }
  });
});
