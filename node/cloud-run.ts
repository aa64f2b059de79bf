/**
 * Moving a run to and from Cloud Storage for Vertex AI training: the trainer package, the data
 * and the starting weights go up under a staging prefix; when the job succeeds, the model
 * directory the trainer wrote (`AIP_MODEL_DIR`) comes back as a complete SceneLab run directory.
 */
import { readFile, stat } from 'node:fs/promises';
import path from 'node:path';
import type { Storage } from '@google-cloud/storage';
import { exportModelFiles, importModelFiles, type ModelFiles } from '../model/artifacts';
import type { EpochRecord } from '../model/train';
import { InputError } from './errors';
import { writeModelDir } from './model-store';
import { walkFiles } from './walk';

/** `gs://bucket/path` split; a trailing slash is dropped. */
export function parseGs(uri: string, flag: string): { bucket: string; path: string } {
  const m = /^gs:\/\/([a-z0-9][a-z0-9._-]{1,220}[a-z0-9])(?:\/(.*?))?\/*$/.exec(uri);
  if (!m) throw new InputError(`${flag} ${uri}: expected gs://BUCKET/PATH`);
  return { bucket: m[1]!, path: m[2] ?? '' };
}

/** Where a `gs://` object appears inside a Vertex AI training container (Cloud Storage FUSE). */
export const fusePath = (bucket: string, object: string): string => `/gcs/${bucket}/${object}`.replace(/\/+$/, '');

/** Writes one object, refusing to overwrite: a staging prefix is new for every job. */
export async function uploadObject(storage: Storage, bucket: string, name: string, bytes: Uint8Array, contentType = 'application/octet-stream'): Promise<void> {
  try {
    await storage.bucket(bucket).file(name).save(Buffer.from(bytes.buffer, bytes.byteOffset, bytes.length), { resumable: false, contentType, preconditionOpts: { ifGenerationMatch: 0 } });
  } catch (e) {
    if ((e as { code?: unknown }).code === 412) throw new InputError(`gs://${bucket}/${name} already exists; choose another --name (staging never overwrites)`);
    throw e;
  }
}

/** What a local `--data` or `--weights` becomes in the job: the objects to upload and the path the trainer reads. */
export interface StagedInput {
  /** The trainer's view (`/gcs/…`). */
  trainerPath: string;
  uploads: Array<{ object: string; file: string }>;
}

/**
 * Plans the staging of `--data`: a `gs://` folder or import file is read where it is; a local
 * folder (links followed) or import file is uploaded under `<prefix>/data/`.
 */
export async function planData(data: string, bucket: string, prefix: string): Promise<StagedInput> {
  if (data.startsWith('gs://')) {
    const g = parseGs(data, '--data');
    return { trainerPath: fusePath(g.bucket, g.path), uploads: [] };
  }
  let st;
  try {
    st = await stat(data);
  } catch {
    throw new InputError(`--data ${data}: no such file or folder`);
  }
  if (st.isDirectory()) {
    const { files } = await walkFiles(data);
    if (files.length === 0) throw new InputError(`--data ${data}: the folder is empty`);
    return { trainerPath: fusePath(bucket, `${prefix}/data`), uploads: files.map((f) => ({ object: `${prefix}/data/${f}`, file: path.join(data, f) })) };
  }
  if (!/\.(csv|jsonl?)$/i.test(data)) throw new InputError(`--data ${data}: expected a folder, a Vertex AI import file (.csv or .jsonl) or gs://…`);
  const object = `${prefix}/data/${path.basename(data)}`;
  return { trainerPath: fusePath(bucket, object), uploads: [{ object, file: data }] };
}

/** Plans the staging of `--weights`: a `gs://` file is read where it is, a local one uploaded. */
export async function planWeights(weights: string, bucket: string, prefix: string): Promise<StagedInput> {
  if (weights.startsWith('gs://')) {
    const g = parseGs(weights, '--weights');
    return { trainerPath: fusePath(g.bucket, g.path), uploads: [] };
  }
  try {
    await stat(weights);
  } catch {
    throw new InputError(`--weights ${weights}: no such file`);
  }
  const object = `${prefix}/weights/${path.basename(weights)}`;
  return { trainerPath: fusePath(bucket, object), uploads: [{ object, file: weights }] };
}

/** Uploads what a plan lists, reporting each file. */
export async function stage(storage: Storage, bucket: string, plan: StagedInput, onFile?: (done: number, total: number) => void): Promise<void> {
  let done = 0;
  for (const u of plan.uploads) {
    await uploadObject(storage, bucket, u.object, await readFile(u.file), /\.jpe?g$/i.test(u.file) ? 'image/jpeg' : 'application/octet-stream');
    onFile?.(++done, plan.uploads.length);
  }
}

/** The files the trainer wrote under `gs://bucket/folder/` (one level, as it writes them). */
export async function downloadFolder(storage: Storage, bucket: string, folder: string): Promise<ModelFiles> {
  const prefix = folder.endsWith('/') ? folder : `${folder}/`;
  const [objects] = await storage.bucket(bucket).getFiles({ prefix });
  const files: ModelFiles = new Map();
  for (const o of objects) {
    const name = o.name.slice(prefix.length);
    if (!name || name.includes('/')) continue;
    const [bytes] = await o.download();
    files.set(name, new Uint8Array(bytes.buffer, bytes.byteOffset, bytes.length));
  }
  return files;
}

const readJson = (files: ModelFiles, name: string): unknown => {
  const b = files.get(name);
  return b ? JSON.parse(new TextDecoder().decode(b)) : undefined;
};

/**
 * Turns the trainer's output (model.pth and its JSON files) into a complete SceneLab run
 * directory: the tfjs model, curves and the trainer's own files, so `scenelab eval`, `predict`,
 * `export` and the app treat it as a run trained on the device. Needs a tfjs backend.
 */
export async function writeRunFromTrainer(files: ModelFiles, out: string): Promise<void> {
  if (!files.has('model.pth')) throw new InputError(`the job finished but wrote no model.pth (found: ${[...files.keys()].join(', ') || 'nothing'})`);
  const model = importModelFiles(files);
  try {
    const history = readJson(files, 'history.json') as EpochRecord[] | undefined;
    const metrics = readJson(files, 'metrics.json') as Record<string, unknown> | undefined;
    const hyperparameters = readJson(files, 'hyperparameters.json') as Record<string, unknown> | undefined;
    const ours = await exportModelFiles(model, { ...(hyperparameters && { hyperparameters }), ...(history && { history }), ...(metrics && { metrics }) });
    await writeModelDir(out, new Map([...files, ...ours]));
  } finally {
    model.dispose();
  }
}
