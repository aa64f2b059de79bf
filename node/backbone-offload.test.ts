import { readFileSync } from 'node:fs';
import { beforeAll, describe, expect, it } from 'vitest';
import type { ClassifierModel } from '../model/model';
import { caffeBgr } from '../model/preprocess';
import { readPth } from '../model/pth';
import { runConfig } from '../model/run/config';
import { runTraining } from '../model/run/pipeline';
import { CLASSES, PRETRAINED, fileSource, intelFiles } from '../test/helpers/intel';
import { initNodeBackend } from './backend';
import { backboneBatchesOffloaded, nodeBackboneOffload } from './backbone-offload';

beforeAll(async () => {
  await initNodeBackend('wasm');
});

/** A head-only run with flips on 4 classes x 6 images, its features computed on `threads` threads. */
async function headOnly(threads: number): Promise<{ pth: Uint8Array; history: unknown; metrics: unknown }> {
  const weights = readPth(readFileSync(PRETRAINED));
  const classes = CLASSES.slice(0, 4);
  const config = runConfig('squeezenet1_1', { preprocessing: caffeBgr(64), valSplit: 0.25, options: { freeze: true, epochs: 2, batchSize: 4, hflip: true, seed: 3 } });
  const offload = nodeBackboneOffload(threads);
  const run = await runTraining(
    { config, classes, pool: fileSource(intelFiles('train', 6, classes)), weights: { name: 'features', stateDict: weights } },
    offload ? { backboneOffload: offload } : {},
  );
  // Wall time aside, every number of the run.
  return { pth: run.pth, history: run.result.history.map(({ seconds: _s, ...e }) => e), metrics: run.metrics };
}

describe('backbone features on worker threads', () => {
  it('give a head-only run bit for bit what one thread gives, with the workers computing batches', async () => {
    const one = await headOnly(1);
    const before = backboneBatchesOffloaded();
    const two = await headOnly(2);
    const offloaded = backboneBatchesOffloaded() - before;
    const three = await headOnly(3);
    // 18 training and 6 validation images in batches of 4: the workers took some of the 6 + 2.
    expect(offloaded).toBeGreaterThan(0);
    expect(backboneBatchesOffloaded() - before).toBeGreaterThan(offloaded);
    for (const other of [two, three]) {
      expect(other.history).toEqual(one.history);
      expect(other.metrics).toEqual(one.metrics);
      expect(Buffer.from(other.pth).equals(Buffer.from(one.pth))).toBe(true);
    }
  });

  it('make the run fail with the reason when a worker cannot build the model', async () => {
    const broken = {
      archName: 'squeezenet1_1',
      numClasses: 4,
      labels: ['a', 'b', 'c', 'd'],
      preprocessing: caffeBgr(64),
      // A state dict of the wrong shape: loading it in the worker throws.
      stateDict: async () => new Map([['features.0.weight', { shape: [1, 1, 1, 1], dtype: 'float32', data: new Float32Array(1) }]]),
    } as unknown as ClassifierModel;
    await expect(nodeBackboneOffload(2)!(broken)).rejects.toThrow(/a backbone thread could not start: .*features\.0\.weight/);
  });

  it('uses no worker for 1 thread and refuses a thread count that is not a whole number ≥ 1', () => {
    expect(nodeBackboneOffload(1)).toBeUndefined();
    expect(() => nodeBackboneOffload(0)).toThrow(/whole number ≥ 1/);
    expect(() => nodeBackboneOffload(1.5)).toThrow(/whole number ≥ 1/);
  });
});
