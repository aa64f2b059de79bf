/**
 * The SceneLab engine: everything a front end asks of model/ — import data, load weights,
 * train, evaluate, classify, manage models — as one interface. It has two homes: in-process
 * (Node, tests) and behind a Web Worker (the browser app), where a typed message protocol
 * proxies the same interface, so a caller never cares where the engine runs.
 *
 * It names no DOM or Node type: files are {@link BinaryFile}s (a `Blob` in browsers and in
 * Node ≥ 18 both fit) and images a caller already holds are {@link ImageInput}s.
 */
import type { ArchName } from '../../../model/arch/types';
import type { DataProblem, Split } from '../../../model/data/records';
import type { EvalReport, Prediction } from '../../../model/evaluate';
import type { PreprocessSpec, RawImage } from '../../../model/preprocess';
import type { RunConfig } from '../../../model/run/config';
import type { EpochRecord, TrainEvent } from '../../../model/train';
import type { LabelEngine } from './label-types';
import type { RunStudyRequest, StudyConfig, StudyOutcome, StudyProgress, StudySummary } from './study-types';
import type { PruneOptions, SparsityReport, WeightQuantization } from '../../../model/compress';
import type { ExportFormat } from '../../../model/export/formats';

export type { ExportFormat, PruneOptions, SparsityReport, WeightQuantization };

/** What a `Blob`/`File` offers that the engine uses. */
export interface BinaryFile {
  readonly size: number;
  readonly type: string;
  arrayBuffer(): Promise<ArrayBuffer>;
  slice(start?: number, end?: number): BinaryFile;
}

/** A decoded-on-the-caller's-side image that can move to a worker without a copy (an `ImageBitmap`). */
export interface TransferableImage {
  readonly width: number;
  readonly height: number;
  close(): void;
}

/** An image to classify: encoded bytes, a bitmap, or raw pixels. */
export type ImageInput = BinaryFile | TransferableImage | RawImage;

export type BackendName = 'webgpu' | 'webgl' | 'wasm' | 'cpu';
export type BackendPreference = BackendName | 'auto';
/** Order tried by `auto`: fastest first, each tried for real before it is chosen. */
export const BACKEND_ORDER: readonly BackendName[] = ['webgpu', 'webgl', 'wasm', 'cpu'];

/** One backend tried during selection, and why it was not taken. */
export interface BackendAttempt {
  name: BackendName;
  ok: boolean;
  reason: string | null;
  ms: number;
}

/** The backend in use, for the UI to show. Frozen. */
export interface BackendInfo {
  readonly name: BackendName;
  /** GPU adapter (`vendor architecture`) or null off the GPU. */
  readonly adapter: string | null;
  readonly simd: boolean;
  readonly threads: boolean;
  readonly attempts: readonly BackendAttempt[];
}

/** Progress of any long call. */
export interface Progress {
  stage: string;
  done: number;
  total: number;
  /** Free text for the status line. */
  detail?: string;
}

/** Cancellation and progress for a long call. An abort rejects with an `AbortError`, or for training returns early. */
export interface CallOptions<P = Progress> {
  signal?: AbortSignal;
  onProgress?: (progress: P) => void;
}

/** One file of a folder import, with its path relative to the folder picked. */
export interface ImportFile {
  path: string;
  file: BinaryFile;
}

export type ImportSource = { kind: 'files'; files: ImportFile[] } | { kind: 'zip'; zip: BinaryFile; name: string };

export interface ImportRequest {
  /** Name shown in the app; defaults to the folder or zip name. */
  name: string;
  source: ImportSource;
  /** Add to this dataset rather than creating one. */
  datasetId?: string;
}

export interface SplitCounts {
  train: number;
  validation: number;
  test: number;
  unassigned: number;
}

/** A dataset as listed: no image data. */
export interface DatasetSummary {
  id: string;
  name: string;
  createdAt: number;
  status: 'importing' | 'ready';
  classes: string[];
  imageCount: number;
  unlabelled: number;
  /** `counts[class][split]`; unlabelled images under the key `''`. */
  counts: Record<string, SplitCounts>;
  problems: DataProblem[];
}

export interface ImportResult {
  dataset: DatasetSummary;
  imported: number;
  skipped: DataProblem[];
  seconds: number;
}

