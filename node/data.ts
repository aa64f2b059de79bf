import { readFile, stat } from 'node:fs/promises';
import path from 'node:path';
import sharp from 'sharp';
import { classesOf, recordsFromPaths, type DataProblem, type ImageRecord } from '../model/data/records';
import { ImageDecodeError, type ImageSource } from '../model/data/source';
import { parseVertexImportFile } from '../model/data/vertex';
import type { RawImage } from '../model/preprocess';
import { InputError } from './errors';
import { walkFiles } from './walk';

/** Images larger than this many pixels are refused before decoding (a 150x150 scene is 22,500). */
export const MAX_INPUT_PIXELS = 50_000_000;

/**
 * Decodes a JPEG/PNG/WebP/GIF/BMP file to RGB pixels. EXIF orientation is applied, so phone
 * photos come out upright; truncated or corrupt files raise `ImageDecodeError`.
 */
export async function decodeImage(bytes: Uint8Array, name: string): Promise<RawImage> {
  try {
    const { data, info } = await sharp(bytes, { limitInputPixels: MAX_INPUT_PIXELS, failOn: 'error' })
      .rotate()
      .removeAlpha()
      .toColourspace('srgb')
      .raw()
      .toBuffer({ resolveWithObject: true });
    if (info.channels !== 3) throw new Error(`decoded to ${info.channels} channels`);
    return { width: info.width, height: info.height, channels: 3, data: new Uint8Array(data.buffer, data.byteOffset, data.length) };
  } catch (e) {
    const msg = (e as Error).message;
    const reason = /unsupported image format/i.test(msg)
      ? 'not a supported image (JPEG, PNG, WebP, GIF or BMP)'
      : /pixel limit/i.test(msg)
        ? `image is larger than ${MAX_INPUT_PIXELS / 1e6} megapixels`
        : `cannot decode image (${msg.split('\n')[0]})`;
    throw new ImageDecodeError(name, reason);
  }
}

/** Decodes a file on disk. */
export async function decodeFile(file: string): Promise<RawImage> {
  let bytes: Uint8Array;
  try {
    bytes = await readFile(file);
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    throw new ImageDecodeError(file, code === 'ENOENT' ? 'no such file' : code === 'EISDIR' ? 'is a directory' : `cannot read (${code ?? 'error'})`);
  }
  return decodeImage(bytes, file);
}

/** A dataset on disk, with records and the problems found while reading it. */
export interface LocalDataset {
  root: string;
  records: ImageRecord[];
  problems: DataProblem[];
  /** Resolves a record's URI to a local file. */
  resolve(uri: string): string;
}

/**
 * Reads `--data`: a folder in the Intel layout, or a Vertex AI import file (`.csv`/`.jsonl`)
 * whose `gs://bucket/object` URIs are looked up under `gsRoot/bucket/object` (the embedded
 * local bucket keeps objects that way).
 */
export async function readLocalDataset(data: string, gsRoot?: string): Promise<LocalDataset> {
  let st;
  try {
    st = await stat(data);
  } catch {
    throw new InputError(`--data ${data}: no such file or folder`);
  }
  if (st.isDirectory()) {
    const walked = await walkFiles(data);
    const { records, problems } = recordsFromPaths(walked.files);
    const linkProblems = walked.problems.map((p) => ({ source: p.path, reason: p.reason }));
    return { root: data, records, problems: [...linkProblems, ...problems], resolve: (uri) => path.join(data, uri) };
  }
  if (!/\.(csv|jsonl?)$/i.test(data)) throw new InputError(`--data ${data}: expected a folder or a Vertex AI import file (.csv or .jsonl)`);
  const { records, problems } = parseVertexImportFile(path.basename(data), await readFile(data, 'utf8'));
  const base = gsRoot ?? path.dirname(data);
  return {
    root: base,
    records,
    problems,
    resolve: (uri) => {
      const m = /^gs:\/\/([^/]+)\/(.+)$/.exec(uri);
      if (!m) return path.resolve(base, uri);
      const file = path.resolve(base, m[1]!, m[2]!);
      if (!file.startsWith(path.resolve(base) + path.sep)) throw new ImageDecodeError(uri, 'URI points outside the bucket folder');
      return file;
    },
  };
}

/** Labelled records as an `ImageSource` over the given class list; records of other classes are reported. */
export function labelledSource(ds: LocalDataset, records: readonly ImageRecord[], classes: readonly string[]): { source: ImageSource; problems: DataProblem[] } {
  const index = new Map(classes.map((c, i) => [c, i]));
  const problems: DataProblem[] = [];
  const usable = records.filter((r) => {
    if (r.label === null) return false;
    if (!index.has(r.label)) {
      problems.push({ source: r.uri, reason: `class "${r.label}" is not one of the model's classes (${classes.join(', ')})` });
      return false;
    }
    return true;
  });
  return {
    problems,
    source: {
      size: usable.length,
      label: (i) => index.get(usable[i]!.label!)!,
      name: (i) => usable[i]!.uri,
      load: async (i) => decodeFile(ds.resolve(usable[i]!.uri)),
    },
  };
}

export { classesOf };
