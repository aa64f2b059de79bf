/**
 * What the engine's parts share: the injected dependencies (decoding, backends, locks,
 * storage estimates), the IndexedDB handle, writes that turn a full quota into a clear error,
 * and the model kept warm for classify/evaluate.
 */
import type { ClassifierModel } from '../../../model/model';
import type { RawImage } from '../../../model/preprocess';
import type { StartReplicas } from '../../../model/replicas/pool';
import { ImageDecodeError, type ImageSource } from '../../../model/data/source';
import { isQuotaError, openDb, type Db } from './store-schema';
import { StorageFullError } from './errors';
import type { BackendInfo, BackendName, BackendPreference, BinaryFile, ImageInput, StorageInfo } from './types';

/** Decoding, injected: `createImageBitmap` in browsers, sharp in Node tests. */
export interface Decoder {
  decode(input: ImageInput, name: string): Promise<RawImage>;
  /** Checks the file decodes and returns the model-size copy (null when the original is small enough). */
  modelCopy(file: BinaryFile, name: string): Promise<{ copy: Blob | null; width: number; height: number }>;
}

/** Backend control, injected (web/src/engine/backend.ts in the worker). */
export interface BackendControl {
  select(preference: BackendPreference, exclude?: readonly BackendName[]): Promise<BackendInfo>;
  current(): BackendInfo | null;
  onDeviceLost(listener: (reason: string) => void): () => void;
}

/** `navigator.locks`: a run holds its lock while it trains, so a reloaded page can tell a dead run from a live one. */
export interface Locks {
  request<T>(name: string, callback: () => Promise<T>): Promise<T>;
  held(): Promise<string[]>;
}

export interface LocalEngineDeps {
  db?: Db | (() => Promise<Db>);
  decoder: Decoder;
  backends: BackendControl;
  storage?: () => Promise<StorageInfo>;
  locks?: Locks;
  /** Most bytes of backbone features frozen training may keep in memory. */
  featureCacheLimit?: number;
  /** Replicas of a run's model on other threads, for runs on this backend (web/src/engine/replicas.ts in the worker). */
  replicas?: (backend: BackendInfo | null) => StartReplicas | undefined;
}

export const uuid = (): string => crypto.randomUUID();

export class EngineContext {
  private dbPromise: Promise<Db> | null = null;
  preference: BackendPreference = 'auto';
  /** The model classify/evaluate last used, kept warm. */
  loaded: { id: string; backend: string; model: ClassifierModel } | null = null;

  constructor(readonly deps: LocalEngineDeps) {}

  db(): Promise<Db> {
    if (!this.dbPromise) {
      const d = this.deps.db;
      this.dbPromise = d === undefined ? openDb() : typeof d === 'function' ? d() : Promise.resolve(d);
    }
    return this.dbPromise;
  }

  async ensureBackend(): Promise<BackendInfo> {
    return this.deps.backends.current() ?? this.deps.backends.select(this.preference);
  }

  /** Runs a write, turning the browser's quota refusal into a message that says what to do. */
  async write(what: string, fn: () => Promise<void>): Promise<void> {
    try {
      await fn();
    } catch (e) {
      if (isQuotaError(e)) throw new StorageFullError(what);
      throw e;
    }
  }

  unloadModel(): void {
    this.loaded?.model.dispose();
    this.loaded = null;
  }
}

/** Images of one dataset, read from IndexedDB one at a time as training asks. */
export class IdbImageSource implements ImageSource {
  constructor(
    private readonly db: Db,
    private readonly decoder: Decoder,
    readonly ids: readonly number[],
    private readonly labels: Int32Array,
  ) {}
  get size(): number {
    return this.ids.length;
  }
  label(i: number): number {
    return this.labels[i]!;
  }
  name(i: number): string {
    return `image #${this.ids[i]!}`;
  }
  async load(i: number, signal?: AbortSignal): Promise<RawImage> {
    signal?.throwIfAborted();
    const row = await this.db.get('images', this.ids[i]!);
    if (!row) throw new ImageDecodeError(this.name(i), 'deleted from the dataset');
    return this.decoder.decode(row.copy ?? row.original, row.path);
  }
}
