// The WebGPU path outside the browser: tfjs-backend-webgpu on Dawn (the `webgpu` package),
// on Chromium's SwiftShader here and on the real driver on a GPU machine. Tiny on purpose: the
// software adapter is correct but slow.
import { readFileSync } from 'node:fs';
import * as tf from '@tensorflow/tfjs-core';
import { describe, expect, it } from 'vitest';
import { initNodeBackend } from '../node/backend';
import { ClassifierModel } from '../model/model';
import { readPth } from '../model/pth';
import { crossEntropy } from '../model/train';

const golden = (name: string) => readPth(readFileSync(new URL(`fixtures/golden/${name}`, import.meta.url)));

function relErr(a: ArrayLike<number>, b: ArrayLike<number>): number {
  let d = 0;
  let s = 0;
  for (let i = 0; i < b.length; i++) {
    d = Math.max(d, Math.abs(a[i]! - b[i]!));
    s = Math.max(s, Math.abs(b[i]!));
  }
  return d / s;
}

/** One SGD step on a batch of two 150x150 inputs; returns the loss and the updated first conv. */
async function sgdStep(backend: 'webgpu' | 'wasm'): Promise<{ loss: number; weight: Float32Array; logits: Float32Array }> {
  await initNodeBackend(backend);
  const io = golden('squeezenet1_1-6-io.pth');
  const model = ClassifierModel.create({ arch: 'squeezenet1_1', numClasses: 6 });
  model.loadStateDict(golden('squeezenet1_1-6.pth'));
  const input = io.get('input_150')!;
  const x = tf.tidy(() => tf.transpose(tf.tensor4d(Float32Array.from(input.data), input.shape as [number, number, number, number]), [0, 2, 3, 1])) as tf.Tensor4D;
  const y = tf.tensor1d(Array.from(io.get('labels_150')!.data), 'int32');
  const logits = model.forward(x);
  const logitData = (await logits.data()) as Float32Array;
  const optimizer = tf.train.sgd(0.01);
  const vars = model.trainableVariables(false);
  const cost = optimizer.minimize(() => crossEntropy(model.forward(x), y), true, vars)!;
  const loss = (await cost.data())[0]!;
  const weight = (await model.param('features.0.weight').data()) as Float32Array;
  tf.dispose([x, y, logits, cost]);
  optimizer.dispose();
  model.dispose();
  return { loss, weight, logits: logitData };
}

describe('tfjs WebGPU backend in Node (Dawn)', () => {
  it('selects a real adapter and matches torchvision and the wasm backend on a training step', async () => {
    const info = await initNodeBackend('webgpu');
    expect(info.name).toBe('webgpu');
    expect(info.adapter).toBeTruthy();
    expect(tf.getBackend()).toBe('webgpu');
    const gpu = await sgdStep('webgpu');
    const expected = golden('squeezenet1_1-6-io.pth').get('logits_150')!.data;
    expect(relErr(gpu.logits, expected)).toBeLessThanOrEqual(1e-4);
    const cpu = await sgdStep('wasm');
    expect(Math.abs(gpu.loss - cpu.loss) / cpu.loss).toBeLessThanOrEqual(1e-4);
    expect(relErr(gpu.weight, cpu.weight)).toBeLessThanOrEqual(1e-4);
    // SwiftShader runs the shaders on the CPU: seconds alone, minutes on a busy machine.
  }, 600_000);
});
