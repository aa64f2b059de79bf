/**
 * Moving datasets and models between the device and the server's bucket (the embedded one,
 * or Cloud Storage when the server is configured for it). The server only signs URLs; the
 * bytes go straight between this page and the bucket.
 */
import type { DatasetSummary, Engine, ImportFile, ImportResult, ModelSummary, Progress } from '../engine/types';
import { trainingCurvesSvg } from '../../../model/curves';
import { BucketClient, safeName, type BucketObject } from '../api/bucket-client';

export { BucketError } from '../api/bucket-client';

/** One client per page, talking to the server that served it. */
export const bucketClient = new BucketClient();

/** Downloads at once; signed URLs make each a plain GET. */
const CONCURRENCY = 6;
/** Objects downloaded before they are handed to the engine, so a big bucket never sits in memory whole. */
const CHUNK = 256;

const IMAGE = /\.(jpe?g|png|webp|gif|bmp)$/i;

async function mapLimit<T, R>(items: readonly T[], limit: number, fn: (item: T) => Promise<R>): Promise<R[]> {
  const out = new Array<R>(items.length);
  let next = 0;
  await Promise.all(
    Array.from({ length: Math.min(limit, items.length) }, async () => {
      while (next < items.length) {
        const i = next++;
        out[i] = await fn(items[i]!);
      }
    }),
  );
  return out;
}

/**
 * Imports every image under a bucket prefix as one dataset, keeping the object names as paths
 * (so `seg_train/seg_train/<class>/…` or `datasets/NAME/<split>/<class>/…` give classes and
 * splits). Downloads and imports go chunk by chunk; the first chunk creates the dataset.
 */
export async function importFromBucket(
  engine: Engine,
  prefix: string,
  name: string,
  options: { signal?: AbortSignal; onProgress?: (p: Progress) => void; client?: BucketClient } = {},
): Promise<{ dataset: DatasetSummary; imported: number; skipped: ImportResult['skipped'] }> {
  const client = options.client ?? bucketClient;
  const objects = (await client.list(prefix, options.signal)).filter((o) => IMAGE.test(o.name));
  if (objects.length === 0) throw new Error(`no images under ${prefix} in the bucket`);
  let dataset: DatasetSummary | null = null;
  let imported = 0;
  const skipped: ImportResult['skipped'] = [];
  for (let start = 0; start < objects.length; start += CHUNK) {
    const chunk = objects.slice(start, start + CHUNK);
    const files = await mapLimit(chunk, CONCURRENCY, async (o: BucketObject): Promise<ImportFile> => {
      const blob = await client.download(o, options.signal);
      options.onProgress?.({ stage: 'download', done: Math.min(objects.length, start + chunk.indexOf(o) + 1), total: objects.length, detail: o.name });
      return { path: o.name, file: new File([blob], o.name.split('/').pop() ?? 'image', { type: blob.type || o.contentType || '' }) };
    });
    const result = await engine.importDataset(
      { name, source: { kind: 'files', files }, ...(dataset && { datasetId: dataset.id }) },
      { ...(options.signal && { signal: options.signal }), onProgress: (p) => options.onProgress?.({ ...p, done: start + p.done, total: objects.length }) },
    );
    dataset = result.dataset;
    imported += result.imported;
    skipped.push(...result.skipped);
  }
  return { dataset: dataset!, imported, skipped };
}

/** Where a dataset's image goes: `datasets/NAME/<split>/<class>/<id>-<file>`; unlabelled ones under `pred/`. */
export function datasetObjectName(dataset: Pick<DatasetSummary, 'name' | 'id'>, image: { id: number; path: string; label: string | null; split: string }): string {
  const folder = `datasets/${safeName(dataset.name)}-${dataset.id.slice(0, 8)}`;
  const file = `${image.id}-${safeName(image.path.split('/').pop() ?? 'image')}`;
  if (image.label === null) return `${folder}/pred/${file}`;
  const split = image.split === 'unassigned' ? '' : `${image.split}/`;
  return `${folder}/${split}${safeName(image.label)}/${file}`;
}

/** Uploads a dataset's original images, page by page; returns the folder they went to. */
export async function uploadDataset(
  engine: Engine,
  dataset: DatasetSummary,
  options: { signal?: AbortSignal; onProgress?: (p: Progress) => void; client?: BucketClient } = {},
): Promise<{ folder: string; uploaded: number }> {
  const client = options.client ?? bucketClient;
  let uploaded = 0;
  for (let offset = 0; ; offset += 64) {
    options.signal?.throwIfAborted();
    const page = await engine.images({ datasetId: dataset.id, offset, limit: 64, original: true });
    await mapLimit(page.images, CONCURRENCY, async (img) => {
      const bytes = await img.blob.arrayBuffer();
      await client.upload(datasetObjectName(dataset, img), new Blob([bytes]), options.signal);
      uploaded++;
      options.onProgress?.({ stage: 'upload', done: uploaded, total: page.total, detail: img.path });
    });
    if (offset + 64 >= page.total) break;
  }
  return { folder: `datasets/${safeName(dataset.name)}-${dataset.id.slice(0, 8)}/`, uploaded };
}

/**
 * Uploads a model bundle to `models/NAME.zip` (what the server's predictor and `scenelab
 * deploy` read) and its training curves and metrics to `runs/NAME/`.
 */
export async function uploadModel(engine: Engine, model: ModelSummary, options: { signal?: AbortSignal; client?: BucketClient } = {}): Promise<string[]> {
  const client = options.client ?? bucketClient;
  const base = `${safeName(model.name)}-${model.id.slice(0, 8)}`;
  const bundle = await engine.exportModel(model.id);
  const uploads: Array<[string, Blob]> = [[`models/${base}.zip`, new Blob([bundle as Uint8Array<ArrayBuffer>])]];
  if (model.history.length > 0) {
    uploads.push([`runs/${base}/history.json`, new Blob([JSON.stringify(model.history, null, 2)])]);
    uploads.push([`runs/${base}/curves.svg`, new Blob([trainingCurvesSvg(model.history)])]);
  }
  if (model.metrics) uploads.push([`runs/${base}/metrics.json`, new Blob([JSON.stringify({ split: model.metricsSplit, ...model.metrics }, null, 2)])]);
  for (const [name, blob] of uploads) await client.upload(name, blob, options.signal);
  return uploads.map(([name]) => name);
}
