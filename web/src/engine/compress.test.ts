import { readFileSync } from 'node:fs';
import { unzipSync } from 'fflate';
import { beforeAll, describe, expect, it } from 'vitest';
import { exportModelFiles, zipModelFiles } from '../../../model/artifacts';
import { ClassifierModel } from '../../../model/model';
import { caffeBgr } from '../../../model/preprocess';
import { readPth } from '../../../model/pth';
import { intelFiles, nodeEngine, PTH } from './test-support';

const CLASSES = ['forest', 'sea', 'street'];

/** A bundle of SqueezeNet's ImageNet features with a head trained briefly on a few scenes (64 px, so it runs fast). */
async function trainedBundle(): Promise<Blob> {
  const model = ClassifierModel.create({ arch: 'squeezenet1_1', numClasses: 3, labels: CLASSES, preprocessing: caffeBgr(64) });
  model.loadStateDict(readPth(readFileSync(PTH)));
  const bytes = zipModelFiles(await exportModelFiles(model, { hyperparameters: { arch: 'squeezenet1_1', freeze: true, batchSize: 8, valSplit: 0.25 } }));
  model.dispose();
  return new Blob([bytes as Uint8Array<ArrayBuffer>], { type: 'application/zip' });
}

describe('engine: export formats and compression', () => {
  const { engine } = nodeEngine();
  let datasetId: string;
  let modelId: string;
  beforeAll(async () => {
    await engine.init('wasm');
    datasetId = (await engine.importDataset({ name: 'small', source: { kind: 'files', files: intelFiles(CLASSES, 4, 3) } })).dataset.id;
    modelId = (await engine.importModel('features.zip', await trainedBundle())).id;
  });

  it('exports a stored model as bundle, .pth, ONNX, TorchServe and TorchScript files', async () => {
    const files = await engine.exportModelAs(modelId, ['bundle', 'pth', 'onnx', 'mar', 'torchscript']);
    expect(files.map((f) => f.name)).toEqual(['features.zip', 'features.pth', 'features.onnx', 'features.mar', 'features.pt']);
    expect(Object.keys(unzipSync(files[0]!.bytes))).toContain('model.json');
    expect(readPth(files[1]!.bytes).get('classifier.1.weight')!.shape).toEqual([3, 512, 1, 1]);
    await expect(engine.exportModelAs(modelId, ['tflite' as 'onnx'])).rejects.toThrow(/unknown export format "tflite"/);
  });

  it('prunes with a fine-tune and quantizes to uint8, measures before and after, saves a model that classifies', async () => {
    const stages = new Set<string>();
    const r = await engine.compressModel(
      { modelId, prune: { sparsity: 0.5, scope: 'layer', structured: false }, quantize: 'uint8', finetuneEpochs: 1, datasetId, split: 'test', formats: ['bundle', 'pth'], save: true },
      { onProgress: (p) => stages.add(p.stage) },
    );
    expect([...stages]).toEqual(expect.arrayContaining(['evaluate before', 'fine-tune', 'evaluate after']));
    expect(r.before.n).toBe(9);
    expect(r.after.n).toBe(9);
    expect(r.after.accuracy).not.toBeNull();
    expect(r.after.bundleBytes).toBeLessThan(0.2 * r.before.bundleBytes);
    for (const l of r.sparsity!.layers) expect(l.zeros).toBe(Math.round(0.5 * l.total));
    expect(r.model!.name).toBe('features (pruned 50 %, fine-tuned 1, uint8)');
    expect(r.model!.metrics!.accuracy).toBe(r.after.accuracy);
    expect(r.files.map((f) => f.name)).toEqual(['features_pruned_50_fine-tuned_1_uint8.zip', 'features_pruned_50_fine-tuned_1_uint8.pth']);
    const sd = readPth(r.files[1]!.bytes);
    expect(sd.get('features.3.squeeze.weight')!.data.filter((v) => v === 0).length).toBe(Math.round(0.5 * 16 * 64));

    expect((await engine.listModels()).map((m) => m.id)).toContain(r.model!.id);
    const scene = intelFiles(['forest'], 0, 1)[0]!.file;
    const answer = await engine.classify({ modelId: r.model!.id, images: [scene] });
    expect(CLASSES).toContain(answer.results[0]!.prediction!.label);
  });

  it('refuses what it cannot do, changing nothing', async () => {
    const count = (await engine.listModels()).length;
    const base = { modelId, prune: null, quantize: null, finetuneEpochs: 0, datasetId: null, split: 'test' as const, formats: [], save: true };
    await expect(engine.compressModel(base)).rejects.toThrow(/choose a pruning target or a quantization/);
    await expect(engine.compressModel({ ...base, quantize: 'uint8', finetuneEpochs: 2 })).rejects.toThrow(/fine-tuning needs a dataset/);
    await expect(engine.compressModel({ ...base, prune: { sparsity: 1.5, scope: 'layer', structured: false } })).rejects.toThrow(/sparsity must be in \[0, 1\)/);
    await expect(engine.compressModel({ ...base, quantize: 'uint8', datasetId, split: 'validation' })).rejects.toThrow(/no labelled images of the model's classes in its validation split/);
    await expect(engine.compressModel({ ...base, quantize: 'uint8', modelId: 'gone' })).rejects.toThrow(/no longer exists/);
    expect((await engine.listModels()).length).toBe(count);
  });
});
