// One run pipeline, two front ends: the CLI and the app's engine train the same way and write
// the same hyperparameters.json (keys, order and the values both were given).
import { spawnSync } from 'node:child_process';
import { copyFileSync, mkdirSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { unzipSync } from 'fflate';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { HYPERPARAMETER_KEYS } from '../../model/run/config';
import { DEFAULT_TRAIN_OPTIONS } from '../../model/train';
import { intelFiles as engineFiles, nodeEngine } from '../../web/src/engine/test-support';
import { intelFiles, PRETRAINED } from '../helpers/intel';

const ROOT = path.resolve(import.meta.dirname, '../..');
const CLASSES = ['forest', 'sea'];
const tmp = mkdtempSync(path.join(tmpdir(), 'scenelab-pipeline-'));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

describe('the run pipeline behind the CLI and the app', () => {
  const data = path.join(tmp, 'data');
  beforeAll(async () => {
    for (const { file, label } of intelFiles('train', 6, CLASSES)) {
      mkdirSync(path.join(data, CLASSES[label]!), { recursive: true });
      copyFileSync(file, path.join(data, CLASSES[label]!, path.basename(file)));
    }
    await nodeEngine().engine.init('wasm');
  });

  it('writes hyperparameters.json with the same keys in the same order from both', async () => {
    const out = path.join(tmp, 'run');
    const r = spawnSync(
      process.execPath,
      [path.join(ROOT, 'bin/scenelab.js'), 'train', '--data', data, '--arch', 'squeezenet1_1', '--weights', PRETRAINED, '--freeze', '--epochs', '1', '--batch-size', '4', '--val-split', '0.25', '--seed', '3', '--out', out],
      { cwd: ROOT, encoding: 'utf8' },
    );
    expect(r.status, r.stderr).toBe(0);
    const fromCli = JSON.parse(readFileSync(path.join(out, 'hyperparameters.json'), 'utf8')) as Record<string, unknown>;

    const { engine } = nodeEngine();
    const { dataset } = await engine.importDataset({ name: 'pipeline', source: { kind: 'files', files: engineFiles(CLASSES, 6, 0) } });
    const weights = await engine.importWeights(path.basename(PRETRAINED), new Blob([new Uint8Array(readFileSync(PRETRAINED))]));
    const { model } = await engine.train({
      datasetId: dataset.id,
      weightsId: weights.id,
      arch: 'squeezenet1_1',
      preprocessing: 'auto',
      valSplit: 0.25,
      options: { ...DEFAULT_TRAIN_OPTIONS, freeze: true, epochs: 1, batchSize: 4, seed: 3 },
    });
    const files = unzipSync(await engine.exportModel(model!.id));
    const fromApp = JSON.parse(new TextDecoder().decode(files['hyperparameters.json'])) as Record<string, unknown>;

    expect(Object.keys(fromCli)).toEqual([...HYPERPARAMETER_KEYS]);
    expect(Object.keys(fromApp)).toEqual([...HYPERPARAMETER_KEYS]);
    // Same configuration in, same record out; only the weights' name says where each file came from.
    expect({ ...fromApp, weights: null }).toEqual({ ...fromCli, weights: null });
    expect(fromCli['weights']).toBe(PRETRAINED);
    expect(fromApp['weights']).toBe(path.basename(PRETRAINED));
    expect(fromCli).toMatchObject({ arch: 'squeezenet1_1', preprocessing: 'caffe-bgr', valSplit: 0.25, freeze: true, epochs: 1, batchSize: 4, seed: 3 });
  });
});