/** A page of a dataset's images, for thumbnails and the confusion-matrix drill-down. */
export interface ImageQuery {
  datasetId: string;
  label?: string | null;
  split?: Split;
  ids?: number[];
  offset?: number;
  limit?: number;
  /** The original file rather than the model-size copy (for uploads and exports). */
  original?: boolean;
}

export interface ImageThumb {
  id: number;
  path: string;
  label: string | null;
  split: Split;
  /** The model-size copy (or the original when it is small already, or when asked for). */
  blob: BinaryFile;
}

/** Re-draws the splits of a dataset's labelled images (seeded, per class). */
export interface ResplitRequest {
  datasetId: string;
  validation: number;
  test: number;
  seed: number;
  /** Keep images already in `test` there (the Intel `seg_test` split). */
  keepTest: boolean;
}

export interface WeightsSummary {
  id: string;
  name: string;
  bytes: number;
  sha256: string;
  tensors: number;
  parameters: number;
  /** Architecture the keys belong to, when recognisable. */
  arch: ArchName | null;
  hasHead: boolean;
  createdAt: number;
}

/** What to train: the seed's hyperparameters plus the training options of model/. */
/** A training run the app starts: the shared run configuration, over a stored dataset and weights. */
export interface TrainConfig extends RunConfig {
  datasetId: string;
  weightsId: string | null;
  name?: string;
  /** Train only on labels a person gave or confirmed (imported with the dataset, by hand, an accepted suggestion), not on cloud labels. */
  confirmedOnly?: boolean;
  /**
   * A labelling-assist retrain after `labels` labels: it shares backbone features with the
   * dataset's earlier retrains, adds a point to the dataset's label curve, and its model
   * replaces the previous assist model of the dataset (a model the user kept stays).
   */
  assist?: { labels: number };
}

/** `interrupted`: stored as running, but nothing is running it (the tab was closed or reloaded): resumable. */
export type RunStatus = 'running' | 'interrupted' | 'done' | 'cancelled' | 'failed';

export interface RunSummary {
  id: string;
  name: string;
  datasetId: string;
  config: TrainConfig;
  status: RunStatus;
  history: EpochRecord[];
  /** Epochs completed by the last checkpoint. */
  checkpointEpoch: number;
  createdAt: number;
  updatedAt: number;
  modelId: string | null;
  error: string | null;
  backend: BackendName | null;
  /** Threads the run computed on, when it had replicas of its model beside the engine. */
  threads?: number;
}

/** Training progress: model/'s events plus the engine's own. */
export type TrainProgress =
  | TrainEvent
  | { type: 'run'; runId: string; resumedFromEpoch: number }
  | { type: 'checkpoint'; epoch: number }
  | { type: 'backend'; backend: BackendInfo; reason: string };

export interface TrainOutcome {
  run: RunSummary;
  model: ModelSummary | null;
}

export interface ModelSummary {
  id: string;
  name: string;
  arch: ArchName;
  labels: string[];
  preprocessing: PreprocessSpec;
  createdAt: number;
  runId: string | null;
  datasetId: string | null;
  hyperparameters: Record<string, unknown>;
  history: EpochRecord[];
  /** Validation (after training) or the last evaluation's metrics, predictions left out. */
  metrics: Omit<EvalReport, 'predictions'> | null;
  metricsSplit: Split | null;
  bytes: number;
  /** Made by a labelling-assist retrain and not kept: the dataset's next retrain deletes it (`keepModel` keeps it). */
  assist?: boolean;
}

export interface EvaluateRequest {
  modelId: string;
  datasetId: string;
  split: Split | 'all';
}

/** An evaluation, with the images behind each confusion cell. */
export interface EvaluateResult {
  report: Omit<EvalReport, 'predictions'>;
  /** `cells[t][p]`: image ids of true class t predicted as p. */
  cells: number[][][];
  /** Dataset classes the model does not know, not scored. */
  unknownClasses: string[];
}

export interface ClassifyRequest {
  modelId: string;
  images: ImageInput[];
  /** Names for the results (file names); defaults to `#i`. */
  names?: string[];
}

export interface ClassifyResult {
  name: string;
  prediction: Prediction | null;
  error: string | null;
}

export interface ClassifyResponse {
  results: ClassifyResult[];
  /** Inference time (preprocessing + forward) in ms, decode excluded. */
  latencyMs: number;
  backend: BackendName;
}

