import { readFile, stat } from 'node:fs/promises';
import type { Storage } from '@google-cloud/storage';
import { ModelFormatError, unzipModelFiles, type ModelFiles } from '../../model/artifacts';
import { readModelFiles } from '../../node/model-store';
import type { LocalBucket } from '../storage/local-bucket';

/** Files a model directory holds; anything else under the prefix (checkpoints, curves) is not downloaded. */
const MODEL_FILE = /^(?:[^/]+\.json|weights\.bin)$/;

/** Splits `gs://bucket/path` into its parts. */
export function parseGsUri(uri: string): { bucket: string; prefix: string } {
  const m = /^gs:\/\/([a-z0-9][a-z0-9._-]{1,220}[a-z0-9])(?:\/(.*))?$/.exec(uri);
  if (!m) throw new ModelFormatError(`"${uri}" is not a gs://bucket/path URI`);
  return { bucket: m[1]!, prefix: m[2] ?? '' };
}

/**
 * Downloads a model from Cloud Storage: the folder Vertex AI names in `AIP_STORAGE_URI`
 * (model.json, weights.bin and the other JSON files), or a single bundle `.zip`.
 */
export async function downloadGcsModel(storage: Storage, uri: string): Promise<ModelFiles> {
  const { bucket, prefix } = parseGsUri(uri);
  if (prefix.endsWith('.zip')) {
    const [bytes] = await storage.bucket(bucket).file(prefix).download();
    return unzipModelFiles(bytes);
  }
  const folder = prefix === '' || prefix.endsWith('/') ? prefix : `${prefix}/`;
  const [files] = await storage.bucket(bucket).getFiles({ prefix: folder });
  const direct = files.filter((f) => MODEL_FILE.test(f.name.slice(folder.length)));
  if (!direct.some((f) => f.name === `${folder}model.json`)) {
    const bundles = files.filter((f) => f.name.endsWith('.zip'));
    if (bundles.length === 1) {
      const [bytes] = await bundles[0]!.download();
      return unzipModelFiles(bytes);
    }
    throw new ModelFormatError(`${uri} holds no model.json (and not exactly one bundle .zip): upload the model with "scenelab deploy"`);
  }
  const out: ModelFiles = new Map();
  await Promise.all(
    direct.map(async (f) => {
      const [bytes] = await f.download();
      out.set(f.name.slice(folder.length), new Uint8Array(bytes.buffer, bytes.byteOffset, bytes.length));
    }),
  );
  return out;
}

/** Reads a model from a run directory, a bundle file, or `gs://…` (with the client given). */
export async function readModelFrom(location: string, storage?: () => Storage): Promise<ModelFiles> {
  if (location.startsWith('gs://')) {
    if (!storage) throw new ModelFormatError(`${location}: no Cloud Storage client`);
    return downloadGcsModel(storage(), location);
  }
  try {
    return await readModelFiles(location);
  } catch (e) {
    // The CLI's messages name its --model flag; the server names the location only.
    throw new ModelFormatError((e as Error).message.replace(/^--model /, ''));
  }
}

/** The most recently written model bundle (`models/….zip`) in the embedded bucket, if any. */
export async function newestBundle(bucket: LocalBucket): Promise<{ object: string; file: string } | null> {
  let best: { object: string; file: string; mtime: number } | null = null;
  let pageToken: string | undefined;
  do {
    const page = await bucket.list('models/', { maxResults: 1000, ...(pageToken ? { pageToken } : {}) });
    for (const o of page.objects) {
      if (!o.name.endsWith('.zip')) continue;
      const file = `${bucket.objectsDir}/${o.name}`;
      const mtime = (await stat(file)).mtimeMs;
      if (!best || mtime > best.mtime) best = { object: o.name, file, mtime };
    }
    pageToken = page.nextPageToken;
  } while (pageToken);
  return best && { object: best.object, file: best.file };
}

/** Reads a bundle file from the embedded bucket. */
export async function readBundle(file: string): Promise<ModelFiles> {
  return unzipModelFiles(await readFile(file));
}
