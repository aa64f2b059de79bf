/**
 * The engine, in-process: model/ driven over the IndexedDB store. The worker hosts one of
 * these (worker.ts); tests run one directly in Node with fake-indexeddb and a sharp decoder.
 * It never touches the DOM: decoding, backend choice and storage estimates are injected.
 */
import { importModelFiles, readModelJson, unzipModelFiles, zipModelFiles } from '../../../model/artifacts';
import { isImagePath, recordsFromPaths, type DataProblem, type Split } from '../../../model/data/records';
import { ImageDecodeError, type ImageSource } from '../../../model/data/source';
import {
  StorageFullError,
  type BackendInfo,
  type BackendName,
  type BackendPreference,
  type BinaryFile,
  type CallOptions,
  type ClassifyRequest,
  type ClassifyResponse,
  type ClassifyResult,
  type DatasetSummary,
  type Engine,
  type EvaluateRequest,
  type EvaluateResult,
  type ImageInput,
  type ImageQuery,
  type ImageThumb,
  type ImportRequest,
  type ImportResult,
  type ModelSummary,
  type ResplitRequest,
  type RunSummary,
  type StorageInfo,
  type TrainConfig,
  type TrainOutcome,
  type TrainProgress,
  type WeightsSummary,
} from './types';
import { classify, evaluate, type EvalReport } from '../../../model/evaluate';
import { ClassifierModel, HEAD_PREFIX } from '../../../model/model';
import type { RawImage } from '../../../model/preprocess';
import { readPth } from '../../../model/pth';
import { Rng } from '../../../model/rng';
import type { StateDict } from '../../../model/tensor-data';
import { isTrainEvent, runTraining } from '../../../model/run/pipeline';
import type { TrainCheckpoint } from '../../../model/train';
import { classesOfCounts, countImage, isQuotaError, openDb, type DatasetRow, type Db, type ImageRow, type ModelRow, type RunRow, type WeightsRow } from './db';
import { streamZip, zipEntryNames } from './zip';

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
}

/** Images stored per IndexedDB transaction during import. */
const IMPORT_BATCH = 32;
/** Files decoded at once during import. */
const IMPORT_CONCURRENCY = 6;
const DEFAULT_FEATURE_LIMIT = 1024 * 2 ** 20;

const uuid = (): string => crypto.randomUUID();
const lockName = (runId: string): string => `scenelab-run-${runId}`;

/** Runs `fn` over `items` with at most `limit` in flight, results in order. */
async function mapLimit<T, R>(items: readonly T[], limit: number, fn: (item: T) => Promise<R>): Promise<R[]> {
  const out = new Array<R>(items.length);
  let next = 0;
  const workers = Array.from({ length: Math.min(limit, items.length) }, async () => {
    while (next < items.length) {
      const i = next++;
      out[i] = await fn(items[i]!);
    }
  });
  await Promise.all(workers);
  return out;
}

/** Folder pickers prefix every path with the folder's own name; a zip often wraps everything in one folder. */
export function stripCommonRoot(paths: readonly string[]): (path: string) => string {
  const first = paths[0]?.replace(/\\/g, '/').split('/')[0];
  const splitNames = new Set(['seg_train', 'seg_test', 'seg_pred', 'train', 'test', 'pred', 'val', 'valid', 'validation', 'training']);
  const common =
    first !== undefined &&
    !splitNames.has(first.toLowerCase()) &&
    paths.every((p) => {
      const parts = p.replace(/\\/g, '/').split('/');
      return parts.length >= 2 && parts[0] === first;
    });
  return common ? (p) => p.replace(/\\/g, '/').slice(first.length + 1) : (p) => p;
}

const summaryOfRow = (row: DatasetRow, classes: string[]): DatasetSummary => ({ ...row, classes });

