/**
 * Labels as folders in a zip, in the Intel scenes layout: `<split>/<class>/<file>` for a
 * labelled image and `<split>/<file>` for an unlabelled one, with split folders `train`,
 * `validation`, `test` and `pred` (no split). Any tool that reads class folders reads it, and
 * SceneLab's dataset import takes it back as a dataset. SceneLab also writes
 * `.scenelab/names.csv` (entry path → image name), which folder readers skip as a hidden
 * file, so importing the zip as labels finds each image by its exact name.
 */
import { strFromU8, strToU8, unzipSync, zipSync, type Zippable } from 'fflate';
import type { ImageRecord, Split } from '../data/records';
import { isImagePath } from '../data/records';
import { csvLine, parseCsv } from './csv';
import { resolveImport, type ImportProblem, type LabelImport, type LabelImportOptions, type RawLabel } from './label-import';

/** Where SceneLab keeps the entry → image-name table inside the zip. */
export const ZIP_NAMES_ENTRY = '.scenelab/names.csv';

const SPLIT_FOLDER: Record<Split, string> = { train: 'train', validation: 'validation', test: 'test', unassigned: 'pred' };

/** Folder names read as splits (Intel's `seg_*` and common abbreviations included). */
const FOLDER_SPLIT: Record<string, Split> = {
  train: 'train',
  training: 'train',
  seg_train: 'train',
  validation: 'validation',
  val: 'validation',
  valid: 'validation',
  test: 'test',
  seg_test: 'test',
  pred: 'unassigned',
  seg_pred: 'unassigned',
  unassigned: 'unassigned',
};

const folderSplit = (name: string): Split | undefined => (Object.hasOwn(FOLDER_SPLIT, name.toLowerCase()) ? FOLDER_SPLIT[name.toLowerCase()] : undefined);

/** `a.jpg`, `a (2).jpg`, … : the first name not yet used in a folder (case-insensitively, for case-folding file systems). */
function uniqueIn(used: Set<string>, file: string): string {
  const dot = file.lastIndexOf('.');
  const [stem, ext] = dot > 0 ? [file.slice(0, dot), file.slice(dot)] : [file, ''];
  let name = file;
  for (let k = 2; used.has(name.toLowerCase()); k++) name = `${stem} (${k})${ext}`;
  used.add(name.toLowerCase());
  return name;
}

/**
 * A zip of a dataset's images in the folder layout. `bytes` gives each image's file (throws
 * naming the image when it has none). Images are stored, not deflated: JPEG and PNG are
 * compressed already.
 */
export function exportFolderZip(records: readonly ImageRecord[], bytes: (image: string) => Uint8Array | undefined): Uint8Array {
  const entries: Zippable = {};
  const used = new Map<string, Set<string>>();
  const names: string[][] = [['entry', 'image']];
  for (const r of records) {
    const data = bytes(r.uri);
    if (!data) throw new RangeError(`no file for the image "${r.uri}"`);
    if (r.label !== null && /[/\\]|^\.\.?$/.test(r.label)) throw new RangeError(`the class "${r.label}" cannot be a folder name`);
    const folder = r.label === null ? SPLIT_FOLDER[r.split] : `${SPLIT_FOLDER[r.split]}/${r.label}`;
    const set = used.get(folder) ?? new Set<string>();
    used.set(folder, set);
    const base = r.uri.replace(/\\/g, '/').split('/').filter(Boolean).at(-1) ?? 'image';
    const entry = `${folder}/${uniqueIn(set, base)}`;
    entries[entry] = [data, { level: 0 }];
    names.push([entry, r.uri]);
  }
  entries[ZIP_NAMES_ENTRY] = strToU8(names.map(csvLine).join('\n') + '\n');
  return zipSync(entries);
}

/** Entry paths of a zip and the names table, without inflating the images. */
function readZip(zip: Uint8Array): { paths: string[]; names: Map<string, string> | null } {
  const paths: string[] = [];
  let files: Record<string, Uint8Array>;
  try {
    files = unzipSync(zip, {
      filter: (f) => {
        paths.push(f.name);
        return f.name === ZIP_NAMES_ENTRY;
      },
    });
  } catch (e) {
    throw new RangeError(`not a readable zip file (${(e as Error).message})`);
  }
  const table = files[ZIP_NAMES_ENTRY];
  if (!table) return { paths, names: null };
  const names = new Map<string, string>();
  for (const { fields } of parseCsv(strFromU8(table)).rows.slice(1)) if (fields[0] && fields[1]) names.set(fields[0], fields[1]);
  return { paths, names };
}

/**
 * Labels and splits from a zip in the folder layout, matched to the dataset's images: by the
 * names table when SceneLab wrote the zip, else by the entry's path. A folder wrapping
 * everything is ignored; hidden files, `__MACOSX/` and non-image files are skipped. Problems
 * name the entry's path. Throws a RangeError when the bytes are not a zip.
 */
export function importFolderZip(zip: Uint8Array, file: string, options: LabelImportOptions): LabelImport {
  const { paths, names } = readZip(zip);
  const images = paths
    .map((p, i) => ({ entry: p, index: i + 1, parts: p.replace(/\\/g, '/').split('/').filter(Boolean) }))
    .filter((e) => !e.entry.endsWith('/') && !e.parts.some((p) => p.startsWith('.') || p === '__MACOSX') && isImagePath(e.entry));
  // One folder around everything (a zipped folder) is not a split.
  const root = images[0]?.parts[0];
  if (root !== undefined && folderSplit(root) === undefined && images.every((e) => e.parts.length > 1 && e.parts[0] === root)) {
    for (const e of images) e.parts = e.parts.slice(1);
  }
  const problems: ImportProblem[] = [];
  const raw: RawLabel[] = [];
  for (const e of images) {
    const at = (reason: string): void => void problems.push({ source: e.entry, line: e.index, reason });
    let parts = e.parts;
    // Kaggle's archive doubles the split folder: seg_train/seg_train/<class>/<file>.
    if (parts.length === 4 && parts[0]!.toLowerCase() === parts[1]!.toLowerCase()) parts = parts.slice(1);
    const split = parts.length >= 2 ? folderSplit(parts[0]!) : undefined;
    if (parts.length < 2 || parts.length > 3) {
      at('expected <split>/<class>/<file> or <split>/<file>');
      continue;
    }
    if (split === undefined) {
      at(`"${parts[0]}" is not a split folder (train, validation, test or pred)`);
      continue;
    }
    const ref = names?.get(e.entry) ?? parts.join('/');
    raw.push({ line: e.index, where: e.entry, ref, label: parts.length === 3 ? parts[1]! : null, split });
  }
  return resolveImport(file, raw, problems, options);
}
