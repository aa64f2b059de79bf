import { readFileSync } from 'node:fs';
import { writeFile } from 'node:fs/promises';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { exportModelFiles, importModelFiles, unzipModelFiles, zipModelFiles } from '../../model/artifacts';
import { pruneModel } from '../../model/compress';
import { classify } from '../../model/evaluate';
import { ClassifierModel } from '../../model/model';
import { readPth } from '../../model/pth';
import { decodeImage } from '../../node/data';
import { initNodeBackend } from '../../node/backend';
import { startServer, type RunningServer } from '../app';
import { b64, CLASSES, cleanup, intelJpegs, postJson, tempDir, testConfig } from './helpers';

const PRETRAINED = path.resolve(import.meta.dirname, '../../../shared/weights/squeezenet1_1-features-imagenet.pth');
const GOLDEN_HEAD = new URL('../../test/fixtures/golden/squeezenet1_1-6.pth', import.meta.url);

interface PredictJson {
  predictions: Array<{ label: string; probabilities: Record<string, number> }>;
  source: string;
}

describe('embedded predictor with a pruned, uint8-quantized bundle', () => {
  let dir: string;
  let server: RunningServer;
  let bundle: Uint8Array;
  let float32: ClassifierModel;
  const jpegs = [...intelJpegs('forest', 2), ...intelJpegs('sea', 2), ...intelJpegs('street', 2)];

  beforeAll(async () => {
    dir = tempDir('predict-u8');
    await initNodeBackend('wasm');
    float32 = ClassifierModel.create({ arch: 'squeezenet1_1', numClasses: 6, labels: CLASSES });
    float32.loadStateDict(readPth(readFileSync(GOLDEN_HEAD)));
    float32.loadStateDict(readPth(readFileSync(PRETRAINED)));
    await pruneModel(float32, { sparsity: 0.5, scope: 'layer', structured: false });
    bundle = zipModelFiles(await exportModelFiles(float32, {}, { quantize: 'uint8' }));
    const file = path.join(dir, 'model-u8.zip');
    await writeFile(file, bundle);
    server = await startServer(testConfig(dir, { SCENELAB_MODEL: file }), { logger: false });
    await server.modelLoaded;
  });
  afterAll(async () => {
    float32?.dispose();
    await server?.close();
    await cleanup(dir);
  });

  it('loads it and answers as the model core answers for the same bundle, close to float32', async () => {
    const r = await postJson(`${server.url}/api/predict`, { instances: jpegs.map((j) => ({ data: { b64: b64(j) } })) });
    expect(r.status, JSON.stringify(r.json)).toBe(200);
    const json = r.json as unknown as PredictJson;
    expect(json.source).toBe('local');
    const images = await Promise.all(jpegs.map((j, i) => decodeImage(j, `img${i}`)));
    const reference = importModelFiles(unzipModelFiles(bundle));
    try {
      const expected = await classify(reference, images);
      const unquantized = await classify(float32, images);
      json.predictions.forEach((p, i) => {
        expect(p.label).toBe(expected[i]!.label);
        for (const c of CLASSES) {
          expect(p.probabilities[c]).toBeCloseTo(expected[i]!.probabilities[c]!, 5);
          expect(Math.abs(p.probabilities[c]! - unquantized[i]!.probabilities[c]!)).toBeLessThan(0.05);
        }
      });
    } finally {
      reference.dispose();
    }
  });
});
