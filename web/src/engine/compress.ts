/**
 * Stored models in other formats, and made smaller: pruned (optionally fine-tuned on the
 * dataset's training images with the pruned weights held at zero) and/or quantized through
 * model/compress, measured on a dataset split before and after, saved as a new model.
 */
import { importModelFiles, zipModelFiles, type ModelFiles } from '../../../model/artifacts';
import { compressModel, type CompressResult } from '../../../model/compress';
import { evaluate, type EvalReport } from '../../../model/evaluate';
import type { ClassifierModel } from '../../../model/model';
import { EXPORT_FORMATS, exportAs, isExportFormat, type ExportFormat } from '../../../model/export/formats';
import { readBundleRun } from './bundle';
import { uuid, type EngineContext } from './context';
import { splitSource } from './models';
import type { ModelRow } from './store-schema';
import type { CallOptions, CompressRequest, CompressResponse, ExportedFile, ModelMeasurement, ModelSummary } from './types';

export class Compression {
  constructor(private readonly ctx: EngineContext) {}

  private async row(id: string): Promise<ModelRow> {
    await this.ctx.ensureBackend();
    const row = await (await this.ctx.db()).get('models', id);
    if (!row) throw new Error('this model no longer exists');
    return row;
  }

  async exportModelAs(modelId: string, formats: ExportFormat[]): Promise<ExportedFile[]> {
    checkFormats(formats);
    const row = await this.row(modelId);
    const model = importModelFiles(row.files);
    try {
      return await exported(row.name, model, row.files, formats);
    } finally {
      model.dispose();
    }
  }

  async compressModel(request: CompressRequest, options: CallOptions = {}): Promise<CompressResponse> {
    checkFormats(request.formats);
    if (!request.prune && !request.quantize) throw new Error('choose a pruning target or a quantization (or export the model as it is)');
    if (request.finetuneEpochs > 0 && !request.datasetId) throw new Error('fine-tuning needs a dataset: choose one');
    const row = await this.row(request.modelId);
    const measureOn = request.datasetId ? (await splitSource(this.ctx, request.datasetId, row.labels, [request.split])).source : null;
    if (measureOn && measureOn.size === 0) throw new Error(`the dataset has no labelled images of the model's classes in its ${request.split} split`);
    const finetune = request.finetuneEpochs > 0 && request.datasetId ? await this.finetuneData(request.datasetId, row.labels, request.finetuneEpochs) : null;
    const progress = (stage: string) => (p: { done: number; total: number }) => options.onProgress?.({ stage, done: p.done, total: p.total });

    const original = importModelFiles(row.files);
    let result: CompressResult | null = null;
    try {
      const before = await measure(original, row.files, measureOn, null, options, progress('evaluate before'));
      options.signal?.throwIfAborted();
      result = await compressModel(row.files, { prune: request.prune, quantize: request.quantize, finetune }, {
        ...(options.signal && { signal: options.signal }),
        onEvent: (e) => {
          if (e.type === 'epoch') options.onProgress?.({ stage: 'fine-tune', done: e.epoch, total: e.epochs });
        },
      });
      // Accuracy of the model as it is stored: quantized weights read back.
      const stored = importModelFiles(result.files);
      let report: EvalReport | null = null;
      const after = await measure(stored, result.files, measureOn, (r) => (report = r), options, progress('evaluate after')).finally(() => stored.dispose());
      const name = `${row.name} (${describe(request)})`;
      const model = request.save ? await this.save(row, name, result.files, report, request) : null;
      const files = await exported(name, result.model, result.files, request.formats);
      return { before, after, sparsity: result.sparsity, model, files };
    } finally {
      original.dispose();
      result?.model.dispose();
    }
  }

  private async finetuneData(datasetId: string, labels: string[], epochs: number) {
    const { source: pool } = await splitSource(this.ctx, datasetId, labels, ['train', 'unassigned']);
    const { source: validation } = await splitSource(this.ctx, datasetId, labels, ['validation']);
    if (pool.size === 0) throw new Error("the dataset has no labelled training images of the model's classes to fine-tune on");
    return { epochs, pool, validation };
  }

  private async save(from: ModelRow, name: string, files: ModelFiles, report: EvalReport | null, request: CompressRequest): Promise<ModelSummary> {
    const run = readBundleRun(files, from.labels);
    const { predictions: _p, ...metrics } = report ?? { predictions: null };
    const summary: ModelSummary = {
      id: uuid(),
      name,
      arch: from.arch,
      labels: from.labels,
      preprocessing: from.preprocessing,
      createdAt: Date.now(),
      runId: null,
      datasetId: request.datasetId ?? from.datasetId,
      hyperparameters: run.hyperparameters ?? from.hyperparameters,
      history: run.history,
      metrics: report ? (metrics as ModelSummary['metrics']) : null,
      metricsSplit: report ? request.split : null,
      bytes: [...files.values()].reduce((n, f) => n + f.length, 0),
    };
    await this.ctx.write('the compressed model', async () => {
      await (await this.ctx.db()).put('models', { ...summary, files });
    });
    return summary;
  }
}

function checkFormats(formats: readonly string[]): void {
  const bad = formats.find((f) => !isExportFormat(f));
  if (bad !== undefined) throw new Error(`unknown export format "${bad}" (${Object.keys(EXPORT_FORMATS).join(', ')})`);
}

async function exported(name: string, model: ClassifierModel, files: ModelFiles, formats: ExportFormat[]): Promise<ExportedFile[]> {
  const base = name.replace(/[^\w.-]+/g, '_').replace(/^_+|_+$/g, '') || 'model';
  const out: ExportedFile[] = [];
  for (const format of formats) out.push({ format, name: `${base}.${EXPORT_FORMATS[format]}`, bytes: await exportAs(format, model, files) });
  return out;
}

async function measure(
  model: ClassifierModel,
  files: ModelFiles,
  source: Parameters<typeof evaluate>[1] | null,
  keep: ((r: EvalReport) => void) | null,
  options: CallOptions,
  onProgress: (p: { done: number; total: number }) => void,
): Promise<ModelMeasurement> {
  const report = source ? await evaluate(model, source, { ...(options.signal && { signal: options.signal }), onProgress }) : null;
  if (report) keep?.(report);
  return { bundleBytes: zipModelFiles(files).length, accuracy: report?.accuracy ?? null, n: report?.n ?? 0 };
}

/** What was done, for the new model's name: "pruned 70 %, uint8". */
function describe(r: CompressRequest): string {
  const parts: string[] = [];
  if (r.prune) parts.push(`pruned ${Math.round(100 * r.prune.sparsity)} %${r.prune.structured ? ' by filter' : ''}${r.finetuneEpochs > 0 ? `, fine-tuned ${r.finetuneEpochs}` : ''}`);
  if (r.quantize) parts.push(r.quantize);
  return parts.join(', ');
}
