import { createHash, generateKeyPairSync, verify } from 'node:crypto';
import { Storage } from '@google-cloud/storage';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startServer, type RunningServer } from '../app';
import { GcsEmulator } from '../../test/emulators/gcs-emulator';
import { GcsStore } from '../storage/gcs';
import type { SignedUrl } from '../storage/types';
import { cleanup, intelJpegs, postJson, tempDir, testConfig } from './helpers';

/** A throwaway service-account key: signing happens locally with it, nothing is sent anywhere. */
const { publicKey, privateKey } = generateKeyPairSync('rsa', {
  modulusLength: 2048,
  publicKeyEncoding: { type: 'spki', format: 'pem' },
  privateKeyEncoding: { type: 'pkcs8', format: 'pem' },
});
const SA = { client_email: 'scenelab-test@scenelab-test.iam.gserviceaccount.com', private_key: privateKey };

/**
 * An independent reading of the V4 signing rules
 * (https://cloud.google.com/storage/docs/authentication/canonical-requests): rebuilds the
 * canonical request and string-to-sign from the URL and the headers the client will send,
 * and verifies the RSA-SHA256 signature with the public key.
 */
function verifyV4(signed: SignedUrl, publicKeyPem: string): { ok: boolean; query: URLSearchParams; canonicalRequest: string } {
  const url = new URL(signed.url);
  const q = url.searchParams;
  const enc = (s: string): string => encodeURIComponent(s).replace(/[!'()*]/g, (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`);
  const headers: Record<string, string> = { host: url.hostname };
  for (const [k, v] of Object.entries(signed.headers)) headers[k.toLowerCase()] = v;
  const signedHeaders = q.get('X-Goog-SignedHeaders')!.split(';');
  const canonicalQuery = [...q.entries()]
    .filter(([k]) => k !== 'X-Goog-Signature')
    .map(([k, v]) => `${enc(k)}=${enc(v)}`)
    .sort()
    .join('&');
  const canonicalHeaders = signedHeaders.map((h) => `${h}:${(headers[h] ?? '').trim()}\n`).join('');
  const canonicalRequest = [signed.method, url.pathname, canonicalQuery, canonicalHeaders, signedHeaders.join(';'), 'UNSIGNED-PAYLOAD'].join('\n');
  const date = q.get('X-Goog-Date')!;
  const stringToSign = ['GOOG4-RSA-SHA256', date, `${date.slice(0, 8)}/auto/storage/goog4_request`, createHash('sha256').update(canonicalRequest).digest('hex')].join('\n');
  const ok = verify('RSA-SHA256', Buffer.from(stringToSign), publicKeyPem, Buffer.from(q.get('X-Goog-Signature')!, 'hex'));
  return { ok, query: q, canonicalRequest };
}

describe('Cloud Storage V4 signed URLs with a throwaway service-account key', () => {
  // The library refuses expirations in the past, so the clock is today's, to the second.
  const fixedNow = Math.floor(Date.now() / 1000) * 1000;
  const iso = new Date(fixedNow).toISOString();
  const day = iso.slice(0, 10).replace(/-/g, '');
  const stamp = `${day}T${iso.slice(11, 19).replace(/:/g, '')}Z`;
  const store = new GcsStore({
    bucket: 'scenelab-data',
    storage: new Storage({ projectId: 'scenelab-test', credentials: SA }),
    expiry: { write: 900, read: 3600 },
    now: () => fixedNow,
  });

  it('signs writes that bind content type, length range and no-overwrite, for 15 minutes', async () => {
    const signed = await store.signWrite('datasets/intel/forest/1.jpg', 'image/jpeg', 12345);
    const { ok, query, canonicalRequest } = verifyV4(signed, publicKey);
    expect(ok).toBe(true);
    const url = new URL(signed.url);
    expect(url.origin).toBe('https://storage.googleapis.com');
    expect(url.pathname).toBe('/scenelab-data/datasets/intel/forest/1.jpg');
    expect(query.get('X-Goog-Algorithm')).toBe('GOOG4-RSA-SHA256');
    expect(query.get('X-Goog-Credential')).toBe(`${SA.client_email}/${day}/auto/storage/goog4_request`);
    expect(query.get('X-Goog-Date')).toBe(stamp);
    expect(query.get('X-Goog-Expires')).toBe('900');
    expect(query.get('X-Goog-SignedHeaders')).toBe('content-type;host;x-goog-content-length-range;x-goog-if-generation-match');
    expect(canonicalRequest.split('\n')[0]).toBe('PUT');
    expect(signed).toMatchObject({
      method: 'PUT',
      headers: { 'Content-Type': 'image/jpeg', 'x-goog-content-length-range': '0,12345', 'x-goog-if-generation-match': '0' },
      expiresAt: new Date(fixedNow + 900_000).toISOString(),
      object: 'datasets/intel/forest/1.jpg',
    });
    // Changing any signed header breaks the signature.
    expect(verifyV4({ ...signed, headers: { ...signed.headers, 'Content-Type': 'image/png' } }, publicKey).ok).toBe(false);
    expect(verifyV4({ ...signed, headers: { ...signed.headers, 'x-goog-content-length-range': '0,99999999' } }, publicKey).ok).toBe(false);
  });

  it('signs reads for an hour, with only the host signed', async () => {
    const signed = await store.signRead('seg_train/forest/100.jpg');
    const { ok, query } = verifyV4(signed, publicKey);
    expect(ok).toBe(true);
    expect(query.get('X-Goog-Expires')).toBe('3600');
    expect(query.get('X-Goog-SignedHeaders')).toBe('host');
    expect(signed.method).toBe('GET');
    expect(signed.headers).toEqual({});
  });

  it('percent-encodes object names in the signed path', async () => {
    const signed = await store.signRead('datasets/my set/été #1.jpg');
    expect(verifyV4(signed, publicKey).ok).toBe(true);
    expect(new URL(signed.url).pathname).toBe('/scenelab-data/datasets/my%20set/%C3%A9t%C3%A9%20%231.jpg');
  });
});

describe('storage broker on Cloud Storage, against a local GCS emulator', () => {
  let dir: string;
  let gcs: GcsEmulator;
  let server: RunningServer;
  const jpeg = intelJpegs('glacier', 1)[0]!;

  const sign = async (body: Record<string, unknown>): Promise<SignedUrl> => {
    const r = await postJson(`${server.url}/api/storage/signed-url`, body);
    expect(r.status, JSON.stringify(r.json)).toBe(200);
    return r.json as unknown as SignedUrl;
  };

  beforeAll(async () => {
    dir = tempDir('gcs');
    gcs = await GcsEmulator.start('scenelab-data', { clientEmail: SA.client_email, publicKeyPem: publicKey });
    const storage = new Storage({ projectId: 'scenelab-test', credentials: SA, apiEndpoint: gcs.endpoint });
    server = await startServer(testConfig(dir, { SCENELAB_GCS_BUCKET: 'scenelab-data' }), { logger: false, storage, predictor: new (await import('./stub-predictor')).StubPredictor() });
  });
  afterAll(async () => {
    await server.close();
    await gcs.stop();
    await cleanup(dir);
  });

  it('uploads through a signed URL the bucket accepts, verifies it, and reads it back', async () => {
    expect(server.store.kind).toBe('gcs');
    const w = await sign({ op: 'write', object: 'datasets/g/1.jpg', contentType: 'image/jpeg', size: jpeg.length });
    expect(w.url.startsWith(`${gcs.endpoint}/scenelab-data/datasets/g/1.jpg?`)).toBe(true);
    const put = await fetch(w.url, { method: 'PUT', headers: w.headers, body: jpeg });
    expect(put.status, await put.clone().text()).toBe(200);
    expect(gcs.objects.get('datasets/g/1.jpg')?.contentType).toBe('image/jpeg');

    const v = await postJson(`${server.url}/api/storage/verify`, { object: 'datasets/g/1.jpg' });
    expect(v.status).toBe(200);
    expect(v.json).toMatchObject({ verified: true, name: 'datasets/g/1.jpg', size: jpeg.length, contentType: 'image/jpeg' });

    const r = await sign({ op: 'read', object: 'datasets/g/1.jpg' });
    const get = await fetch(r.url);
    expect(get.status).toBe(200);
    expect(new Uint8Array(await get.arrayBuffer())).toEqual(jpeg);
  });

  it('the bucket refuses oversize bodies, other content types and overwrites, as signed', async () => {
    const w = await sign({ op: 'write', object: 'datasets/g/2.jpg', contentType: 'image/jpeg', size: 100 });
    expect((await fetch(w.url, { method: 'PUT', headers: w.headers, body: jpeg })).status).toBe(400);
    expect((await fetch(w.url, { method: 'PUT', headers: { ...w.headers, 'Content-Type': 'image/png' }, body: jpeg.subarray(0, 50) })).status).toBe(403);
    expect(gcs.objects.has('datasets/g/2.jpg')).toBe(false);
    const again = await sign({ op: 'write', object: 'datasets/g/1.jpg', contentType: 'image/jpeg', size: jpeg.length });
    expect((await fetch(again.url, { method: 'PUT', headers: again.headers, body: jpeg })).status).toBe(412);
  });

  it('deletes an upload whose bytes are not the declared type, when verified', async () => {
    const fake = new TextEncoder().encode('#!/bin/sh\necho not a jpeg\n');
    const w = await sign({ op: 'write', object: 'datasets/g/fake.jpg', contentType: 'image/jpeg', size: fake.length });
    expect((await fetch(w.url, { method: 'PUT', headers: w.headers, body: fake })).status).toBe(200);
    const v = await postJson(`${server.url}/api/storage/verify`, { object: 'datasets/g/fake.jpg' });
    expect(v.status).toBe(422);
    expect(v.json.message).toMatch(/was deleted: declared image\/jpeg but the bytes are not an image/);
    expect(gcs.objects.has('datasets/g/fake.jpg')).toBe(false);
    // An old object was not uploaded through a signed URL just now: reported, never deleted.
    gcs.put('datasets/legacy/scan.jpg', fake, 'image/jpeg', new Date(Date.now() - 86_400_000));
    const old = await postJson(`${server.url}/api/storage/verify`, { object: 'datasets/legacy/scan.jpg' });
    expect(old.status).toBe(422);
    expect(old.json.message).toMatch(/left in place/);
    expect(gcs.objects.has('datasets/legacy/scan.jpg')).toBe(true);
    // Verification is for uploads: the seed folders are never checked or deleted.
    expect((await postJson(`${server.url}/api/storage/verify`, { object: 'seg_train/forest/0.jpg' })).status).toBe(403);
  });

  it('lists the seed pipeline’s seg_train/ folder with signed read URLs for import', async () => {
    for (const [i, bytes] of intelJpegs('forest', 3, 'train').entries()) gcs.put(`seg_train/forest/${i}.jpg`, bytes, 'image/jpeg');
    gcs.put('secrets/service-account.json', new TextEncoder().encode('{}'), 'application/json');
    const res = await fetch(`${server.url}/api/storage/list?prefix=seg_train/&signed=true&maxResults=2`);
    const page = (await res.json()) as { objects: Array<{ name: string; size: number; url: string }>; nextPageToken: string };
    expect(page.objects.map((o) => o.name)).toEqual(['seg_train/forest/0.jpg', 'seg_train/forest/1.jpg']);
    expect(page.nextPageToken).toBeTruthy();
    const bytes = new Uint8Array(await (await fetch(page.objects[1]!.url)).arrayBuffer());
    expect(bytes).toEqual(intelJpegs('forest', 2, 'train')[1]);
    const next = (await (await fetch(`${server.url}/api/storage/list?prefix=seg_train/&pageToken=${encodeURIComponent(page.nextPageToken)}`)).json()) as { objects: Array<{ name: string }> };
    expect(next.objects.map((o) => o.name)).toEqual(['seg_train/forest/2.jpg']);
    const secret = await fetch(`${server.url}/api/storage/list?prefix=secrets/`);
    expect(secret.status).toBe(403);
  });
});