function weightsInfo(sd: StateDict): Pick<WeightsSummary, 'tensors' | 'parameters' | 'arch' | 'hasHead'> {
  const keys = [...sd.keys()].map((k) => k.replace(/^module\./, ''));
  const parameters = [...sd.values()].reduce((n, t) => n + (t.dtype.startsWith('float') ? t.data.length : 0), 0);
  const arch = keys.some((k) => k.includes('.expand3x3.')) ? 'squeezenet1_1' : keys.some((k) => k.includes('.block.')) ? 'mobilenet_v3_small' : null;
  return { tensors: keys.length, parameters, arch, hasHead: keys.some((k) => k.startsWith(HEAD_PREFIX)) };
}

/** Images of one dataset, read from IndexedDB one at a time as training asks. */
class IdbImageSource implements ImageSource {
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

class DeviceLostError extends Error {
  constructor(reason: string) {
    super(`the GPU device was lost (${reason})`);
    this.name = 'DeviceLostError';
  }
}

export class LocalEngine implements Engine {
  private dbPromise: Promise<Db> | null = null;
  private preference: BackendPreference = 'auto';
  /** The model classify/evaluate last used, kept warm. */
  private loaded: { id: string; backend: string; model: ClassifierModel } | null = null;
  private deviceLost: string | null = null;
  private readonly lostControllers = new Set<AbortController>();

  constructor(private readonly deps: LocalEngineDeps) {
    deps.backends.onDeviceLost((reason) => {
      this.deviceLost = reason;
      for (const c of this.lostControllers) c.abort(new DeviceLostError(reason));
    });
  }

  private db(): Promise<Db> {
    if (!this.dbPromise) {
      const d = this.deps.db;
      this.dbPromise = d === undefined ? openDb() : typeof d === 'function' ? d() : Promise.resolve(d);
    }
    return this.dbPromise;
  }

  // ---------------------------------------------------------------- backend

  async init(preference: BackendPreference): Promise<BackendInfo> {
    this.preference = preference;
    this.unloadModel();
    return this.deps.backends.select(preference);
  }

  async backend(): Promise<BackendInfo | null> {
    return this.deps.backends.current();
  }

  private async ensureBackend(): Promise<BackendInfo> {
    return this.deps.backends.current() ?? this.deps.backends.select(this.preference);
  }

  // ---------------------------------------------------------------- datasets

