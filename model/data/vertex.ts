/**
 * Vertex AI import files read as dataset records (`scenelab train --data import.csv`). The
 * parsing lives with the other label files in model/labels; these keep the record-shaped
 * results dataset readers use.
 */
import { readVertexCsv, readVertexJsonl, writeVertexCsv, type VertexRow } from '../labels/vertex-files';
import type { DataProblem, ImageRecord } from './records';

export { parseCsvLine } from '../labels/csv';

function asRecords(read: { rows: VertexRow[]; problems: Array<DataProblem & { line: number }> }): { records: ImageRecord[]; problems: DataProblem[] } {
  return {
    records: read.rows.map((r) => ({ uri: r.uri, label: r.label, split: r.split })),
    problems: read.problems.map((p) => ({ source: p.source, reason: p.reason })),
  };
}

/**
 * A Vertex AI single-label image classification import file in CSV:
 * `[ml_use,]gs://bucket/path.jpg[,label]`, one image per line (ml_use is `training`,
 * `validation` or `test`; an image without a label is unlabelled). Bad lines are reported
 * with their number and skipped.
 */
export function parseVertexCsv(text: string, source = 'import.csv'): { records: ImageRecord[]; problems: DataProblem[] } {
  return asRecords(readVertexCsv(text, source));
}

/**
 * A Vertex AI image classification import file in JSON Lines: `imageGcsUri`,
 * `classificationAnnotation.displayName` (or the first of `classificationAnnotations`) and
 * `dataItemResourceLabels["aiplatform.googleapis.com/ml_use"]`.
 */
export function parseVertexJsonl(text: string, source = 'import.jsonl'): { records: ImageRecord[]; problems: DataProblem[] } {
  return asRecords(readVertexJsonl(text, source));
}

/** Picks the parser by file name (`.jsonl`/`.json` or `.csv`). */
export function parseVertexImportFile(name: string, text: string): { records: ImageRecord[]; problems: DataProblem[] } {
  return /\.jsonl?$/i.test(name) ? parseVertexJsonl(text, name) : parseVertexCsv(text, name);
}

/** Writes records back as a Vertex AI CSV import file (labels and ml_use kept). */
export function toVertexCsv(records: readonly ImageRecord[]): string {
  return writeVertexCsv(records);
}
