/**
 * Trained models: evaluation on a stored split (with the images behind each confusion cell),
 * classification of images the page holds, and bundles in and out.
 */
import { exportModelFiles, importModelFiles, readModelJson, unzipModelFiles, zipModelFiles, type ModelFiles } from '../../../model/artifacts';
import type { Split } from '../../../model/data/records';
import { classify, evaluate } from '../../../model/evaluate';
import type { ClassifierModel } from '../../../model/model';
import { preprocessImages } from '../../../model/preprocess';
import { readBundleRun } from './bundle';
import type { PredictRequest, PredictResult } from './label-types';
import { IdbImageSource, uuid, type EngineContext } from './context';
import type { ModelRow } from './store-schema';
import {
  type BinaryFile,
  type CallOptions,
  type ClassifyRequest,
  type ClassifyResponse,
  type ClassifyResult,
  type EvaluateRequest,
  type EvaluateResult,
  type ModelSummary,
} from './types';

/** Images decoded and run through the model at once when predicting over a dataset. */
const PREDICT_BATCH = 32;

export class Models {
  constructor(private readonly ctx: EngineContext) {}

  private async modelFor(id: string): Promise<{ row: ModelRow; model: ClassifierModel }> {
    const backend = await this.ctx.ensureBackend();
    const db = await this.ctx.db();
    const row = await db.get('models', id);
    if (!row) throw new Error('this model no longer exists');
    if (this.ctx.loaded?.id !== id || this.ctx.loaded.backend !== backend.name) {
      this.ctx.unloadModel();
      this.ctx.loaded = { id, backend: backend.name, model: importModelFiles(row.files) };
    }
    return { row, model: this.ctx.loaded.model };
  }

  async evaluate(request: EvaluateRequest, options: CallOptions = {}): Promise<EvaluateResult> {
    const db = await this.ctx.db();
    const { model } = await this.modelFor(request.modelId);
    const classes = (await db.get('labels', request.datasetId))?.classes ?? [];
    const index = new Map(model.labels.map((l, i) => [l, i]));
    const splits: Split[] = request.split === 'all' ? ['train', 'validation', 'test', 'unassigned'] : [request.split];
    const { source, ids } = await splitSource(this.ctx, request.datasetId, model.labels, splits);
    if (ids.length === 0) throw new Error(`no labelled images of the model's classes in the ${request.split} split`);
    const report = await evaluate(model, source, {
      batchSize: 32,
      ...(options.signal && { signal: options.signal }),
      ...(options.onProgress && { onProgress: options.onProgress }),
    });
    const c = model.numClasses;
    const cells = Array.from({ length: c }, () => Array.from({ length: c }, () => [] as number[]));
    for (const p of report.predictions) cells[p.label]![p.predicted]!.push(ids[p.index]!);
    const { predictions: _p, ...rest } = report;
    return { report: rest, cells, unknownClasses: classes.filter((l) => !index.has(l)) };
  }

  async classify(request: ClassifyRequest, options: CallOptions = {}): Promise<ClassifyResponse> {
    const { model } = await this.modelFor(request.modelId);
    const backend = this.ctx.deps.backends.current()!;
    const names = request.images.map((_, i) => request.names?.[i] ?? `#${i + 1}`);
    const decoded = await Promise.all(
      request.images.map(async (img, i) => {
        try {
          return { image: await this.ctx.deps.decoder.decode(img, names[i]!), error: null };
        } catch (e) {
          return { image: null, error: (e as Error).message };
        }
      }),
    );
    options.signal?.throwIfAborted();
    const ok = decoded.flatMap((d, i) => (d.image ? [{ i, image: d.image }] : []));
    const t0 = performance.now();
    const predictions = ok.length ? await classify(model, ok.map((d) => d.image)) : [];
    const latencyMs = performance.now() - t0;
    const byIndex = new Map(ok.map((d, k) => [d.i, predictions[k]!]));
    const results: ClassifyResult[] = names.map((name, i) => ({ name, prediction: byIndex.get(i) ?? null, error: decoded[i]!.error }));
    return { results, latencyMs, backend: backend.name };
  }