  async importDataset(request: ImportRequest, options: CallOptions = {}): Promise<ImportResult> {
    const { signal, onProgress } = options;
    const db = await this.db();
    const started = performance.now();
    let ds: DatasetRow;
    const isNew = !request.datasetId;
    if (request.datasetId) {
      const existing = await db.get('datasets', request.datasetId);
      if (!existing) throw new Error(`no dataset ${request.datasetId}`);
      ds = existing;
    } else {
      ds = { id: uuid(), name: request.name, createdAt: Date.now(), status: 'importing', imageCount: 0, unlabelled: 0, counts: {}, problems: [] };
      await this.write('the new dataset', async () => {
        await db.put('datasets', ds);
      });
    }
    const skipped: DataProblem[] = [];
    let imported = 0;
    let seen = 0;
    let total = 0;

    type Pending = { path: string; file: BinaryFile };
    const store = async (batch: Pending[]): Promise<void> => {
      signal?.throwIfAborted();
      const rows = await mapLimit(batch, IMPORT_CONCURRENCY, async ({ path, file }): Promise<ImageRow | null> => {
        const { records, problems } = recordsFromPaths([path]);
        const record = records[0];
        if (!record) {
          skipped.push(...problems);
          return null;
        }
        try {
          const { copy, width, height } = await this.deps.decoder.modelCopy(file, record.uri);
          return { datasetId: ds.id, path: record.uri, label: record.label ?? '', split: record.split, original: file as Blob, copy, width, height };
        } catch (e) {
          if (e instanceof ImageDecodeError) {
            skipped.push({ source: record.uri, reason: e.message.replace(`${record.uri}: `, '') });
            return null;
          }
          throw e;
        }
      });
      const keep = rows.filter((r): r is ImageRow => r !== null);
      await this.write(`${keep.length} images`, async () => {
        const tx = db.transaction(['images', 'datasets'], 'readwrite');
        const images = tx.objectStore('images');
        const cur = (await tx.objectStore('datasets').get(ds.id)) ?? ds;
        const writes: Promise<unknown>[] = [];
        try {
          for (const row of keep) {
            writes.push(images.add(row));
            countImage(cur, row.label, row.split);
          }
          writes.push(tx.objectStore('datasets').put(cur));
        } finally {
          // Whatever happens below, no request's rejection goes unhandled.
          for (const w of writes) w.catch(() => undefined);
        }
        // All of a batch or none of it: the first failure (a quota error) rejects, the rest are handled.
        await Promise.all([...writes, tx.done]);
        ds = cur;
      });
      imported += keep.length;
      seen += batch.length;
      onProgress?.({ stage: 'import', done: seen, total, detail: `${imported} imported, ${skipped.length} skipped` });
    };

    try {
      if (request.source.kind === 'files') {
        const files = request.source.files;
        const strip = stripCommonRoot(files.map((f) => f.path));
        const usable: Pending[] = [];
        for (const f of files) {
          const path = strip(f.path);
          if (path.split('/').some((p) => p.startsWith('.') || p === '__MACOSX')) continue;
          if (!isImagePath(path)) skipped.push({ source: path, reason: 'not an image file' });
          else usable.push({ path, file: f.file });
        }
        total = usable.length;
        onProgress?.({ stage: 'import', done: 0, total });
        for (let i = 0; i < usable.length; i += IMPORT_BATCH) await store(usable.slice(i, i + IMPORT_BATCH));
      } else {
        const zip = request.source.zip;
        const names = await zipEntryNames(zip);
        const strip = stripCommonRoot(names);
        total = names.filter((n) => isImagePath(n) && !strip(n).split('/').some((p) => p.startsWith('.') || p === '__MACOSX')).length;
        onProgress?.({ stage: 'import', done: 0, total });
        const queue: Pending[] = [];
        await streamZip(
          zip,
          (name, data) => {
            const path = strip(name);
            if (path.split('/').some((p) => p.startsWith('.') || p === '__MACOSX')) return;
            if (!isImagePath(path)) skipped.push({ source: path, reason: 'not an image file' });
            else queue.push({ path, file: new Blob([data as Uint8Array<ArrayBuffer>], { type: mimeOf(path) }) });
          },
          async () => {
            while (queue.length >= IMPORT_BATCH) await store(queue.splice(0, IMPORT_BATCH));
          },
          signal,
        );
        while (queue.length > 0) await store(queue.splice(0, IMPORT_BATCH));
      }
      const classes = classesOfCounts(ds.counts);
      await this.write('the dataset summary', async () => {
        const tx = db.transaction(['datasets', 'labels'], 'readwrite');
        const cur = (await tx.objectStore('datasets').get(ds.id)) ?? ds;
        cur.status = 'ready';
        cur.problems = [...cur.problems, ...skipped].slice(0, 5000);
        await tx.objectStore('datasets').put(cur);
        await tx.objectStore('labels').put({ datasetId: ds.id, classes });
        await tx.done;
        ds = cur;
      });
      return { dataset: summaryOfRow(ds, classes), imported, skipped, seconds: (performance.now() - started) / 1000 };
    } catch (e) {
      // Nothing half-written: a new dataset that failed or was cancelled is removed whole.
      if (isNew) await this.deleteDataset(ds.id).catch(() => undefined);
      throw e;
    }
  }

  /** Runs a write, turning the browser's quota refusal into a message that says what to do. */
  private async write(what: string, fn: () => Promise<void>): Promise<void> {
    try {
      await fn();
    } catch (e) {
      if (isQuotaError(e)) throw new StorageFullError(what);
      throw e;
    }
  }

