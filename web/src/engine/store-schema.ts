/**
 * The app's IndexedDB database, through `idb`. The schema is versioned: each entry of
 * `MIGRATIONS` takes the database from version n-1 to n, and an old database is brought up
 * to date step by step when it is opened.
 */
import { openDB, type DBSchema, type IDBPDatabase, type IDBPTransaction, type StoreNames } from 'idb';
import type { DataProblem, Split } from '../../../model/data/records';
import type { DatasetSummary, ModelSummary, RunSummary, SplitCounts, WeightsSummary } from './types';
import type { HistoryEntry, Provenance } from '../../../model/labels';
import type { StudySummary } from './study-types';
import type { LabelCurvePoint } from './label-types';
import type { NamedWeight } from '../../../model/model';
import type { TrainCheckpoint } from '../../../model/train';

export const DB_NAME = 'scenelab';

/** One imported image. `label` is '' for an unlabelled image (IndexedDB keys cannot be null). */
export interface ImageRow {
  id?: number;
  datasetId: string;
  path: string;
  label: string;
  split: Split;
  original: Blob;
  /** Model-size copy; null when the original is small enough to train on directly. */
  copy: Blob | null;
  width: number;
  height: number;
  /** The last change to the label (absent or null: as imported with the dataset). */
  provenance?: Provenance | null;
}

export interface DatasetRow extends Omit<DatasetSummary, 'classes'> {
  /** Bumped by every write that changes the dataset's labels or images, so an engine (another tab's) knows its cached label state is stale. */
  labelVersion?: number;
  /** The labelling-assist curve (label-types' `LabelCurvePoint`), kept with the dataset's labels. */
  labelCurve?: LabelCurvePoint[];
}

/** Class names of a dataset, index order = label index of every model trained on it. */
export interface LabelsRow {
  datasetId: string;
  classes: string[];
}

export interface WeightsRow extends WeightsSummary {
  data: Blob;
}

export interface RunRow extends RunSummary {}

export interface CheckpointRow extends TrainCheckpoint {
  runId: string;
  savedAt: number;
}

export interface ModelRow extends ModelSummary {
  /** The model files (`model.json`, `weights.bin`, `labels.json`, …) as `exportModelFiles` wrote them. */
  files: Map<string, Uint8Array>;
}

/** One undoable labelling step of a dataset, on its undo or redo stack; `seq` orders each stack. */
export interface LabelHistoryRow {
  seq?: number;
  datasetId: string;
  stack: 'undo' | 'redo';
  entry: HistoryEntry;
}

/** A study as stored; `status` is never `interrupted` (that is read from the locks). */
export interface StudyRow extends StudySummary {}

/** The trained model of a study's best trial so far, kept so it becomes a model without training again. */
export interface StudyModelRow {
  studyId: string;
  trial: number;
  model: Omit<ModelSummary, 'id' | 'name' | 'createdAt'>;
  files: Map<string, Uint8Array>;
}

export interface SettingRow {
  key: string;
  value: unknown;
}

export interface SceneLabDB extends DBSchema {
  datasets: { key: string; value: DatasetRow };
  images: {
    key: number;
    value: ImageRow;
    indexes: { byDataset: string; byDatasetSplit: [string, Split]; byDatasetLabel: [string, string]; byDatasetSplitLabel: [string, Split, string] };
  };
  labels: { key: string; value: LabelsRow };
  weights: { key: string; value: WeightsRow; indexes: { bySha: string } };
  runs: { key: string; value: RunRow; indexes: { byStatus: string } };
  checkpoints: { key: string; value: CheckpointRow };
  models: { key: string; value: ModelRow };
  settings: { key: string; value: SettingRow };
  labelHistory: { key: number; value: LabelHistoryRow; indexes: { byDataset: string } };
  studies: { key: string; value: StudyRow };
  studyModels: { key: string; value: StudyModelRow };
}

export type Db = IDBPDatabase<SceneLabDB>;
type UpgradeTx = IDBPTransaction<SceneLabDB, StoreNames<SceneLabDB>[], 'versionchange'>;

