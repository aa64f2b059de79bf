import * as tf from '@tensorflow/tfjs-core';
import { afterAll, describe, expect, it } from 'vitest';
import { useBackend } from '../test/helpers/backend';
import { dropout } from './arch/common';
import { stackFeatures, type SourceFeatures } from './feature-cache';
import { Rng } from './rng';
import { backendCopiesValues, Scratch } from './scratch';

afterAll(() => useBackend('wasm'));

describe('Scratch', () => {
  it('reuses an array for a size on wasm, which copies values into its memory', async () => {
    await useBackend('wasm');
    expect(backendCopiesValues()).toBe(true);
    const s = new Scratch();
    const a = s.take(10);
    expect(s.take(10)).toBe(a);
    expect(s.take(11)).not.toBe(a);
    // Four sizes are kept: a fifth pushes out the oldest.
    s.take(12);
    s.take(13);
    s.take(14);
    expect(s.take(11).length).toBe(11);
    expect(s.take(10)).not.toBe(a);
  });

  it('hands out fresh arrays on cpu, which keeps the array a tensor was made from', async () => {
    await useBackend('cpu');
    expect(backendCopiesValues()).toBe(false);
    const s = new Scratch();
    expect(s.take(10)).not.toBe(s.take(10));
  });

  for (const backend of ['wasm', 'cpu'] as const) {
    it(`tensors made one after another from taken arrays keep their own values (${backend})`, async () => {
      await useBackend(backend);
      const cache: SourceFeatures = {
        shape: [2, 2, 1],
        features: [0, 1, 2].map((i) => Float32Array.from({ length: 4 }, (_, k) => i * 10 + k)),
        flipped: [0, 1, 2].map((i) => Float32Array.from({ length: 4 }, (_, k) => -(i * 10 + k))),
        labels: Int32Array.from([0, 1, 2]),
        valid: [0, 1, 2],
        skipped: [],
      };
      const first = stackFeatures(cache, [0, 1], null);
      const second = stackFeatures(cache, [2, 1], [false, true]);
      expect(Array.from(first.dataSync())).toEqual([0, 1, 2, 3, 10, 11, 12, 13]);
      expect(Array.from(second.dataSync())).toEqual([20, 21, 22, 23, -10, -11, -12, -13]);

      const x = tf.ones([2, 8]);
      const a = dropout(x, 0.5, { training: true, rng: new Rng(1) });
      const b = dropout(x, 0.5, { training: true, rng: new Rng(2) });
      const [va, vb] = [Array.from(a.dataSync()), Array.from(b.dataSync())];
      expect(va).not.toEqual(vb);
      expect(Array.from(dropout(x, 0.5, { training: true, rng: new Rng(1) }).dataSync())).toEqual(va);
      tf.dispose([first, second, x, a, b]);
    });
  }
});
