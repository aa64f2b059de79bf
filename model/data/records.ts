/** Where an image belongs in the train/validation/test protocol. */
export type Split = 'train' | 'validation' | 'test' | 'unassigned';

/** One image of a dataset: where to read it and, if known, its class and split. */
export interface ImageRecord {
  /** Path relative to the dataset root, a `gs://` URI, or any key the reader understands. */
  uri: string;
  /** Class name, or null for an unlabelled image. */
  label: string | null;
  split: Split;
}

/** A line or file that could not be used, kept so the user sees every one by name. */
export interface DataProblem {
  source: string;
  reason: string;
}

/** File types the decoders handle; others are reported, not read. */
export const IMAGE_EXTENSIONS = ['.jpg', '.jpeg', '.png', '.webp', '.gif', '.bmp'] as const;

export function isImagePath(path: string): boolean {
  const lower = path.toLowerCase();
  return IMAGE_EXTENSIONS.some((ext) => lower.endsWith(ext));
}

const SPLIT_DIRS: Record<string, Split> = {
  seg_train: 'train',
  train: 'train',
  training: 'train',
  seg_test: 'test',
  test: 'test',
  seg_pred: 'unassigned',
  pred: 'unassigned',
  val: 'validation',
  valid: 'validation',
  validation: 'validation',
};

/** Folders named after a split that hold unlabelled images directly (`seg_pred/seg_pred/*.jpg`). */
const UNLABELLED_DIRS = new Set(['seg_pred', 'pred']);

/**
 * Reads the Intel Image Classification layout from relative file paths: `<class>/<file>`,
 * `<split>/<class>/<file>` and Kaggle's doubled `seg_train/seg_train/<class>/<file>`; images
 * directly inside `seg_pred/` or `pred/` are unlabelled. The class is the image's folder; the
 * split is the first path component that names one. Hidden files (`.DS_Store`, `__MACOSX/`)
 * are ignored silently; other non-image files are reported.
 */
export function recordsFromPaths(paths: readonly string[]): { records: ImageRecord[]; problems: DataProblem[] } {
  const records: ImageRecord[] = [];
  const problems: DataProblem[] = [];
  for (const raw of paths) {
    const path = raw.replace(/\\/g, '/').replace(/^\.\/+/, '').replace(/^\/+/, '');
    const parts = path.split('/').filter((p) => p.length > 0);
    if (parts.some((p) => p.startsWith('.') || p === '__MACOSX')) continue;
    if (!isImagePath(path)) {
      problems.push({ source: path, reason: 'not an image file (expected .jpg, .jpeg, .png, .webp, .gif or .bmp)' });
      continue;
    }
    const dirs = parts.slice(0, -1).map((d) => d.toLowerCase());
    const split = dirs.map((d) => SPLIT_DIRS[d]).find((s) => s !== undefined) ?? 'unassigned';
    const parent = parts.length >= 2 ? parts[parts.length - 2]! : null;
    const label = parent === null || SPLIT_DIRS[parent.toLowerCase()] !== undefined ? null : parent;
    if (label === null && parent !== null && !UNLABELLED_DIRS.has(parent.toLowerCase()) && SPLIT_DIRS[parent.toLowerCase()] === undefined) {
      problems.push({ source: path, reason: 'cannot tell the class from the folder' });
      continue;
    }
    records.push({ uri: path, label, split });
  }
  return { records, problems };
}

/** Class names in the order their indices follow: sorted, as torchvision's ImageFolder does. */
export function classesOf(records: readonly ImageRecord[]): string[] {
  return [...new Set(records.map((r) => r.label).filter((l): l is string => l !== null))].sort();
}