/** A model in other formats, optionally pruned and quantized into a new model. */
export interface CompressRequest {
  modelId: string;
  prune: PruneOptions | null;
  /** The bundle's weights; the other formats stay float32. */
  quantize: WeightQuantization | null;
  /** Epochs of fine-tuning after pruning (pruned weights held at zero) on the dataset's training images; 0 for none. */
  finetuneEpochs: number;
  /** Where accuracy before and after is measured (and what a fine-tune trains on); null measures size only. */
  datasetId: string | null;
  split: Split;
  formats: ExportFormat[];
  /** Store the result as a new model (usable for Classify). */
  save: boolean;
}

/** Size and accuracy of one version of a model. */
export interface ModelMeasurement {
  /** Bytes of its zipped bundle. */
  bundleBytes: number;
  accuracy: number | null;
  n: number;
}

/** A model written in one format, with the file name to save it under. */
export interface ExportedFile {
  format: ExportFormat;
  name: string;
  bytes: Uint8Array;
}

export interface CompressResponse {
  before: ModelMeasurement;
  after: ModelMeasurement;
  sparsity: SparsityReport | null;
  /** The new model, when saved. */
  model: ModelSummary | null;
  files: ExportedFile[];
}

export interface StorageInfo {
  usage: number;
  quota: number;
  persisted: boolean;
}

/** The engine. Every long call takes an `AbortSignal` and reports typed progress. */
export interface Engine extends LabelEngine {
  /** Chooses a backend (the preference first, then the fallback order) and returns what was chosen. */
  init(preference: BackendPreference): Promise<BackendInfo>;
  backend(): Promise<BackendInfo | null>;

  importDataset(request: ImportRequest, options?: CallOptions): Promise<ImportResult>;
  listDatasets(): Promise<DatasetSummary[]>;
  images(query: ImageQuery): Promise<{ total: number; images: ImageThumb[] }>;
  resplit(request: ResplitRequest): Promise<DatasetSummary>;
  deleteDataset(id: string): Promise<void>;

  importWeights(name: string, file: BinaryFile): Promise<WeightsSummary>;
  listWeights(): Promise<WeightsSummary[]>;
  deleteWeights(id: string): Promise<void>;
  /** The `.pth` file as it was imported (to send it to the cloud trainer). */
  exportWeights(id: string): Promise<Uint8Array>;

  train(config: TrainConfig, options?: CallOptions<TrainProgress>): Promise<TrainOutcome>;
  /** Continues an interrupted run from its last checkpoint. */
  resume(runId: string, options?: CallOptions<TrainProgress>): Promise<TrainOutcome>;
  listRuns(): Promise<RunSummary[]>;
  deleteRun(id: string): Promise<void>;

  evaluate(request: EvaluateRequest, options?: CallOptions): Promise<EvaluateResult>;
  classify(request: ClassifyRequest, options?: CallOptions): Promise<ClassifyResponse>;

  listModels(): Promise<ModelSummary[]>;
  /** A model bundle (zip: tfjs model, labels, preprocessing, metrics, history). */
  exportModel(id: string): Promise<Uint8Array>;
  importModel(name: string, bundle: BinaryFile): Promise<ModelSummary>;
  /** A stored model in the given formats (bundle, .pth, ONNX, TorchServe .mar, TorchScript). */
  exportModelAs(modelId: string, formats: ExportFormat[]): Promise<ExportedFile[]>;
  /** Prunes and/or quantizes a stored model, measures size and accuracy before and after, and exports the result. */
  compressModel(request: CompressRequest, options?: CallOptions): Promise<CompressResponse>;
  deleteModel(id: string): Promise<void>;
  /** Keeps a labelling-assist model: later retrains no longer replace it. */
  keepModel(id: string): Promise<ModelSummary>;

  /** A hyperparameter study over a stored dataset (checked, stored, not yet run). */
  createStudy(config: StudyConfig): Promise<StudySummary>;
  /** Runs or continues a study until its budget is spent or the signal aborts; trials cut off earlier run again first. */
  runStudy(request: RunStudyRequest, options?: CallOptions<StudyProgress>): Promise<StudyOutcome>;
  listStudies(): Promise<StudySummary[]>;
  getStudy(id: string): Promise<StudySummary>;
  deleteStudy(id: string): Promise<void>;
  /** Stores the best trial's trained model as a model (training it again only when it was not kept). */
  modelFromBestTrial(studyId: string, options?: CallOptions<TrainProgress>): Promise<ModelSummary>;

  storage(): Promise<StorageInfo>;
}
