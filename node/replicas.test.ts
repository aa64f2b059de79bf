import { readFileSync } from 'node:fs';
import { beforeAll, describe, expect, it } from 'vitest';
import type { NamedWeight } from '../model/model';
import { caffeBgr } from '../model/preprocess';
import { readPth } from '../model/pth';
import { runConfig } from '../model/run/config';
import { runTraining } from '../model/run/pipeline';
import { CLASSES, PRETRAINED, fileSource, intelFiles } from '../test/helpers/intel';
import { initNodeBackend } from './backend';
import { nodeReplicas, replicaWork } from './replicas';

beforeAll(async () => {
  await initNodeBackend('wasm');
});

/** A run with flips on 4 classes x 6 images, on `threads` threads; wall time aside, every number of it. */
async function run(threads: number, freeze: boolean): Promise<{ pth: Uint8Array; history: unknown; metrics: unknown }> {
  const weights = readPth(readFileSync(PRETRAINED));
  const classes = CLASSES.slice(0, 4);
  const config = runConfig('squeezenet1_1', { preprocessing: caffeBgr(64), valSplit: 0.25, options: { freeze, epochs: 2, batchSize: freeze ? 4 : 9, hflip: true, seed: 3 } });
  const replicas = nodeReplicas(threads);
  const outcome = await runTraining(
    { config, classes, pool: fileSource(intelFiles('train', 6, classes)), weights: { name: 'features', stateDict: weights } },
    replicas ? { replicas } : {},
  );
  return { pth: outcome.pth, history: outcome.result.history.map(({ seconds: _s, ...e }) => e), metrics: outcome.metrics };
}

function weightsOf(pth: Uint8Array): NamedWeight[] {
  return [...readPth(pth)].map(([name, t]) => ({ name, shape: t.shape, data: Float32Array.from(t.data as Float32Array) }));
}

describe('replicas on worker threads', () => {
  it('give a head-only run bit for bit what one thread gives, with the workers computing feature batches', async () => {
    const one = await run(1, true);
    const before = replicaWork().features;
    const two = await run(2, true);
    const offloaded = replicaWork().features - before;
    const three = await run(3, true);
    // 18 training and 6 validation images in batches of 4: the workers took some of the 6 + 2.
    expect(offloaded).toBeGreaterThan(0);
    expect(replicaWork().features - before).toBeGreaterThan(offloaded);
    for (const other of [two, three]) {
      expect(other.history).toEqual(one.history);
      expect(other.metrics).toEqual(one.metrics);
      expect(Buffer.from(other.pth).equals(Buffer.from(one.pth))).toBe(true);
    }
  });

  it('split full fine-tuning steps: the same run at a thread count, one thread\'s to rounding', async () => {
    const one = await run(1, false);
    const before = replicaWork().gradients;
    const two = await run(2, false);
    // 18 training images in batches of 9, 2 epochs: every step split once.
    expect(replicaWork().gradients - before).toBe(4);
    const twoAgain = await run(2, false);
    expect(Buffer.from(twoAgain.pth).equals(Buffer.from(two.pth))).toBe(true);
    expect(twoAgain.history).toEqual(two.history);
    // Summing the parts' gradients rounds differently from one pass over the batch: close, not equal.
    expect(Buffer.from(two.pth).equals(Buffer.from(one.pth))).toBe(false);
    const a = weightsOf(one.pth);
    const b = weightsOf(two.pth);
    expect(b.map((w) => w.name)).toEqual(a.map((w) => w.name));
    a.forEach((w, k) => {
      const v = b[k]!.data;
      let scale = 0;
      let worst = 0;
      for (let i = 0; i < w.data.length; i++) {
        scale = Math.max(scale, Math.abs(w.data[i]!));
        worst = Math.max(worst, Math.abs(v[i]! - w.data[i]!));
      }
      expect(worst, w.name).toBeLessThanOrEqual(1e-3 * scale + 1e-6);
    });
    const h1 = one.history as Array<{ trainLoss: number; valLoss: number }>;
    const h2 = two.history as Array<{ trainLoss: number; valLoss: number }>;
    h1.forEach((e, k) => {
      expect(h2[k]!.trainLoss).toBeCloseTo(e.trainLoss, 3);
      expect(h2[k]!.valLoss).toBeCloseTo(e.valLoss, 3);
    });
  });

  it('uses no worker for 1 thread and refuses a thread count that is not a whole number ≥ 1', () => {
    expect(nodeReplicas(1)).toBeUndefined();
    expect(() => nodeReplicas(0)).toThrow(/whole number ≥ 1/);
    expect(() => nodeReplicas(1.5)).toThrow(/whole number ≥ 1/);
  });
});
