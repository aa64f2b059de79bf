/**
 * What importing a label file yields, whatever its format, and the checks every format
 * shares. The contract: an import returns every label it read *and* every problem it found;
 * when `problems` is not empty the caller applies nothing ({@link importAction} refuses),
 * and shows the problems, each naming its file and line.
 */
import type { Split } from '../data/records';
import { classNameProblem } from './class-names';
import type { LabelAction } from './history';
import { ImageMatcher, type ImageNames } from './image-match';
import type { LabelSource } from './provenance';

/** One line (or zip entry) that cannot be used. `source` is `file:line` (or the entry's path). */
export interface ImportProblem {
  source: string;
  line: number;
  reason: string;
}

/** A label read from a file, resolved to one of the dataset's images. */
export interface ImportedLabel {
  image: string;
  /** null: the file lists the image as unlabelled. */
  label: string | null;
  /** Absent when the format carries no split (a plain CSV without a split column): the image keeps its own. */
  split?: Split;
  line: number;
}

/** The outcome of reading a label file. Apply only when `problems` is empty. */
export interface LabelImport {
  labels: ImportedLabel[];
  problems: ImportProblem[];
  /** Classes the file uses that the dataset does not have yet (always empty when classes are fixed). */
  newClasses: string[];
}

/** The dataset an import is matched against (`aliases` and `ambiguous`: images sharing a path). */
export interface LabelImportOptions extends ImageNames {
  /** Names of the dataset's images. */
  images: readonly string[];
  /** The dataset's classes. */
  classes: readonly string[];
  /** When true, a class outside `classes` is a problem; otherwise it is reported in `newClasses`. */
  fixedClasses?: boolean;
  /** Class names in the file → the dataset's (the inverse of an export's renaming, e.g. `sea_view` → `sea view`). */
  rename?: Readonly<Record<string, string>>;
}

/** A line as a format reader understood it, before it is matched to an image. */
export interface RawLabel {
  line: number;
  /** The entry's path when it is not a line of a text file. */
  where?: string;
  ref: string;
  /** The reference is the image's exact name (a file written against a known prefix): no path matching. */
  exact?: boolean;
  label: string | null;
  split?: Split;
}

/** Split names accepted in files: Vertex AI's ml_use values, SceneLab's own names, Intel's folder names. */
const SPLIT_NAMES: Record<string, Split> = {
  training: 'train',
  train: 'train',
  validation: 'validation',
  val: 'validation',
  test: 'test',
  unassigned: 'unassigned',
};

/** A split from its name in a file (case-insensitive), `''` as unassigned; undefined when unknown. */
export function splitFromName(value: string): Split | undefined {
  const v = value.trim().toLowerCase();
  return v === '' ? 'unassigned' : Object.hasOwn(SPLIT_NAMES, v) ? SPLIT_NAMES[v] : undefined;
}

/** A file problem at a line. */
export function problemAt(file: string, line: number, reason: string, where?: string): ImportProblem {
  return { source: where ?? `${file}:${line}`, line, reason };
}

/**
 * Matches raw lines to images and checks them: unknown or ambiguous images, an image listed
 * twice, class names that are not usable, classes outside a fixed list.
 */
export function resolveImport(file: string, raw: readonly RawLabel[], problems: ImportProblem[], options: LabelImportOptions): LabelImport {
  const matcher = new ImageMatcher(options.images, options);
  const known = new Set(options.classes);
  const newClasses: string[] = [];
  const firstLine = new Map<string, number>();
  const labels: ImportedLabel[] = [];
  for (const r of raw) {
    const at = (reason: string): void => void problems.push(problemAt(file, r.line, reason, r.where));
    const m = r.exact ? matcher.exactly(r.ref) : matcher.match(r.ref);
    if ('error' in m) {
      at(m.error);
      continue;
    }
    const label = r.label === null ? null : (options.rename?.[r.label] ?? r.label);
    if (label !== null && !known.has(label)) {
      const bad = classNameProblem(label);
      if (bad) {
        at(bad);
        continue;
      }
      if (options.fixedClasses) {
        at(`unknown class "${label}" (classes: ${options.classes.join(', ') || 'none'})`);
        continue;
      }
      if (!newClasses.includes(label)) newClasses.push(label);
    }
    const earlier = firstLine.get(m.image);
    if (earlier !== undefined) {
      at(`image "${m.image}" is already listed on line ${earlier}`);
      continue;
    }
    firstLine.set(m.image, r.line);
    labels.push({ image: m.image, label, ...(r.split !== undefined && { split: r.split }), line: r.line });
  }
  problems.sort((a, b) => a.line - b.line);
  return { labels, problems, newClasses };
}

/**
 * The history action that applies an import as one undoable step (new classes created
 * first). Throws when the import has problems: a file with a bad line changes nothing.
 */
export function importAction(result: LabelImport, source: LabelSource, at: number): Extract<LabelAction, { type: 'apply' }> {
  if (result.problems.length > 0) {
    const first = result.problems[0]!;
    throw new RangeError(`the file has ${result.problems.length} problem${result.problems.length === 1 ? '' : 's'} and was not applied (first: ${first.source}: ${first.reason})`);
  }
  return {
    type: 'apply',
    changes: result.labels.map((l) => ({ image: l.image, label: l.label, ...(l.split !== undefined && { split: l.split }) })),
    addClasses: result.newClasses,
    source,
    at,
  };
}