  async listDatasets(): Promise<DatasetSummary[]> {
    const db = await this.db();
    const [rows, labels] = await Promise.all([db.getAll('datasets'), db.getAll('labels')]);
    const byId = new Map(labels.map((l) => [l.datasetId, l.classes]));
    return rows.sort((a, b) => b.createdAt - a.createdAt).map((r) => summaryOfRow(r, byId.get(r.id) ?? classesOfCounts(r.counts)));
  }

  async images(query: ImageQuery): Promise<{ total: number; images: ImageThumb[] }> {
    const db = await this.db();
    let ids: number[];
    if (query.ids) ids = query.ids;
    else if (query.label !== undefined && query.split !== undefined)
      ids = await db.getAllKeysFromIndex('images', 'byDatasetSplitLabel', [query.datasetId, query.split, query.label ?? '']);
    else if (query.label !== undefined) ids = await db.getAllKeysFromIndex('images', 'byDatasetLabel', [query.datasetId, query.label ?? '']);
    else if (query.split !== undefined) ids = await db.getAllKeysFromIndex('images', 'byDatasetSplit', [query.datasetId, query.split]);
    else ids = await db.getAllKeysFromIndex('images', 'byDataset', query.datasetId);
    const offset = query.offset ?? 0;
    const page = ids.slice(offset, offset + (query.limit ?? 48));
    const tx = db.transaction('images');
    const rows = await Promise.all(page.map((id) => tx.store.get(id)));
    const images = rows
      .filter((r): r is ImageRow => r !== undefined)
      .map((r) => ({ id: r.id!, path: r.path, label: r.label === '' ? null : r.label, split: r.split, blob: query.original ? r.original : (r.copy ?? r.original) }));
    return { total: ids.length, images };
  }

  async resplit(request: ResplitRequest): Promise<DatasetSummary> {
    const { datasetId, validation, test, seed, keepTest } = request;
    if (!(validation >= 0 && test >= 0 && validation + test < 1)) throw new RangeError('validation and test fractions must be ≥ 0 and add up to less than 1');
    const db = await this.db();
    const classesRow = await db.get('labels', datasetId);
    if (!classesRow) throw new Error(`no dataset ${datasetId}`);
    const rng = new Rng(seed);
    const assign = new Map<number, Split>();
    for (const label of classesRow.classes) {
      const ids = await db.getAllKeysFromIndex('images', 'byDatasetLabel', [datasetId, label]);
      let pool = ids;
      if (keepTest) {
        const fixed = new Set(await db.getAllKeysFromIndex('images', 'byDatasetSplitLabel', [datasetId, 'test', label]));
        pool = ids.filter((id) => !fixed.has(id));
      }
      const order = rng.permutation(pool.length).map((k) => pool[k]!);
      const nTest = keepTest ? 0 : Math.round(order.length * test);
      const nVal = Math.round(order.length * validation);
      order.forEach((id, k) => assign.set(id, k < nTest ? 'test' : k < nTest + nVal ? 'validation' : 'train'));
    }
    let result!: DatasetRow;
    await this.write('the new splits', async () => {
      const tx = db.transaction(['images', 'datasets'], 'readwrite');
      const ds = await tx.objectStore('datasets').get(datasetId);
      if (!ds) throw new Error(`no dataset ${datasetId}`);
      for (const [id, split] of assign) {
        const row = await tx.objectStore('images').get(id);
        if (!row || row.split === split) continue;
        countImage(ds, row.label, row.split, -1);
        countImage(ds, row.label, split, 1);
        row.split = split;
        void tx.objectStore('images').put(row);
      }
      await tx.objectStore('datasets').put(ds);
      await tx.done;
      result = ds;
    });
    return summaryOfRow(result, classesRow.classes);
  }

  async deleteDataset(id: string): Promise<void> {
    const db = await this.db();
    const keys = await db.getAllKeysFromIndex('images', 'byDataset', id);
    const tx = db.transaction(['images', 'datasets', 'labels'], 'readwrite');
    for (const k of keys) void tx.objectStore('images').delete(k);
    void tx.objectStore('datasets').delete(id);
    void tx.objectStore('labels').delete(id);
    await tx.done;
  }

