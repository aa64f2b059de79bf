import * as tf from '@tensorflow/tfjs-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { useBackend } from '../test/helpers/backend';
import { ClassifierModel } from './model';
import { caffeBgr, type RawImage } from './preprocess';
import { startReplicaPool, type ReplicaPool } from './replicas/pool';
import type { ReplicaEndpoint, ReplicaRequest, ReplicaResponse } from './replicas/protocol';
import { serveReplica } from './replicas/serve';
import { Rng } from './rng';
import { localStep, prepareInput, splitRows, splitStep, type StepGradients } from './train-step';

let model: ClassifierModel;
let vars: tf.Variable[];

beforeAll(async () => {
  await useBackend('wasm');
  model = ClassifierModel.create({ arch: 'squeezenet1_1', numClasses: 4, labels: ['a', 'b', 'c', 'd'], preprocessing: caffeBgr(48), seed: 5 });
  vars = model.trainableVariables(false);
});

/** A replica served on this thread: every message goes through structured clone, as between threads. */
function sameThreadEndpoint(): ReplicaEndpoint {
  let toReplica: (m: ReplicaRequest) => void = () => undefined;
  let toRun: (m: ReplicaResponse) => void = () => undefined;
  serveReplica({ post: (m, transfer) => queueMicrotask(() => toRun(structuredClone(m, { transfer }))), listen: (h) => void (toReplica = h) }, async () => undefined);
  return {
    post: (m, transfer) => queueMicrotask(() => toReplica(structuredClone(m, { transfer }))),
    listen: (onMessage) => void (toRun = onMessage),
    terminate: () => void (toReplica = () => undefined),
  };
}

function randomImages(n: number, size: number, seed: number): RawImage[] {
  const rng = new Rng(seed);
  return Array.from({ length: n }, () => ({ width: size, height: size, channels: 3 as const, data: Uint8Array.from({ length: size * size * 3 }, () => rng.int(256)) }));
}

const images = randomImages(7, 48, 1);
const labels = [0, 1, 2, 3, 0, 1, 2];
const flips = [true, false, false, true, true, false, true];
const pools: ReplicaPool[] = [];

afterAll(() => {
  for (const p of pools) p.close();
  model.dispose();
});

async function pool(size: number): Promise<ReplicaPool> {
  const p = await startReplicaPool(model, size, sameThreadEndpoint);
  pools.push(p);
  return p;
}

async function read(step: StepGradients): Promise<{ grads: Map<string, Float32Array>; loss: number; hits: number }> {
  const grads = new Map<string, Float32Array>();
  for (const [name, g] of Object.entries(step.grads)) grads.set(name, (await g.data()) as Float32Array);
  tf.dispose(Object.values(step.grads));
  return { grads, loss: step.loss, hits: step.hits };
}

async function whole(dropoutSeed: number): Promise<Awaited<ReturnType<typeof read>>> {
  const x = prepareInput(model, images, flips);
  const step = await localStep(model, vars, x, labels, { fromFeatures: false, dropoutSeed });
  x.dispose();
  return read(step);
}

describe('splitRows', () => {
  it('cuts n rows into contiguous runs that differ by at most one', () => {
    expect(splitRows(7, 3)).toEqual([
      [0, 2],
      [2, 4],
      [4, 7],
    ]);
    expect(splitRows(32, 2)).toEqual([
      [0, 16],
      [16, 32],
    ]);
    expect(splitRows(2, 2)).toEqual([
      [0, 1],
      [1, 2],
    ]);
  });
});

describe('a step split across replicas', () => {
  it.each([1, 2])('computes the whole batch\'s gradients, loss and hits with %i replica(s), dropout and flips included', async (size) => {
    const want = await whole(99);
    const got = await read(await splitStep(model, vars, await pool(size), { images, labels, flips, dropoutSeed: 99 }));
    expect(got.hits).toBe(want.hits);
    expect(got.loss).toBeCloseTo(want.loss, 5);
    expect([...got.grads.keys()]).toEqual([...want.grads.keys()]);
    expect(got.grads.size).toBe(vars.length);
    for (const [name, w] of want.grads) {
      const g = got.grads.get(name)!;
      let scale = 0;
      let worst = 0;
      for (let i = 0; i < w.length; i++) {
        scale = Math.max(scale, Math.abs(w[i]!));
        worst = Math.max(worst, Math.abs(g[i]! - w[i]!));
      }
      expect(worst, name).toBeLessThanOrEqual(1e-5 * scale + 1e-9);
    }
  });

  it('gives different gradients for another dropout seed, and the same for the same one', async () => {
    const p = await pool(1);
    const a = await read(await splitStep(model, vars, p, { images, labels, flips, dropoutSeed: 3 }));
    const b = await read(await splitStep(model, vars, p, { images, labels, flips, dropoutSeed: 3 }));
    const c = await read(await splitStep(model, vars, p, { images, labels, flips, dropoutSeed: 4 }));
    // The head's convolution, right after the dropout.
    const head = vars[model.trainableNames(false).indexOf('classifier.1.weight')]!.name;
    expect(b.grads.get(head)).toEqual(a.grads.get(head));
    expect(c.grads.get(head)).not.toEqual(a.grads.get(head));
  });

  it('fails with the replica\'s reason when it cannot compute its part', async () => {
    const p = await pool(1);
    await expect(p.gradients(0, { weights: [new Float32Array(1)], images: images.slice(0, 2), labels: [0, 1], flips: null, rows: { start: 0, total: 2 }, dropoutSeed: 1 })).rejects.toThrow(
      new RegExp(`a replica thread failed: expected ${vars.length} weight tensors, got 1`),
    );
    await expect(p.gradients(1, { weights: [], images: [], labels: [], flips: null, rows: { start: 0, total: 0 }, dropoutSeed: 1 })).rejects.toThrow(/no replica 1 in a pool of 1/);
  });

  it('refuses to start when a replica cannot build the model, naming why', async () => {
    const broken = {
      archName: 'squeezenet1_1',
      numClasses: 4,
      labels: ['a', 'b', 'c', 'd'],
      preprocessing: caffeBgr(48),
      stateDict: async () => new Map([['features.0.weight', { shape: [1, 1, 1, 1], dtype: 'float32', data: new Float32Array(1) }]]),
    } as unknown as ClassifierModel;
    await expect(startReplicaPool(broken, 1, sameThreadEndpoint)).rejects.toThrow(/a replica thread could not start: .*features\.0\.weight/);
  });
});
