/**
 * The labelling part of the engine: class operations, labels with provenance and undo that
 * survive reloads, model predictions over a dataset for the uncertainty queue, and label
 * files (Vertex AI CSV/JSONL, plain CSV, folder zip) in and out. The rules (the reducer, the
 * file formats, the uncertainty order) are model/labels'; these are the calls a screen makes.
 */
import type { Split } from '../../../model/data/records';
import type { ImportProblem, LabelFileFormat, LabelSource } from '../../../model/labels';
import type { BinaryFile, CallOptions, SplitCounts } from './types';

/** What an undo (or redo) would take back: the kind of step, how many images, when. */
export interface LabelStepInfo {
  action: string;
  images: number;
  at: number;
}

/** A dataset's labelling at a glance: classes, counts per class and split, the undo/redo tops. */
export interface LabelSummary {
  datasetId: string;
  /** Class order = label index of models trained on the dataset. */
  classes: string[];
  /** `counts[class][split]`; unlabelled images under `''`. */
  counts: Record<string, SplitCounts>;
  imageCount: number;
  unlabelled: number;
  undo: LabelStepInfo | null;
  redo: LabelStepInfo | null;
  /** Steps that can be undone. */
  undoDepth: number;
  /** Changes with every write to the dataset's labels or images (by any tab). */
  version: number;
  /** Validation accuracy of each labelling-assist retrain against the labels it learnt from, oldest first. */
  curve: LabelCurvePoint[];
}

/** One labelling-assist retrain: how many labels it learnt from, the validation accuracy it reached, when. */
export interface LabelCurvePoint {
  labels: number;
  accuracy: number | null;
  at: number;
}

/** One image of a dataset as the Label screen lists it (no pixels; ask `images` for those). */
export interface LabelEntry {
  id: number;
  path: string;
  label: string | null;
  split: Split;
  /** Who set the label (null: as imported with the dataset). */
  source: LabelSource | null;
}

/** Gives images one label (null: unlabel them) as one undoable step. */
export interface LabelRequest {
  datasetId: string;
  images: number[];
  label: string | null;
  source: LabelSource;
}

/** Class operations; each is one undoable step. Images of a deleted class become unlabelled; a merge moves them, provenance kept. */
export type ClassEdit =
  | { op: 'add'; datasetId: string; name: string }
  | { op: 'rename'; datasetId: string; from: string; to: string }
  | { op: 'merge'; datasetId: string; from: string; into: string }
  | { op: 'delete'; datasetId: string; name: string };

/** Class probabilities of a dataset's images under one model. */
export interface PredictRequest {
  datasetId: string;
  modelId: string;
  /** Which images: the unlabelled ones (the queue) or all (disagreement filters). */
  which: 'unlabelled' | 'all';
}

export interface PredictResult {
  modelId: string;
  /** The model's classes, the columns of `probabilities`. */
  labels: string[];
  ids: number[];
  /** Row-major, `ids.length × labels.length`. */
  probabilities: Float32Array;
}

export interface LabelExportRequest {
  datasetId: string;
  format: LabelFileFormat;
  /** `gs://bucket/prefix` the images are (or will be) uploaded to; Vertex AI files only. */
  gcsPrefix?: string;
  /** Class → the name written (Vertex AI's rules); classes not listed are written as they are. */
  labelNames?: Record<string, string>;
}

export interface LabelExport {
  fileName: string;
  mime: string;
  data: Uint8Array;
  images: number;
}

export interface LabelImportRequest {
  /** The dataset whose images the file labels. */
  datasetId: string;
  fileName: string;
  file: BinaryFile;
  /** Apply to this dataset, or to a new copy of its images named `newName` (the copy starts unlabelled). */
  into: 'existing' | 'copy';
  newName?: string;
  /** Where the file's `gs://` URIs point (stripped to give image names); without it paths are matched by their ends. */
  gcsPrefix?: string;
  /** Names in the file → classes (the inverse of an export's Vertex AI renaming). */
  rename?: Record<string, string>;
}

/** An import: applied as one undoable step, or (with problems) not at all. */
export interface LabelImportResult {
  applied: boolean;
  problems: ImportProblem[];
  /** The dataset the labels went to (a new one for `copy`); null when nothing was applied. */
  summary: LabelSummary | null;
  /** Images whose label or split changed. */
  changed: number;
  newClasses: string[];
}

/** The labelling calls of the engine. */
export interface LabelEngine {
  labelSummary(datasetId: string): Promise<LabelSummary>;
  labelEntries(datasetId: string): Promise<LabelEntry[]>;
  labelImages(request: LabelRequest): Promise<LabelSummary>;
  editClasses(edit: ClassEdit): Promise<LabelSummary>;
  undoLabel(datasetId: string): Promise<LabelSummary>;
  redoLabel(datasetId: string): Promise<LabelSummary>;
  predictLabels(request: PredictRequest, options?: CallOptions): Promise<PredictResult>;
  exportLabels(request: LabelExportRequest): Promise<LabelExport>;
  importLabels(request: LabelImportRequest): Promise<LabelImportResult>;
}