  // ---------------------------------------------------------------- weights

  async importWeights(name: string, file: BinaryFile): Promise<WeightsSummary> {
    const db = await this.db();
    const bytes = new Uint8Array(await file.arrayBuffer());
    const sha256 = Array.from(new Uint8Array(await crypto.subtle.digest('SHA-256', bytes)), (b) => b.toString(16).padStart(2, '0')).join('');
    const same = await db.getFromIndex('weights', 'bySha', sha256);
    if (same) {
      const { data: _data, ...summary } = same;
      return summary;
    }
    const sd = readPth(bytes); // throws PthFormatError with a readable message
    const row: WeightsRow = { id: uuid(), name, bytes: bytes.length, sha256, createdAt: Date.now(), ...weightsInfo(sd), data: new Blob([bytes]) };
    await this.write(`the weights file ${name}`, async () => {
      await db.put('weights', row);
    });
    const { data: _data, ...summary } = row;
    return summary;
  }

  async listWeights(): Promise<WeightsSummary[]> {
    const db = await this.db();
    return (await db.getAll('weights')).map(({ data: _data, ...s }) => s).sort((a, b) => b.createdAt - a.createdAt);
  }

  async deleteWeights(id: string): Promise<void> {
    await (await this.db()).delete('weights', id);
  }

  // ---------------------------------------------------------------- training

  async train(config: TrainConfig, options: CallOptions<TrainProgress> = {}): Promise<TrainOutcome> {
    const db = await this.db();
    const backend = await this.ensureBackend();
    const ds = await db.get('datasets', config.datasetId);
    if (!ds) throw new Error('the dataset of this run no longer exists');
    const now = Date.now();
    const run: RunRow = {
      id: uuid(),
      name: config.name ?? `${config.arch} on ${ds.name}, ${config.options.freeze ? 'head only' : 'all layers'}, ${config.options.epochs} epochs`,
      datasetId: config.datasetId,
      config,
      status: 'running',
      history: [],
      checkpointEpoch: 0,
      createdAt: now,
      updatedAt: now,
      modelId: null,
      error: null,
      backend: backend.name,
    };
    await this.write('the training run', async () => {
      await db.put('runs', run);
    });
    return this.execute(run, null, options);
  }

  async resume(runId: string, options: CallOptions<TrainProgress> = {}): Promise<TrainOutcome> {
    const db = await this.db();
    await this.ensureBackend();
    const run = await db.get('runs', runId);
    if (!run) throw new Error(`no run ${runId}`);
    if (run.status === 'done') throw new Error('this run has finished; start a new one');
    const held = (await this.deps.locks?.held()) ?? [];
    if (held.includes(lockName(runId))) throw new Error('this run is training in another tab');
    const ckpt = (await db.get('checkpoints', runId)) ?? null;
    run.status = 'running';
    run.error = null;
    await db.put('runs', run);
    return this.execute(run, ckpt, options);
  }

  private async execute(run: RunRow, checkpoint: TrainCheckpoint | null, options: CallOptions<TrainProgress>): Promise<TrainOutcome> {
    const go = async (): Promise<TrainOutcome> => {
      const excluded: BackendName[] = [];
      let resumeFrom = checkpoint;
      for (;;) {
        try {
          return await this.attempt(run, resumeFrom, options);
        } catch (e) {
          const lost = this.deviceLost;
          if (lost === null || options.signal?.aborted) {
            await this.finishRun(run, 'failed', null, (e as Error).message);
            throw e;
          }
          // The GPU went away: continue on the next backend from the last durable checkpoint.
          this.deviceLost = null;
          this.unloadModel();
          const failed = this.deps.backends.current()?.name;
          if (failed) excluded.push(failed);
          const info = await this.deps.backends.select(this.preference === 'auto' ? 'auto' : this.preference, excluded);
          options.onProgress?.({ type: 'backend', backend: info, reason: `${lost}; continuing on ${info.name} from the last checkpoint` });
          resumeFrom = (await (await this.db()).get('checkpoints', run.id)) ?? null;
          run.backend = info.name;
        }
      }
    };
    return this.deps.locks ? this.deps.locks.request(lockName(run.id), go) : go();
  }

