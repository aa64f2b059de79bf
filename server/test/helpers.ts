import { mkdtempSync, readdirSync, readFileSync } from 'node:fs';
import { mkdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { crc32, deflateSync } from 'node:zlib';
import path from 'node:path';
import { initNodeBackend } from '../../node/backend';
import { exportModelFiles, zipModelFiles } from '../../model/artifacts';
import { ClassifierModel } from '../../model/model';
import { loadConfig, type ServerConfig } from '../config';

/** The shared Intel scenes beside the repository. */
export const INTEL = path.resolve(import.meta.dirname, '../../../shared/datasets/intel-scenes');
export const CLASSES = ['buildings', 'forest', 'glacier', 'mountain', 'sea', 'street'];

/** A fresh temporary folder, removed by `cleanup`. */
export function tempDir(tag: string): string {
  return mkdtempSync(path.join(tmpdir(), `scenelab-${tag}-`));
}

export async function cleanup(dir: string): Promise<void> {
  await rm(dir, { recursive: true, force: true });
}

/** The first `n` test JPEGs of a class, as bytes. */
export function intelJpegs(cls: string, n: number, split: 'test' | 'train' = 'test'): Uint8Array[] {
  const dir = path.join(INTEL, split, cls);
  return readdirSync(dir)
    .sort((a, b) => parseInt(a, 10) - parseInt(b, 10))
    .slice(0, n)
    .map((f) => new Uint8Array(readFileSync(path.join(dir, f))));
}

/** Base64 of bytes, as a client puts it in `{"data": {"b64": …}}`. */
export const b64 = (bytes: Uint8Array): string => Buffer.from(bytes).toString('base64');

/**
 * A small untrained SqueezeNet with the six Intel classes, written as a run directory and as
 * a bundle. Its answers are arbitrary but deterministic (seeded), which is all the server needs.
 */
export async function makeModel(dir: string, seed = 1): Promise<{ runDir: string; bundle: string; bundleBytes: Uint8Array }> {
  await initNodeBackend('wasm');
  const model = ClassifierModel.create({ arch: 'squeezenet1_1', numClasses: 6, labels: CLASSES, seed });
  try {
    const files = await exportModelFiles(model, { metrics: { accuracy: 0 } });
    const runDir = path.join(dir, `run-${seed}`);
    await mkdir(runDir, { recursive: true });
    for (const [name, bytes] of files) await writeFile(path.join(runDir, name), bytes);
    const bundleBytes = zipModelFiles(files);
    const bundle = path.join(dir, `model-${seed}.zip`);
    await writeFile(bundle, bundleBytes);
    return { runDir, bundle, bundleBytes };
  } finally {
    model.dispose();
  }
}

/** A configuration for a test server: loopback, a free port, data and web folders under `dir`. */
export function testConfig(dir: string, env: Record<string, string> = {}): ServerConfig {
  return loadConfig({
    SCENELAB_DATA_DIR: path.join(dir, 'data'),
    SCENELAB_WEB_DIR: path.join(dir, 'web'),
    SCENELAB_PORT: '0',
    SCENELAB_LOG_LEVEL: 'silent',
    ...env,
  });
}

/** A PNG of the given size, made by sharp (for size and decompression-bomb tests). */
export async function solidPng(width: number, height: number): Promise<Uint8Array> {
  const sharp = (await import('sharp')).default;
  const buf = await sharp({ create: { width, height, channels: 3, background: { r: 30, g: 120, b: 60 } } })
    .png({ compressionLevel: 9 })
    .toBuffer();
  return new Uint8Array(buf);
}

/** JSON POST helper. */
export async function postJson(url: string, body: unknown, headers: Record<string, string> = {}): Promise<{ status: number; json: Record<string, unknown>; headers: Headers }> {
  const res = await fetch(url, { method: 'POST', headers: { 'content-type': 'application/json', ...headers }, body: typeof body === 'string' ? body : JSON.stringify(body) });
  const text = await res.text();
  let json: Record<string, unknown>;
  try {
    json = JSON.parse(text) as Record<string, unknown>;
  } catch {
    json = { text };
  }
  return { status: res.status, json, headers: res.headers };
}

/** A complete, tiny PNG whose header declares `width`x`height`: the shape of a decompression bomb. */
export function pngDeclaring(width: number, height: number): Uint8Array {
  const chunk = (type: string, data: Buffer): Buffer => {
    const body = Buffer.concat([Buffer.from(type, 'ascii'), data]);
    const out = Buffer.alloc(8 + data.length + 4);
    out.writeUInt32BE(data.length, 0);
    body.copy(out, 4);
    out.writeUInt32BE(crc32(body), 8 + data.length);
    return out;
  };
  const ihdr = Buffer.alloc(13);
  ihdr.writeUInt32BE(width, 0);
  ihdr.writeUInt32BE(height, 4);
  ihdr.set([8, 2, 0, 0, 0], 8);
  return new Uint8Array(
    Buffer.concat([Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]), chunk('IHDR', ihdr), chunk('IDAT', deflateSync(Buffer.alloc(4096))), chunk('IEND', Buffer.alloc(0))]),
  );
}
