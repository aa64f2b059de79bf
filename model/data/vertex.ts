import type { DataProblem, ImageRecord, Split } from './records';

const ML_USE_KEY = 'aiplatform.googleapis.com/ml_use';

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

/** RFC 4180 fields of one CSV line (quotes, doubled quotes, commas inside quotes). */
export function parseCsvLine(line: string): string[] {
  const out: string[] = [];
  let field = '';
  let quoted = false;
  for (let i = 0; i < line.length; i++) {
    const c = line[i]!;
    if (quoted) {
      if (c === '"' && line[i + 1] === '"') {
        field += '"';
        i++;
      } else if (c === '"') quoted = false;
      else field += c;
    } else if (c === '"') quoted = true;
    else if (c === ',') {
      out.push(field);
      field = '';
    } else field += c;
  }
  out.push(field);
  return out.map((f) => f.trim());
}

/**
 * A Vertex AI single-label image classification import file in CSV:
 * `[ml_use,]gs://bucket/path.jpg[,label]`, one image per line (ml_use is `training`,
 * `validation` or `test`; an image without a label is unlabelled). Bad lines are reported
 * with their number and skipped.
 */
export function parseVertexCsv(text: string, source = 'import.csv'): { records: ImageRecord[]; problems: DataProblem[] } {
  const records: ImageRecord[] = [];
  const problems: DataProblem[] = [];
  text.split(/\r?\n/).forEach((line, i) => {
    if (line.trim() === '') return;
    const where = `${source}:${i + 1}`;
    const f = parseCsvLine(line);
    let split: Split | undefined = 'unassigned';
    let rest = f;
    if (f[0] !== undefined && !f[0].startsWith('gs://')) {
      split = mlUse(f[0]);
      rest = f.slice(1);
      if (split === undefined) {
        problems.push({ source: where, reason: `unknown ml_use "${f[0]}" (expected training, validation or test)` });
        return;
      }
    }
    const [uri, label, ...extra] = rest;
    if (!uri || !uri.startsWith('gs://') || uri.length <= 5) {
      problems.push({ source: where, reason: 'expected a gs:// image URI' });
      return;
    }
    if (extra.some((e) => e !== '')) {
      problems.push({ source: where, reason: 'more than one label: only single-label classification is supported' });
      return;
    }
    records.push({ uri, label: label ? label : null, split });
  });
  return { records, problems };
}

/**
 * A Vertex AI image classification import file in JSON Lines: `imageGcsUri`,
 * `classificationAnnotation.displayName` (or the first of `classificationAnnotations`) and
 * `dataItemResourceLabels["aiplatform.googleapis.com/ml_use"]`.
 */
export function parseVertexJsonl(text: string, source = 'import.jsonl'): { records: ImageRecord[]; problems: DataProblem[] } {
  const records: ImageRecord[] = [];
  const problems: DataProblem[] = [];
  text.split(/\r?\n/).forEach((line, i) => {
    if (line.trim() === '') return;
    const where = `${source}:${i + 1}`;
    let obj: unknown;
    try {
      obj = JSON.parse(line);
    } catch {
      problems.push({ source: where, reason: 'not valid JSON' });
      return;
    }
    const o = obj as {
      imageGcsUri?: unknown;
      classificationAnnotation?: { displayName?: unknown };
      classificationAnnotations?: Array<{ displayName?: unknown }>;
      dataItemResourceLabels?: Record<string, unknown>;
    };
    if (typeof o !== 'object' || o === null || typeof o.imageGcsUri !== 'string' || !o.imageGcsUri.startsWith('gs://')) {
      problems.push({ source: where, reason: 'missing imageGcsUri (a gs:// URI)' });
      return;
    }
    if (Array.isArray(o.classificationAnnotations) && o.classificationAnnotations.length > 1) {
      problems.push({ source: where, reason: 'more than one label: only single-label classification is supported' });
      return;
    }
    const name = o.classificationAnnotation?.displayName ?? o.classificationAnnotations?.[0]?.displayName;
    const use = o.dataItemResourceLabels?.[ML_USE_KEY];
    const split = mlUse(typeof use === 'string' ? use : undefined);
    if (split === undefined) {
      problems.push({ source: where, reason: `unknown ml_use "${String(use)}" (expected training, validation or test)` });
      return;
    }
    records.push({ uri: o.imageGcsUri, label: typeof name === 'string' && name !== '' ? name : null, split });
  });
  return { records, problems };
}

/** Picks the parser by file name (`.jsonl`/`.json` or `.csv`). */
export function parseVertexImportFile(name: string, text: string): { records: ImageRecord[]; problems: DataProblem[] } {
  return /\.jsonl?$/i.test(name) ? parseVertexJsonl(text, name) : parseVertexCsv(text, name);
}

/** Writes records back as a Vertex AI CSV import file (labels and ml_use kept). */
export function toVertexCsv(records: readonly ImageRecord[]): string {
  const use = (s: Split): string => (s === 'train' ? 'training' : s === 'unassigned' ? '' : s);
  const q = (v: string): string => (/[",\n]/.test(v) ? `"${v.replace(/"/g, '""')}"` : v);
  return records.map((r) => [use(r.split), q(r.uri), q(r.label ?? '')].join(',')).join('\n') + '\n';
}
