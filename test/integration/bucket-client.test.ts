import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startServer, type RunningServer } from '../../server/app';
import { cleanup, intelJpegs, tempDir, testConfig } from '../../server/test/helpers';
import { StubPredictor } from '../../server/test/stub-predictor';
import { BucketClient, BucketError, contentTypeFor, safeName } from '../../web/src/api/bucket-client';

describe('BucketClient against a real listening server (embedded bucket)', () => {
  let dir: string;
  let server: RunningServer;
  let client: BucketClient;
  const jpegs = intelJpegs('sea', 3);

  beforeAll(async () => {
    dir = tempDir('bucket-client');
    server = await startServer(testConfig(dir), { logger: false, predictor: new StubPredictor() });
    client = new BucketClient({ baseUrl: server.url });
  });
  afterAll(async () => {
    await server.close();
    await cleanup(dir);
  });

  it('uploads through signed URLs, lists with signed read URLs, and downloads the same bytes', async () => {
    for (const [i, bytes] of jpegs.entries()) {
      expect(await client.upload(`datasets/demo/train/sea/${i}.jpg`, new Blob([bytes as Uint8Array<ArrayBuffer>]))).toEqual({ name: `datasets/demo/train/sea/${i}.jpg`, size: bytes.length });
    }
    await client.upload('runs/demo/history.json', new Blob(['[]']));
    const listed = await client.list('datasets/demo/');
    expect(listed.map((o) => o.name).sort()).toEqual([0, 1, 2].map((i) => `datasets/demo/train/sea/${i}.jpg`));
    expect(listed.every((o) => typeof o.url === 'string')).toBe(true);
    const back = await client.download(listed.find((o) => o.name.endsWith('/1.jpg'))!);
    expect(new Uint8Array(await back.arrayBuffer())).toEqual(jpegs[1]);
    // Without a URL from the listing, the client asks for one.
    const again = await client.download({ name: 'runs/demo/history.json', size: 2, updated: '' });
    expect(await again.text()).toBe('[]');
  });

  it('reports refusals with the server\'s reason', async () => {
    await expect(client.upload('datasets/demo/train/sea/0.jpg', new Blob([jpegs[0]! as Uint8Array<ArrayBuffer>]))).rejects.toThrow(BucketError);
    await expect(client.upload('datasets/demo/notes.txt', new Blob(['x']))).rejects.toThrow(/images, zips, JSON/);
    await expect(client.upload('elsewhere/x.jpg', new Blob([jpegs[0]! as Uint8Array<ArrayBuffer>]))).rejects.toThrow(/only be written under/);
    await expect(client.upload('datasets/demo/fake.jpg', new Blob(['not a jpeg at all']))).rejects.toThrow(/uploading datasets\/demo\/fake\.jpg failed/);
    await expect(client.list('../etc/')).rejects.toMatchObject({ status: 400 });
    const offline = new BucketClient({ baseUrl: 'http://127.0.0.1:9' });
    await expect(offline.list('datasets/')).rejects.toMatchObject({ name: 'BucketError', status: 0 });
  });

  it('sends the bearer token when the server asks for one', async () => {
    const guarded = await startServer(testConfig(tempDir('bucket-token'), { SCENELAB_TOKEN: 'secret-token-123456' }), { logger: false, predictor: new StubPredictor() });
    try {
      await expect(new BucketClient({ baseUrl: guarded.url }).list('datasets/')).rejects.toMatchObject({ status: 401 });
      await expect(new BucketClient({ baseUrl: guarded.url, token: () => 'secret-token-123456' }).list('datasets/')).resolves.toEqual([]);
    } finally {
      await guarded.close();
    }
  });

  it('names and types objects the way the server accepts them', () => {
    expect(contentTypeFor('a/B.JPG')).toBe('image/jpeg');
    expect(contentTypeFor('x.svg')).toBe('image/svg+xml');
    expect(contentTypeFor('x.txt')).toBeUndefined();
    expect(safeName('My run: 10 epochs / v2')).toBe('My-run-10-epochs-v2');
    expect(safeName('../..')).toBe('unnamed');
  });
});
