/**
 * The label file formats as one choice, for screens and commands that take "a label file":
 * the format from a file's name, and import/export by format.
 */
import type { ImageRecord } from '../data/records';
import { exportFolderZip, importFolderZip } from './folder-zip';
import type { LabelImport } from './label-import';
import { exportPlainCsv, importPlainCsv } from './plain-csv';
import { exportVertexCsv, exportVertexJsonl, importVertexCsv, importVertexJsonl, type VertexExportOptions, type VertexImportOptions } from './vertex-files';

/** The label files SceneLab reads and writes. */
export type LabelFileFormat = 'vertex-csv' | 'vertex-jsonl' | 'csv' | 'zip';

/** Every format, in menu order. */
export const LABEL_FILE_FORMATS: readonly LabelFileFormat[] = ['vertex-csv', 'vertex-jsonl', 'csv', 'zip'];

/**
 * The format of a file by its name: `.zip`, `.jsonl`/`.json`, and for `.csv` a Vertex AI file
 * when its first line names a `gs://` URI, else a plain CSV. Null when the name says nothing.
 */
export function labelFileFormat(name: string, firstLine = ''): LabelFileFormat | null {
  if (/\.zip$/i.test(name)) return 'zip';
  if (/\.jsonl?$/i.test(name)) return 'vertex-jsonl';
  if (/\.csv$/i.test(name)) return /(^|,)\s*"?gs:\/\//.test(firstLine) ? 'vertex-csv' : 'csv';
  return null;
}

/** Reads a label file of any format. Text formats take the file's text, `zip` its bytes. */
export function importLabelFile(format: LabelFileFormat, name: string, content: string | Uint8Array, options: VertexImportOptions): LabelImport {
  const text = (): string => {
    if (typeof content !== 'string') return new TextDecoder('utf-8', { fatal: false }).decode(content);
    return content;
  };
  switch (format) {
    case 'vertex-csv':
      return importVertexCsv(text(), name, options);
    case 'vertex-jsonl':
      return importVertexJsonl(text(), name, options);
    case 'csv':
      return importPlainCsv(text(), name, options);
    case 'zip':
      if (typeof content === 'string') throw new TypeError('a zip label file must be given as bytes');
      return importFolderZip(content, name, options);
    default: {
      const never: never = format;
      throw new RangeError(`unknown label file format "${String(never)}"`);
    }
  }
}

/** What an export needs besides the records: the Cloud Storage location for Vertex AI files, the image bytes for a zip. */
export interface LabelExportOptions extends Partial<VertexExportOptions> {
  bytes?: (image: string) => Uint8Array | undefined;
}

/** Writes a label file of any format: text for the CSV/JSONL formats, bytes for `zip`. */
export function exportLabelFile(format: LabelFileFormat, records: readonly ImageRecord[], options: LabelExportOptions = {}): string | Uint8Array {
  const vertex = (): VertexExportOptions => {
    if (options.gcsPrefix === undefined) throw new RangeError('a Vertex AI file needs the gs://bucket/prefix the images are uploaded to');
    return { gcsPrefix: options.gcsPrefix, ...(options.labelNames && { labelNames: options.labelNames }) };
  };
  switch (format) {
    case 'vertex-csv':
      return exportVertexCsv(records, vertex());
    case 'vertex-jsonl':
      return exportVertexJsonl(records, vertex());
    case 'csv':
      return exportPlainCsv(records);
    case 'zip':
      if (!options.bytes) throw new RangeError('a zip export needs the image files');
      return exportFolderZip(records, options.bytes);
    default: {
      const never: never = format;
      throw new RangeError(`unknown label file format "${String(never)}"`);
    }
  }
}
