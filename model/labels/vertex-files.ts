/**
 * Vertex AI single-label image-classification import files, read and written: CSV lines
 * `[ml_use,]gs://bucket/path.jpg[,label]` and JSON Lines with `imageGcsUri`,
 * `classificationAnnotation.displayName` and the `aiplatform.googleapis.com/ml_use` resource
 * label. ml_use is `training`, `validation` or `test`; without it Vertex AI assigns the split
 * itself (SceneLab's `unassigned`); an image without a label is unlabelled.
 */
import type { ImageRecord, Split } from '../data/records';
import { csvLine, parseCsv } from './csv';
import { problemAt, resolveImport, type ImportProblem, type LabelImport, type LabelImportOptions, type RawLabel } from './label-import';
import { suggestVertexLabels, vertexLabelProblem } from './vertex-names';

/** The resource label that carries a data item's split. */
export const ML_USE_KEY = 'aiplatform.googleapis.com/ml_use';

/** One line of an import file: a `gs://` URI, its label (null: unlabelled) and its split. */
export interface VertexRow {
  line: number;
  uri: string;
  label: string | null;
  split: Split;
}

/** ml_use as written in files → split; '' (absent) is unassigned; undefined when unknown. */
function mlUse(value: string | undefined): Split | undefined {
  switch ((value ?? '').trim().toLowerCase()) {
    case '':
      return 'unassigned';
    case 'training':
    case 'train':
      return 'train';
    case 'validation':
      return 'validation';
    case 'test':
      return 'test';
    default:
      return undefined;
  }
}

const ML_USE_OF: Record<Split, string> = { train: 'training', validation: 'validation', test: 'test', unassigned: '' };
const badMlUse = (v: string): string => `unknown ml_use "${v}" (expected training, validation or test)`;
const SINGLE_LABEL = 'more than one label: only single-label classification is supported';

/** Reads a CSV import file; each bad line is a problem naming `file:line`, the others are rows. */
export function readVertexCsv(text: string, file = 'import.csv'): { rows: VertexRow[]; problems: ImportProblem[] } {
  const rows: VertexRow[] = [];
  const problems: ImportProblem[] = [];
  const parsed = parseCsv(text);
  for (const { line, fields } of parsed.rows) {
    const at = (reason: string): void => void problems.push(problemAt(file, line, reason));
    let split: Split | undefined = 'unassigned';
    let rest = fields;
    if (fields[0] !== undefined && !fields[0].startsWith('gs://')) {
      split = mlUse(fields[0]);
      rest = fields.slice(1);
      if (split === undefined) {
        at(badMlUse(fields[0]));
        continue;
      }
    }
    const [uri, label, ...extra] = rest;
    if (!uri || !uri.startsWith('gs://') || uri.length <= 5) at('expected a gs:// image URI');
    else if (extra.some((e) => e !== '')) at(SINGLE_LABEL);
    else rows.push({ line, uri, label: label ? label : null, split });
  }
  if (parsed.unterminated !== null) problems.push(problemAt(file, parsed.unterminated, 'a quoted field is never closed'));
  return { rows, problems };
}

/** Reads a JSON Lines import file (`classificationAnnotation`, or a one-element `classificationAnnotations`). */
export function readVertexJsonl(text: string, file = 'import.jsonl'): { rows: VertexRow[]; problems: ImportProblem[] } {
  const rows: VertexRow[] = [];
  const problems: ImportProblem[] = [];
  text.split(/\r?\n/).forEach((text, i) => {
    const line = i + 1;
    const at = (reason: string): void => void problems.push(problemAt(file, line, reason));
    if (text.trim() === '') return;
    let obj: unknown;
    try {
      obj = JSON.parse(text);
    } catch {
      at('not valid JSON');
      return;
    }
    const o = obj as {
      imageGcsUri?: unknown;
      classificationAnnotation?: { displayName?: unknown };
      classificationAnnotations?: Array<{ displayName?: unknown }>;
      dataItemResourceLabels?: Record<string, unknown>;
    };
    if (typeof o !== 'object' || o === null || Array.isArray(o) || typeof o.imageGcsUri !== 'string' || !o.imageGcsUri.startsWith('gs://')) {
      at('missing imageGcsUri (a gs:// URI)');
      return;
    }
    if (Array.isArray(o.classificationAnnotations) && o.classificationAnnotations.length > 1) {
      at(SINGLE_LABEL);
      return;
    }
    const name = o.classificationAnnotation?.displayName ?? o.classificationAnnotations?.[0]?.displayName;
    const use = o.dataItemResourceLabels?.[ML_USE_KEY];
    const split = use === undefined ? 'unassigned' : typeof use === 'string' ? mlUse(use) : undefined;
    if (split === undefined) {
      at(badMlUse(String(use)));
      return;
    }
    if (name !== undefined && typeof name !== 'string') {
      at('classificationAnnotation.displayName must be a string');
      return;
    }
    rows.push({ line, uri: o.imageGcsUri, label: name ? name : null, split });
  });
  return { rows, problems };
}

/** Writes rows as a CSV import file: ml_use only for assigned splits, the label only for labelled images. */
export function writeVertexCsv(rows: ReadonlyArray<Omit<VertexRow, 'line'>>): string {
  return rows.map((r) => csvLine([...(r.split === 'unassigned' ? [] : [ML_USE_OF[r.split]]), r.uri, ...(r.label === null ? [] : [r.label])])).join('\n') + '\n';
}

