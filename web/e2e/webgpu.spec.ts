/**
 * WebGPU smoke test on Chromium's software adapter (SwiftShader): the selector picks WebGPU,
 * and one training step plus one prediction match the WASM backend. Tiny on purpose (two
 * 64x64 images, one step): the software adapter is correct but slow.
 */
import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { expect, test } from '@playwright/test';
import type { Engine } from '../src/engine/types';
import { DEFAULT_TRAIN_OPTIONS } from '../../model/train';
import { INTEL, requireSharedData } from './fixtures';

requireSharedData();

test('WebGPU is selected on the software adapter and agrees with WASM on a training step and a prediction', async ({ page }) => {
  // Asked for by name: `auto` passes over a software adapter (WASM is faster there).
  await page.goto('./?backend=webgpu#/settings');
  await expect(page.getByTestId('backend')).toContainText('webgpu', { timeout: 120_000 });
  await expect(page.getByTestId('backend')).toContainText(/swiftshader/i);

  const images = ['forest', 'sea'].map((c) => {
    const dir = path.join(INTEL, 'train', c);
    const first = readdirSync(dir).sort()[0]!;
    return { path: `tiny/${c}/${first}`, bytes: Array.from(readFileSync(path.join(dir, first))) };
  });

  const result = await page.evaluate(async ({ imgs, defaults }) => {
    const app = (window as unknown as { scenelab: { engine: Engine } }).scenelab;
    const engine = app.engine;
    const files = imgs.map((i) => ({ path: i.path, file: new Blob([new Uint8Array(i.bytes)], { type: 'image/jpeg' }) }));
    const { dataset } = await engine.importDataset({ name: 'tiny', source: { kind: 'files', files } });
    const config = {
      datasetId: dataset.id,
      arch: 'squeezenet1_1' as const,
      weightsId: null,
      preprocessing: { name: 'tiny', inputSize: [64, 64] as [number, number], channelOrder: 'bgr' as const, scale: 1, mean: [104, 117, 123] as [number, number, number], std: [1, 1, 1] as [number, number, number], resize: 'stretch' as const },
      valSplit: 0,
      options: { ...defaults, freeze: false, batchSize: 2, learningRate: 1e-3, epochs: 1, optimizer: 'adam' as const, hflip: false, earlyStopping: null, seed: 7 },
    };
    const probe = files[0]!.file;
    const runOn = async (backend: 'webgpu' | 'wasm') => {
      const info = await engine.init(backend);
      const { run, model } = await engine.train(config);
      const c = await engine.classify({ modelId: model!.id, images: [probe] });
      return { backend: info.name, adapter: info.adapter, loss: run.history[0]!.trainLoss, probs: c.results[0]!.prediction!.probabilities };
    };
    return [await runOn('webgpu'), await runOn('wasm')];
  }, { imgs: images, defaults: { ...DEFAULT_TRAIN_OPTIONS } });

  const [gpu, wasm] = result;
  test.info().annotations.push({ type: 'webgpu-vs-wasm', description: JSON.stringify(result) });
  expect(gpu!.backend).toBe('webgpu');
  expect(wasm!.backend).toBe('wasm');
  expect(Math.abs(gpu!.loss - wasm!.loss)).toBeLessThan(1e-3);
  for (const label of Object.keys(wasm!.probs)) {
    const g = gpu!.probs[label]!;
    const w = wasm!.probs[label]!;
    expect(Math.abs(g - w)).toBeLessThan(2e-3);
    // Log-probabilities too: an untrained network's softmax saturates, where absolute differences say little.
    expect(Math.abs(Math.log(g) - Math.log(w))).toBeLessThan(1e-2);
  }
});
