/**
 * The engine, in-process: model/ driven over the IndexedDB store. The worker hosts one of
 * these (worker.ts); tests run one directly in Node with fake-indexeddb and a sharp decoder.
 * It never touches the DOM: decoding, backend choice and storage estimates are injected.
 * Each concern lives in its own part: datasets.ts, weights.ts, runs.ts (with assist-retrains.ts), models.ts, studies.ts, compress.ts.
 */
import { AssistRetrains } from './assist-retrains';
import { EngineContext, type LocalEngineDeps } from './context';
import { Compression } from './compress';
import { Datasets } from './datasets';
import { LabelFiles } from './label-io';
import { Labels } from './labels';
import { Models } from './models';
import { Runs } from './runs';
import { Studies } from './studies';
import type { BackendInfo, BackendPreference, Engine, StorageInfo } from './types';
import { Weights } from './weights';

export type { BackendControl, Decoder, LocalEngineDeps, Locks } from './context';
export { stripCommonRoot } from './datasets';

export class LocalEngine implements Engine {
  private readonly ctx: EngineContext;
  private readonly datasets: Datasets;
  private readonly weights: Weights;
  private readonly runs: Runs;
  private readonly assist: AssistRetrains;
  private readonly models: Models;
  private readonly labels: Labels;
  private readonly labelFiles: LabelFiles;
  private readonly studies: Studies;
  private readonly compression: Compression;

  constructor(deps: LocalEngineDeps) {
    this.ctx = new EngineContext(deps);
    this.datasets = new Datasets(this.ctx);
    this.weights = new Weights(this.ctx);
    this.assist = new AssistRetrains(this.ctx);
    this.runs = new Runs(this.ctx, this.assist);
    this.models = new Models(this.ctx);
    this.labels = new Labels(this.ctx);
    this.labelFiles = new LabelFiles(this.ctx, this.labels, (id) => this.deleteDataset(id));
    this.studies = new Studies(this.ctx);
    this.compression = new Compression(this.ctx);
  }

  async init(preference: BackendPreference): Promise<BackendInfo> {
    this.ctx.preference = preference;
    this.ctx.unloadModel();
    return this.ctx.deps.backends.select(preference);
  }

  async backend(): Promise<BackendInfo | null> {
    return this.ctx.deps.backends.current();
  }

  async storage(): Promise<StorageInfo> {
    return this.ctx.deps.storage ? this.ctx.deps.storage() : { usage: 0, quota: 0, persisted: false };
  }

  // Calls that change a dataset's images outside the labelling steps drop its cached label state.
  importDataset: Engine['importDataset'] = (request, options) => this.datasets.importDataset(request, options).finally(() => request.datasetId && this.labels.forget(request.datasetId));
  listDatasets: Engine['listDatasets'] = () => this.datasets.listDatasets();
  images: Engine['images'] = (query) => this.datasets.images(query);
  resplit: Engine['resplit'] = (request) => this.datasets.resplit(request).finally(() => this.labels.forget(request.datasetId));
  deleteDataset: Engine['deleteDataset'] = (id) =>
    this.datasets.deleteDataset(id).finally(() => {
      this.labels.forget(id);
      this.assist.forget({ datasetId: id });
    });

  labelSummary: Engine['labelSummary'] = (datasetId) => this.labels.summary(datasetId);
  labelEntries: Engine['labelEntries'] = (datasetId) => this.labels.entries(datasetId);
  labelImages: Engine['labelImages'] = (request) => this.labels.label(request);
  editClasses: Engine['editClasses'] = (edit) => this.labels.editClasses(edit);
  undoLabel: Engine['undoLabel'] = (datasetId) => this.labels.undo(datasetId);
  redoLabel: Engine['redoLabel'] = (datasetId) => this.labels.redo(datasetId);
  predictLabels: Engine['predictLabels'] = (request, options) => this.models.predict(request, options);
  exportLabels: Engine['exportLabels'] = (request) => this.labelFiles.exportLabels(request);
  importLabels: Engine['importLabels'] = (request) => this.labelFiles.importLabels(request);

  importWeights: Engine['importWeights'] = (name, file) => this.weights.importWeights(name, file);
  listWeights: Engine['listWeights'] = () => this.weights.listWeights();
  deleteWeights: Engine['deleteWeights'] = (id) => this.weights.deleteWeights(id).finally(() => this.assist.forget({ weightsId: id }));
  exportWeights: Engine['exportWeights'] = (id) => this.weights.exportWeights(id);

  train: Engine['train'] = (config, options) => this.runs.train(config, options);
  resume: Engine['resume'] = (runId, options) => this.runs.resume(runId, options);
  listRuns: Engine['listRuns'] = () => this.runs.listRuns();
  deleteRun: Engine['deleteRun'] = (id) => this.runs.deleteRun(id);

  evaluate: Engine['evaluate'] = (request, options) => this.models.evaluate(request, options);
  classify: Engine['classify'] = (request, options) => this.models.classify(request, options);
  listModels: Engine['listModels'] = () => this.models.listModels();
  exportModel: Engine['exportModel'] = (id) => this.models.exportModel(id);
  importModel: Engine['importModel'] = (name, bundle) => this.models.importModel(name, bundle);
  deleteModel: Engine['deleteModel'] = (id) => this.models.deleteModel(id);
  keepModel: Engine['keepModel'] = (id) => this.models.keepModel(id);

  createStudy: Engine['createStudy'] = (config) => this.studies.createStudy(config);
  runStudy: Engine['runStudy'] = (request, options) => this.studies.runStudy(request, options);
  listStudies: Engine['listStudies'] = () => this.studies.listStudies();
  getStudy: Engine['getStudy'] = (id) => this.studies.getStudy(id);
  deleteStudy: Engine['deleteStudy'] = (id) => this.studies.deleteStudy(id);
  modelFromBestTrial: Engine['modelFromBestTrial'] = (studyId, options) => this.studies.modelFromBestTrial(studyId, options);
  exportModelAs: Engine['exportModelAs'] = (id, formats) => this.compression.exportModelAs(id, formats);
  compressModel: Engine['compressModel'] = (request, options) => this.compression.compressModel(request, options);
}