  /** Training sources: labelled train/unassigned images, and the dataset's own validation split when it has one. */
  private async sources(db: Db, config: TrainConfig, classes: string[]): Promise<{ pool: IdbImageSource; validation: IdbImageSource }> {
    const collect = async (splits: Split[]): Promise<IdbImageSource> => {
      const ids: number[] = [];
      const labels: number[] = [];
      for (const [k, label] of classes.entries()) {
        for (const split of splits) {
          for (const id of await db.getAllKeysFromIndex('images', 'byDatasetSplitLabel', [config.datasetId, split, label])) {
            ids.push(id);
            labels.push(k);
          }
        }
      }
      return new IdbImageSource(db, this.deps.decoder, ids, Int32Array.from(labels));
    };
    return { pool: await collect(['train', 'unassigned']), validation: await collect(['validation']) };
  }

  private async attempt(run: RunRow, checkpoint: TrainCheckpoint | null, options: CallOptions<TrainProgress>): Promise<TrainOutcome> {
    const db = await this.db();
    const { config } = run;
    const classes = (await db.get('labels', config.datasetId))?.classes ?? [];
    if (classes.length < 2) throw new Error(`the dataset has ${classes.length} labelled class(es); training needs at least 2`);
    const { pool, validation } = await this.sources(db, config, classes);
    if (pool.size === 0) throw new Error('the dataset has no labelled training images');

    let weights: { name: string; stateDict: StateDict } | null = null;
    if (config.weightsId) {
      const w = await db.get('weights', config.weightsId);
      if (!w) throw new Error('the pretrained weights of this run were deleted; import them again');
      weights = { name: w.name, stateDict: readPth(new Uint8Array(await w.data.arrayBuffer())) };
    }
    const lostController = new AbortController();
    this.lostControllers.add(lostController);
    const signal = options.signal ? AbortSignal.any([options.signal, lostController.signal]) : lostController.signal;
    try {
      options.onProgress?.({ type: 'run', runId: run.id, resumedFromEpoch: checkpoint?.epoch ?? 0 });
      const { files, result, metrics, hyperparameters, preprocessing } = await runTraining(
        { config, classes, pool, validation, weights },
        {
          signal,
          onEvent: (e) => {
            if (isTrainEvent(e)) options.onProgress?.(e);
          },
          // Past this, a frozen run recomputes backbone features per batch instead of caching them.
          featureCacheLimitBytes: this.deps.featureCacheLimit ?? DEFAULT_FEATURE_LIMIT,
          ...(checkpoint && { resume: checkpoint }),
          onCheckpoint: async (c) => {
            // One transaction: the checkpoint and the run's progress land together or not at all.
            run.history = c.history;
            run.checkpointEpoch = c.epoch;
            run.updatedAt = Date.now();
            await this.write(`the checkpoint of epoch ${c.epoch}`, async () => {
              const tx = db.transaction(['runs', 'checkpoints'], 'readwrite');
              void tx.objectStore('checkpoints').put({ ...c, runId: run.id, savedAt: Date.now() });
              void tx.objectStore('runs').put(run);
              await tx.done;
            });
            options.onProgress?.({ type: 'checkpoint', epoch: c.epoch });
          },
        },
      );
      if (this.deviceLost !== null) throw new DeviceLostError(this.deviceLost);
      run.history = result.history;
      if (result.history.length === 0) {
        await this.finishRun(run, 'cancelled', null, null);
        return { run: this.runSummary(run, []), model: null };
      }
      const { split: _s, ...report } = metrics ?? { split: null };
      const summary: ModelSummary = {
        id: uuid(),
        name: run.name,
        arch: config.arch,
        labels: classes,
        preprocessing,
        createdAt: Date.now(),
        runId: run.id,
        datasetId: config.datasetId,
        hyperparameters: { ...hyperparameters },
        history: result.history,
        metrics: metrics ? (report as ModelSummary['metrics']) : null,
        metricsSplit: metrics ? 'validation' : null,
        bytes: [...files.values()].reduce((n, f) => n + f.length, 0),
      };
      await this.write('the trained model', async () => {
        await db.put('models', { ...summary, files });
      });
      await this.finishRun(run, result.cancelled ? 'cancelled' : 'done', summary.id, null);
      return { run: this.runSummary(run, []), model: summary };
    } finally {
      this.lostControllers.delete(lostController);
    }
  }

