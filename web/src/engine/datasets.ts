/**
 * Datasets and their images in IndexedDB: import from a folder or a zip (decoded, checked and
 * stored in batches; a failed or cancelled import leaves nothing behind), listing, thumbnails,
 * re-splitting and deletion.
 */
import { isImagePath, recordsFromPaths, type DataProblem, type Split } from '../../../model/data/records';
import { ImageDecodeError } from '../../../model/data/source';
import { Rng } from '../../../model/rng';
import { bumpLabelVersion, classesOfCounts, countImage, type DatasetRow, type ImageRow } from './store-schema';
import { uuid, type EngineContext } from './context';
import {
  type BinaryFile,
  type CallOptions,
  type DatasetSummary,
  type ImageQuery,
  type ImageThumb,
  type ImportRequest,
  type ImportResult,
  type ResplitRequest,
} from './types';
import { streamZip, zipEntryNames } from './zip';

/** Images stored per IndexedDB transaction during import. */
const IMPORT_BATCH = 32;
/** Files decoded at once during import. */
const IMPORT_CONCURRENCY = 6;

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

const summaryOfRow = ({ labelVersion: _v, labelCurve: _c, ...row }: DatasetRow, classes: string[]): DatasetSummary => ({ ...row, classes });

export class Datasets {
  constructor(private readonly ctx: EngineContext) {}

  async importDataset(request: ImportRequest, options: CallOptions = {}): Promise<ImportResult> {
    const { signal, onProgress } = options;
    const db = await this.ctx.db();
    const started = performance.now();
    let ds: DatasetRow;
    const isNew = !request.datasetId;
    if (request.datasetId) {
      const existing = await db.get('datasets', request.datasetId);
      if (!existing) throw new Error(`no dataset ${request.datasetId}`);
      ds = existing;
    } else {
      ds = { id: uuid(), name: request.name, createdAt: Date.now(), status: 'importing', imageCount: 0, unlabelled: 0, counts: {}, problems: [] };
      await this.ctx.write('the new dataset', async () => {
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
          const { copy, width, height } = await this.ctx.deps.decoder.modelCopy(file, record.uri);
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
      await this.ctx.write(`${keep.length} images`, async () => {
        const tx = db.transaction(['images', 'datasets'], 'readwrite');
        const images = tx.objectStore('images');
        const cur = (await tx.objectStore('datasets').get(ds.id)) ?? ds;
        const writes: Promise<unknown>[] = [];
        try {
          for (const row of keep) {
            writes.push(images.add(row));
            countImage(cur, row.label, row.split);
          }
          bumpLabelVersion(cur);
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
      let classes = classesOfCounts(ds.counts);
      await this.ctx.write('the dataset summary', async () => {
        const tx = db.transaction(['datasets', 'labels'], 'readwrite');
        const cur = (await tx.objectStore('datasets').get(ds.id)) ?? ds;
        // Adding to a dataset keeps its class list and order (classes made while labelling, maybe still empty).
        const had = (await tx.objectStore('labels').get(ds.id))?.classes ?? [];
        classes = [...had, ...classes.filter((c) => !had.includes(c))];
        cur.status = 'ready';
        cur.problems = [...cur.problems, ...skipped].slice(0, 5000);
        bumpLabelVersion(cur);
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

  async listDatasets(): Promise<DatasetSummary[]> {
    const db = await this.ctx.db();
    const [rows, labels] = await Promise.all([db.getAll('datasets'), db.getAll('labels')]);
    const byId = new Map(labels.map((l) => [l.datasetId, l.classes]));
    return rows.sort((a, b) => b.createdAt - a.createdAt).map((r) => summaryOfRow(r, byId.get(r.id) ?? classesOfCounts(r.counts)));
  }

  async images(query: ImageQuery): Promise<{ total: number; images: ImageThumb[] }> {
    const db = await this.ctx.db();
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
    const db = await this.ctx.db();
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
    await this.ctx.write('the new splits', async () => {
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
      bumpLabelVersion(ds);
      await tx.objectStore('datasets').put(ds);
      await tx.done;
      result = ds;
    });
    return summaryOfRow(result, classesRow.classes);
  }

  async deleteDataset(id: string): Promise<void> {
    const db = await this.ctx.db();
    const keys = await db.getAllKeysFromIndex('images', 'byDataset', id);
    const history = await db.getAllKeysFromIndex('labelHistory', 'byDataset', id);
    const tx = db.transaction(['images', 'datasets', 'labels', 'labelHistory'], 'readwrite');
    for (const k of keys) void tx.objectStore('images').delete(k);
    for (const k of history) void tx.objectStore('labelHistory').delete(k);
    void tx.objectStore('datasets').delete(id);
    void tx.objectStore('labels').delete(id);
    await tx.done;
  }
}

function mimeOf(path: string): string {
  const ext = path.slice(path.lastIndexOf('.') + 1).toLowerCase();
  return ext === 'jpg' ? 'image/jpeg' : `image/${ext}`;
}
