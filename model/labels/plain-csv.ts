/**
 * The plain label file any spreadsheet or script can make: `path,label[,split]`, one image a
 * line, with an optional header. SceneLab writes the header and all three columns (an empty
 * label is an unlabelled image), so a round trip keeps labels and splits.
 */
import type { ImageRecord } from '../data/records';
import { csvLine, parseCsv } from './csv';
import { problemAt, resolveImport, splitFromName, type ImportProblem, type LabelImport, type LabelImportOptions, type RawLabel } from './label-import';

/** The header SceneLab writes. */
export const PLAIN_CSV_HEADER = ['path', 'label', 'split'] as const;

/** A plain CSV of a dataset's images: header, then `path,label,split` (split as train, validation, test or unassigned). */
export function exportPlainCsv(records: readonly ImageRecord[]): string {
  return [csvLine(PLAIN_CSV_HEADER), ...records.map((r) => csvLine([r.uri, r.label ?? '', r.split]))].join('\n') + '\n';
}

/**
 * Labels (and splits, when the file has a third column) from a plain CSV, matched to the
 * dataset's images. A first line reading `path,label…` is a header. Split names: train or
 * training, validation or val, test, unassigned (or empty).
 */
export function importPlainCsv(text: string, file: string, options: LabelImportOptions): LabelImport {
  const problems: ImportProblem[] = [];
  const raw: RawLabel[] = [];
  const parsed = parseCsv(text);
  const rows = parsed.rows;
  const first = rows[0]?.fields.map((f) => f.toLowerCase());
  const hasHeader = first !== undefined && first[0] === 'path' && first[1] === 'label';
  for (const { line, fields } of hasHeader ? rows.slice(1) : rows) {
    const at = (reason: string): void => void problems.push(problemAt(file, line, reason));
    const [path, label, split, ...extra] = fields;
    if (!path) {
      at('expected an image path in the first column');
      continue;
    }
    if (fields.length < 2) {
      at('expected path,label (a comma and the class, empty for unlabelled)');
      continue;
    }
    if (extra.some((e) => e !== '')) {
      at(`expected at most 3 columns (path,label,split), got ${fields.length}`);
      continue;
    }
    const s = split === undefined ? undefined : splitFromName(split);
    if (split !== undefined && s === undefined) {
      at(`unknown split "${split}" (expected train, validation, test or unassigned)`);
      continue;
    }
    raw.push({ line, ref: path, label: label ? label : null, ...(s !== undefined && { split: s }) });
  }
  if (parsed.unterminated !== null) problems.push(problemAt(file, parsed.unterminated, 'a quoted field is never closed'));
  return resolveImport(file, raw, problems, options);
}