  private async finishRun(run: RunRow, status: RunRow['status'], modelId: string | null, error: string | null): Promise<void> {
    run.status = status;
    run.modelId = modelId ?? run.modelId;
    run.error = error;
    run.updatedAt = Date.now();
    await (await this.db()).put('runs', run).catch(() => undefined);
  }

  private runSummary(run: RunRow, held: string[]): RunSummary {
    const interrupted = run.status === 'running' && !held.includes(lockName(run.id)) && this.deps.locks !== undefined;
    return { ...run, status: interrupted ? 'interrupted' : run.status };
  }

  async listRuns(): Promise<RunSummary[]> {
    const db = await this.db();
    const held = (await this.deps.locks?.held()) ?? [];
    return (await db.getAll('runs')).sort((a, b) => b.createdAt - a.createdAt).map((r) => this.runSummary(r, held));
  }

  async deleteRun(id: string): Promise<void> {
    const db = await this.db();
    const tx = db.transaction(['runs', 'checkpoints'], 'readwrite');
    void tx.objectStore('runs').delete(id);
    void tx.objectStore('checkpoints').delete(id);
    await tx.done;
  }

  // ---------------------------------------------------------------- inference

  private unloadModel(): void {
    this.loaded?.model.dispose();
    this.loaded = null;
  }

  private async modelFor(id: string): Promise<{ row: ModelRow; model: ClassifierModel }> {
    const backend = await this.ensureBackend();
    const db = await this.db();
    const row = await db.get('models', id);
    if (!row) throw new Error('this model no longer exists');
    if (this.loaded?.id !== id || this.loaded.backend !== backend.name) {
      this.unloadModel();
      this.loaded = { id, backend: backend.name, model: importModelFiles(row.files) };
    }
    return { row, model: this.loaded.model };
  }

  async evaluate(request: EvaluateRequest, options: CallOptions = {}): Promise<EvaluateResult> {
    const db = await this.db();
    const { model } = await this.modelFor(request.modelId);
    const classes = (await db.get('labels', request.datasetId))?.classes ?? [];
    const index = new Map(model.labels.map((l, i) => [l, i]));
    const ids: number[] = [];
    const labels: number[] = [];
    const splits: Split[] = request.split === 'all' ? ['train', 'validation', 'test', 'unassigned'] : [request.split];
    for (const label of classes) {
      const k = index.get(label);
      if (k === undefined) continue;
      for (const split of splits) {
        for (const id of await db.getAllKeysFromIndex('images', 'byDatasetSplitLabel', [request.datasetId, split, label])) {
          ids.push(id);
          labels.push(k);
        }
      }
    }
    if (ids.length === 0) throw new Error(`no labelled images of the model's classes in the ${request.split} split`);
    const source = new IdbImageSource(db, this.deps.decoder, ids, Int32Array.from(labels));
    const report = await evaluate(model, source, {
      batchSize: 32,
      ...(options.signal && { signal: options.signal }),
      ...(options.onProgress && { onProgress: options.onProgress }),
    });
    const c = model.numClasses;
    const cells = Array.from({ length: c }, () => Array.from({ length: c }, () => [] as number[]));
    for (const p of report.predictions) cells[p.label]![p.predicted]!.push(ids[p.index]!);
    const { predictions: _p, ...rest } = report;
    return { report: rest, cells, unknownClasses: classes.filter((l) => !index.has(l)) };
  }

