/**
 * The engine's Node home for tests: fake-indexeddb, a sharp decoder, the CLI's WASM backend
 * and in-memory locks. Imported by *.test.ts only (never bundled into the app).
 */
import 'fake-indexeddb/auto';
import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import sharp from 'sharp';
import { initNodeBackend } from '../../../node/backend';
import { decodeImage } from '../../../node/data';
import { ImageDecodeError } from '../../../model/data/source';
import type { BackendInfo, BinaryFile, ImageInput, ImportFile } from './types';
import type { RawImage } from '../../../model/preprocess';
import { openDb, type Db } from './store-schema';
import { LocalEngine, type Decoder, type Locks } from './local-engine';

const here = path.dirname(fileURLToPath(import.meta.url));
export const SHARED = process.env.SCENELAB_SHARED ?? path.resolve(here, '../../../../shared');
export const INTEL = path.join(SHARED, 'datasets/intel-scenes');
export const PTH = path.join(SHARED, 'weights/squeezenet1_1-features-imagenet.pth');

function isRaw(v: ImageInput): v is RawImage {
  return 'data' in v && 'channels' in v;
}

export const sharpDecoder: Decoder = {
  // The CLI's decoder (sharp, EXIF-rotated RGB), as the Node home of the engine.
  decode: async (input, name) => (isRaw(input) ? input : decodeImage(new Uint8Array(await (input as BinaryFile).arrayBuffer()), name)),
  async modelCopy(file, name) {
    try {
      const bytes = new Uint8Array(await file.arrayBuffer());
      const meta = await sharp(bytes).metadata();
      await sharp(bytes).raw().toBuffer(); // a truncated file fails here, not at metadata
      const width = meta.width ?? 0;
      const height = meta.height ?? 0;
      if (Math.max(width, height) <= 256) return { copy: null, width, height };
      const small = await sharp(bytes).resize(256, 256, { fit: 'inside' }).jpeg().toBuffer();
      return { copy: new Blob([new Uint8Array(small)], { type: 'image/jpeg' }), width, height };
    } catch {
      throw new ImageDecodeError(name, 'cannot decode image');
    }
  },
};

/** Locks held by this process, as `navigator.locks` would report them. */
export class MemoryLocks implements Locks {
  readonly names = new Set<string>();
  async request<T>(name: string, callback: () => Promise<T>): Promise<T> {
    this.names.add(name);
    try {
      return await callback();
    } finally {
      this.names.delete(name);
    }
  }
  async held(): Promise<string[]> {
    return [...this.names];
  }
}

let backend: BackendInfo | null = null;
let dbCount = 0;

/** A fresh engine over a fresh database. */
export function nodeEngine(options: { locks?: Locks; featureCacheLimit?: number; dbName?: string; db?: Db } = {}): { engine: LocalEngine; dbName: string } {
  const dbName = options.dbName ?? `scenelab-test-${process.pid}-${++dbCount}`;
  const engine = new LocalEngine({
    db: options.db ?? (() => openDb(dbName)),
    decoder: sharpDecoder,
    backends: {
      select: async () => {
        const info = await initNodeBackend('wasm');
        backend = Object.freeze({ name: info.name, adapter: null, simd: info.simd, threads: info.threads, attempts: [] });
        return backend;
      },
      current: () => backend,
      onDeviceLost: () => () => undefined,
    },
    ...(options.locks && { locks: options.locks }),
    ...(options.featureCacheLimit !== undefined && { featureCacheLimit: options.featureCacheLimit }),
  });
  return { engine, dbName };
}

/** `intel-small/{train,test}/<class>/<file>` entries of the shared dataset, as a folder picker gives them. */
export function intelFiles(classes: string[], trainPerClass: number, testPerClass: number): ImportFile[] {
  const out: ImportFile[] = [];
  for (const [split, n] of [['train', trainPerClass], ['test', testPerClass]] as const) {
    for (const c of classes) {
      const dir = path.join(INTEL, split, c);
      for (const f of readdirSync(dir).sort().slice(0, n)) {
        out.push({ path: `intel-small/${split}/${c}/${f}`, file: new Blob([readFileSync(path.join(dir, f))], { type: 'image/jpeg' }) });
      }
    }
  }
  return out;
}