  /** Class probabilities of a dataset's images (all, or the unlabelled ones) under a model, 32 at a time. */
  async predict(request: PredictRequest, options: CallOptions = {}): Promise<PredictResult> {
    const db = await this.ctx.db();
    const { model } = await this.modelFor(request.modelId);
    const ids = await (request.which === 'unlabelled'
      ? db.getAllKeysFromIndex('images', 'byDatasetLabel', [request.datasetId, ''])
      : db.getAllKeysFromIndex('images', 'byDataset', request.datasetId));
    const c = model.numClasses;
    const probabilities = new Float32Array(ids.length * c);
    const source = new IdbImageSource(db, this.ctx.deps.decoder, ids, new Int32Array(ids.length));
    for (let i = 0; i < ids.length; i += PREDICT_BATCH) {
      options.signal?.throwIfAborted();
      const n = Math.min(PREDICT_BATCH, ids.length - i);
      const images = await Promise.all(Array.from({ length: n }, (_, k) => source.load(i + k, options.signal)));
      const x = preprocessImages(images, model.preprocessing);
      const p = model.predict(x);
      x.dispose();
      probabilities.set((await p.data()) as Float32Array, i * c);
      p.dispose();
      options.onProgress?.({ stage: 'predict', done: i + n, total: ids.length });
    }
    return { modelId: request.modelId, labels: [...model.labels], ids, probabilities };
  }

  async listModels(): Promise<ModelSummary[]> {
    const db = await this.ctx.db();
    return (await db.getAll('models')).map(({ files: _f, ...s }) => s).sort((a, b) => b.createdAt - a.createdAt);
  }

  async exportModel(id: string): Promise<Uint8Array> {
    const row = await (await this.ctx.db()).get('models', id);
    if (!row) throw new Error('this model no longer exists');
    return zipModelFiles(row.files);
  }

  async importModel(name: string, bundle: BinaryFile): Promise<ModelSummary> {
    await this.ctx.ensureBackend();
    let files = unzipModelFiles(new Uint8Array(await bundle.arrayBuffer()));
    if (!files.has('model.json') && files.has('model.pth')) files = await completeTorchRun(files);
    const manifest = readModelJson(files);
    importModelFiles(files).dispose(); // validates the weights against the architecture
    const run = readBundleRun(files, manifest.labels);
    const summary: ModelSummary = {
      id: uuid(),
      name: name.replace(/\.zip$/i, ''),
      arch: manifest.arch as ModelSummary['arch'],
      labels: manifest.labels,
      preprocessing: manifest.preprocessing,
      createdAt: Date.now(),
      runId: null,
      datasetId: null,
      ...run,
      bytes: [...files.values()].reduce((n, f) => n + f.length, 0),
    };
    await this.ctx.write('the imported model', async () => {
      await (await this.ctx.db()).put('models', { ...summary, files });
    });
    return summary;
  }

  async keepModel(id: string): Promise<ModelSummary> {
    const db = await this.ctx.db();
    const tx = db.transaction('models', 'readwrite');
    const row = await tx.store.get(id);
    if (!row) throw new Error(`no model ${id}`);
    delete row.assist;
    void tx.store.put(row);
    await tx.done;
    const { files: _f, ...summary } = row;
    return summary;
  }

  async deleteModel(id: string): Promise<void> {
    if (this.ctx.loaded?.id === id) this.ctx.unloadModel();
    await (await this.ctx.db()).delete('models', id);
  }
}

/** A dataset's labelled images of the given splits as a source over `labels` (a model's classes; other classes left out), with their ids. */
export async function splitSource(ctx: EngineContext, datasetId: string, labels: readonly string[], splits: readonly Split[]): Promise<{ source: IdbImageSource; ids: number[] }> {
  const db = await ctx.db();
  const classes = (await db.get('labels', datasetId))?.classes ?? [];
  const index = new Map(labels.map((l, i) => [l, i]));
  const ids: number[] = [];
  const targets: number[] = [];
  for (const label of classes) {
    const k = index.get(label);
    if (k === undefined) continue;
    for (const split of splits) {
      for (const id of await db.getAllKeysFromIndex('images', 'byDatasetSplitLabel', [datasetId, split, label])) {
        ids.push(id);
        targets.push(k);
      }
    }
  }
  return { source: new IdbImageSource(db, ctx.deps.decoder, ids, Int32Array.from(targets)), ids };
}

/**
 * A run a PyTorch trainer wrote (the cloud trainer: model.pth and SceneLab's JSON files) with the
 * tfjs model and curves added, so it is stored and exported like a run trained here.
 */
async function completeTorchRun(files: ModelFiles): Promise<ModelFiles> {
  const model = importModelFiles(files);
  try {
    const run = readBundleRun(files, model.labels);
    const ours = await exportModelFiles(model, { hyperparameters: run.hyperparameters, history: run.history, ...(run.metrics && { metrics: { split: run.metricsSplit ?? 'validation', ...run.metrics } }) });
    return new Map([...files, ...ours]);
  } finally {
    model.dispose();
  }
}