/**
 * Schema steps. Version 1 was the first release (datasets and images by dataset only);
 * version 2 added the split/label indexes training reads keys from and the weights hash index;
 * version 3 the labelling history; version 4 the hyperparameter studies.
 * Never edit a shipped step: add one.
 */
export const MIGRATIONS: ReadonlyArray<(db: Db, tx: UpgradeTx) => void> = [
  (db) => {
    db.createObjectStore('datasets', { keyPath: 'id' });
    const images = db.createObjectStore('images', { keyPath: 'id', autoIncrement: true });
    images.createIndex('byDataset', 'datasetId');
    db.createObjectStore('labels', { keyPath: 'datasetId' });
    db.createObjectStore('weights', { keyPath: 'id' });
    db.createObjectStore('runs', { keyPath: 'id' }).createIndex('byStatus', 'status');
    db.createObjectStore('checkpoints', { keyPath: 'runId' });
    db.createObjectStore('models', { keyPath: 'id' });
    db.createObjectStore('settings', { keyPath: 'key' });
  },
  (_db, tx) => {
    const images = tx.objectStore('images');
    images.createIndex('byDatasetSplit', ['datasetId', 'split']);
    images.createIndex('byDatasetLabel', ['datasetId', 'label']);
    images.createIndex('byDatasetSplitLabel', ['datasetId', 'split', 'label']);
    tx.objectStore('weights').createIndex('bySha', 'sha256');
  },
  // Labelling history (undo/redo per dataset), kept across reloads.
  (db) => {
    db.createObjectStore('labelHistory', { keyPath: 'seq', autoIncrement: true }).createIndex('byDataset', 'datasetId');
  },
  // Hyperparameter studies, and the best trial's model of each.
  (db) => {
    db.createObjectStore('studies', { keyPath: 'id' });
    db.createObjectStore('studyModels', { keyPath: 'studyId' });
  },
];

export const DB_VERSION = MIGRATIONS.length;

/** Opens (and migrates) the database. `version` is for tests that build an old one. */
export function openDb(name = DB_NAME, version = DB_VERSION): Promise<Db> {
  return openDB<SceneLabDB>(name, version, {
    upgrade(db, oldVersion, newVersion, tx) {
      for (let v = oldVersion; v < (newVersion ?? version); v++) MIGRATIONS[v]!(db, tx);
    },
    blocking(_current, _next, event) {
      // Another tab wants a newer schema: let it have the database.
      (event.target as IDBDatabase | null)?.close();
    },
  });
}

export function emptyCounts(): SplitCounts {
  return { train: 0, validation: 0, test: 0, unassigned: 0 };
}

/** Adds (or with `sign` -1, removes) one image to a dataset's counts. */
export function countImage(ds: DatasetRow, label: string, split: Split, sign = 1): void {
  const c = (ds.counts[label] ??= emptyCounts());
  c[split] += sign;
  ds.imageCount += sign;
  if (label === '') ds.unlabelled += sign;
}

/** Marks a dataset's labels or images changed (inside the transaction that changes them), so every engine's cached label state of it is read again. */
export function bumpLabelVersion(ds: DatasetRow): void {
  ds.labelVersion = (ds.labelVersion ?? 0) + 1;
}

export function classesOfCounts(counts: Record<string, SplitCounts>): string[] {
  return Object.keys(counts)
    .filter((k) => k !== '' && Object.values(counts[k]!).some((n) => n > 0))
    .sort();
}

/** Whether a failure is the browser refusing to store more. */
export function isQuotaError(e: unknown): boolean {
  if (typeof e !== 'object' || e === null) return false;
  const name = (e as { name?: unknown }).name;
  const inner = (e as { inner?: unknown; error?: unknown }).error;
  return name === 'QuotaExceededError' || (inner !== undefined && inner !== null && isQuotaError(inner));
}

/** Packs named weights for storage: structured clone keeps Float32Arrays as they are. */
export function cloneWeights(ws: readonly NamedWeight[]): NamedWeight[] {
  return ws.map((w) => ({ name: w.name, shape: [...w.shape], data: w.data }));
}

export type { DataProblem };