  async classify(request: ClassifyRequest, options: CallOptions = {}): Promise<ClassifyResponse> {
    const { model } = await this.modelFor(request.modelId);
    const backend = this.deps.backends.current()!;
    const names = request.images.map((_, i) => request.names?.[i] ?? `#${i + 1}`);
    const decoded = await Promise.all(
      request.images.map(async (img, i) => {
        try {
          return { image: await this.deps.decoder.decode(img, names[i]!), error: null };
        } catch (e) {
          return { image: null, error: (e as Error).message };
        }
      }),
    );
    options.signal?.throwIfAborted();
    const ok = decoded.flatMap((d, i) => (d.image ? [{ i, image: d.image }] : []));
    const t0 = performance.now();
    const predictions = ok.length ? await classify(model, ok.map((d) => d.image)) : [];
    const latencyMs = performance.now() - t0;
    const byIndex = new Map(ok.map((d, k) => [d.i, predictions[k]!]));
    const results: ClassifyResult[] = names.map((name, i) => ({ name, prediction: byIndex.get(i) ?? null, error: decoded[i]!.error }));
    return { results, latencyMs, backend: backend.name };
  }

  // ---------------------------------------------------------------- models

  async listModels(): Promise<ModelSummary[]> {
    const db = await this.db();
    return (await db.getAll('models')).map(({ files: _f, ...s }) => s).sort((a, b) => b.createdAt - a.createdAt);
  }

  async exportModel(id: string): Promise<Uint8Array> {
    const row = await (await this.db()).get('models', id);
    if (!row) throw new Error('this model no longer exists');
    return zipModelFiles(row.files);
  }

  async importModel(name: string, bundle: BinaryFile): Promise<ModelSummary> {
    await this.ensureBackend();
    const files = unzipModelFiles(new Uint8Array(await bundle.arrayBuffer()));
    const manifest = readModelJson(files);
    importModelFiles(files).dispose(); // validates the weights against the architecture
    const json = (file: string): unknown => {
      const b = files.get(file);
      return b ? JSON.parse(new TextDecoder().decode(b)) : null;
    };
    const metrics = json('metrics.json') as (Omit<EvalReport, 'predictions'> & { split?: Split }) | null;
    const summary: ModelSummary = {
      id: uuid(),
      name: name.replace(/\.zip$/i, ''),
      arch: manifest.arch as ModelSummary['arch'],
      labels: manifest.labels,
      preprocessing: manifest.preprocessing,
      createdAt: Date.now(),
      runId: null,
      datasetId: null,
      hyperparameters: (json('hyperparameters.json') as Record<string, unknown> | null) ?? {},
      history: (json('history.json') as ModelSummary['history'] | null) ?? [],
      metrics: metrics && typeof metrics.accuracy === 'number' ? metrics : null,
      metricsSplit: metrics?.split ?? null,
      bytes: [...files.values()].reduce((n, f) => n + f.length, 0),
    };
    await this.write('the imported model', async () => {
      await (await this.db()).put('models', { ...summary, files });
    });
    return summary;
  }

  async deleteModel(id: string): Promise<void> {
    if (this.loaded?.id === id) this.unloadModel();
    await (await this.db()).delete('models', id);
  }

  async storage(): Promise<StorageInfo> {
    return this.deps.storage ? this.deps.storage() : { usage: 0, quota: 0, persisted: false };
  }
}

function mimeOf(path: string): string {
  const ext = path.slice(path.lastIndexOf('.') + 1).toLowerCase();
  return ext === 'jpg' ? 'image/jpeg' : `image/${ext}`;
}

