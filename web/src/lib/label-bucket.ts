/**
 * A label export into the server's bucket: the dataset's original images under the export's
 * prefix (so a Vertex AI file's `gs://` URIs name real objects when the prefix names the
 * server's Cloud Storage bucket), then the file itself beside them.
 */
import { normalizeGcsPrefix } from '../../../model/labels';
import { safeName } from '../api/bucket-client';
import type { LabelExport } from '../engine/label-types';
import type { Engine } from '../engine/types';
import { bucketClient } from './bucket';

/** The object folder for an export: the prefix's path (it must be under `datasets/`), or the dataset's own folder. */
export function exportFolder(gcsPrefix: string | null, datasetName: string, datasetId: string): string {
  if (gcsPrefix === null) return `datasets/${safeName(datasetName)}-${datasetId.slice(0, 8)}/`;
  const path = normalizeGcsPrefix(gcsPrefix).replace(/^gs:\/\/[^/]+\//, '');
  if (!path.startsWith('datasets/')) throw new Error(`the app writes to the bucket under datasets/ only: use a prefix like gs://BUCKET/datasets/NAME/ (got ${gcsPrefix})`);
  return path;
}

/** Uploads the images (originals, by their names in the file) and the label file; zips are downloads only. */
export async function uploadLabelExport(engine: Engine, datasetId: string, out: LabelExport, gcsPrefix: string | null, signal?: AbortSignal): Promise<{ images: number; file: string }> {
  if (out.fileName.endsWith('.zip')) throw new Error('a zip export is a download; upload the dataset itself from the Datasets screen');
  const dataset = (await engine.listDatasets()).find((d) => d.id === datasetId);
  if (!dataset) throw new Error('this dataset no longer exists');
  const folder = exportFolder(gcsPrefix, dataset.name, datasetId);
  let images = 0;
  for (let offset = 0; ; offset += 64) {
    const page = await engine.images({ datasetId, offset, limit: 64, original: true });
    for (const img of page.images) {
      await bucketClient.upload(folder + img.path, new Blob([await img.blob.arrayBuffer()]), signal);
      images++;
    }
    if (offset + 64 >= page.total) break;
  }
  const file = folder + out.fileName;
  await bucketClient.upload(file, new Blob([out.data as Uint8Array<ArrayBuffer>]), signal);
  return { images, file };
}