/** Writes rows as a JSON Lines import file. */
export function writeVertexJsonl(rows: ReadonlyArray<Omit<VertexRow, 'line'>>): string {
  return (
    rows
      .map((r) =>
        JSON.stringify({
          imageGcsUri: r.uri,
          ...(r.label !== null && { classificationAnnotation: { displayName: r.label } }),
          ...(r.split !== 'unassigned' && { dataItemResourceLabels: { [ML_USE_KEY]: ML_USE_OF[r.split] } }),
        }),
      )
      .join('\n') + '\n'
  );
}

/** Checks and normalises a `gs://bucket[/prefix]` location to `gs://bucket/prefix/`. */
export function normalizeGcsPrefix(prefix: string): string {
  const m = /^gs:\/\/([^/]+)(\/.*)?$/.exec(prefix.trim());
  if (!m) throw new RangeError(`"${prefix}" is not a Cloud Storage location (gs://bucket/prefix)`);
  const bucket = m[1]!;
  if (!/^[a-z0-9][a-z0-9._-]{1,220}[a-z0-9]$/.test(bucket)) throw new RangeError(`"${bucket}" is not a valid bucket name (lowercase letters, digits, -, _ and .)`);
  const path = (m[2] ?? '/').replace(/\/+$/, '').replace(/^\/+/, '');
  return `gs://${bucket}/${path === '' ? '' : `${path}/`}`;
}

/** How a Vertex AI export names things. */
export interface VertexExportOptions {
  /** Where the images are (will be) uploaded: `gs://bucket/prefix`; an image's URI is this plus its name. */
  gcsPrefix: string;
  /** Class → name in the file (from {@link suggestVertexLabels}); classes not in it are written as they are. */
  labelNames?: ReadonlyMap<string, string>;
}

/** Rows of an export; throws a RangeError when a name cannot be written (an invalid class name suggests its mapping). */
function exportRows(records: readonly ImageRecord[], options: VertexExportOptions): Array<Omit<VertexRow, 'line'>> {
  const prefix = normalizeGcsPrefix(options.gcsPrefix);
  const bad = new Set<string>();
  const rows = records.map((r) => {
    // Cloud Storage object names cannot hold line breaks.
    if (/[\r\n]/.test(r.uri)) throw new RangeError(`image "${r.uri}" has a line break in its name, which Cloud Storage does not allow`);
    const label = r.label === null ? null : (options.labelNames?.get(r.label) ?? r.label);
    if (label !== null && vertexLabelProblem(label) !== null) bad.add(r.label!);
    return { uri: prefix + r.uri.replace(/^\/+/, ''), label, split: r.split };
  });
  if (bad.size > 0) {
    const suggestion = suggestVertexLabels([...bad]);
    const list = [...bad].map((c) => `"${c}" → "${suggestion.get(c)}"`).join(', ');
    throw new RangeError(`Vertex AI class names must start with a letter and hold only letters, digits and underscores (at most 32); rename: ${list}`);
  }
  return rows;
}

/** A Vertex AI CSV import file for a dataset's images. */
export function exportVertexCsv(records: readonly ImageRecord[], options: VertexExportOptions): string {
  return writeVertexCsv(exportRows(records, options));
}

/** A Vertex AI JSON Lines import file for a dataset's images. */
export function exportVertexJsonl(records: readonly ImageRecord[], options: VertexExportOptions): string {
  return writeVertexJsonl(exportRows(records, options));
}

/**
 * Import options for Vertex AI files: `gcsPrefix`, when given, must start every URI and is
 * stripped to give the image's exact name; without it, the object path after the bucket is
 * matched to the image sharing the most trailing path components.
 */
export interface VertexImportOptions extends LabelImportOptions {
  gcsPrefix?: string;
}

function importRows(file: string, read: { rows: VertexRow[]; problems: ImportProblem[] }, options: VertexImportOptions): LabelImport {
  const prefix = options.gcsPrefix === undefined ? null : normalizeGcsPrefix(options.gcsPrefix);
  const raw: RawLabel[] = [];
  for (const r of read.rows) {
    if (prefix !== null && !r.uri.startsWith(prefix)) {
      read.problems.push(problemAt(file, r.line, `"${r.uri}" is not under ${prefix}`));
      continue;
    }
    // Without a prefix, the object path after the bucket is matched on its trailing components.
    const ref = prefix !== null ? r.uri.slice(prefix.length) : r.uri.replace(/^gs:\/\/[^/]+\//, '');
    raw.push({ line: r.line, ref, exact: prefix !== null, label: r.label, split: r.split });
  }
  return resolveImport(file, raw, read.problems, options);
}

/** Labels and splits from a Vertex AI CSV import file, matched to the dataset's images. */
export function importVertexCsv(text: string, file: string, options: VertexImportOptions): LabelImport {
  return importRows(file, readVertexCsv(text, file), options);
}

/** Labels and splits from a Vertex AI JSON Lines import file, matched to the dataset's images. */
export function importVertexJsonl(text: string, file: string, options: VertexImportOptions): LabelImport {
  return importRows(file, readVertexJsonl(text, file), options);
}
