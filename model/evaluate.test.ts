import { describe, expect, it } from 'vitest';
import { metricsFromProbabilities } from './evaluate';

describe('metrics', () => {
  it('computes accuracy, top-k, per-class precision/recall/F1 and the confusion matrix', () => {
    const classes = ['a', 'b', 'c'];
    // Rows: probabilities for 5 images whose true classes are [0, 0, 1, 2, 2].
    const probs = Float32Array.from([
      0.7, 0.2, 0.1, // a → a
      0.2, 0.5, 0.3, // a → b (a is 3rd: not in top-2)
      0.1, 0.8, 0.1, // b → b
      0.3, 0.1, 0.6, // c → c
      0.5, 0.1, 0.4, // c → a (c is 2nd)
    ]);
    const m = metricsFromProbabilities(classes, [0, 0, 1, 2, 2], probs);
    expect(m.n).toBe(5);
    expect(m.accuracy).toBeCloseTo(3 / 5);
    expect(m.topK[2]).toBeCloseTo(4 / 5);
    expect(m.topK[3]).toBe(1);
    expect(m.confusion).toEqual([
      [1, 1, 0],
      [0, 1, 0],
      [1, 0, 1],
    ]);
    const [a, b, c] = m.perClass;
    expect(a).toMatchObject({ label: 'a', precision: 0.5, recall: 0.5, support: 2 });
    expect(b).toMatchObject({ precision: 0.5, recall: 1, support: 1 });
    expect(b!.f1).toBeCloseTo(2 / 3);
    expect(c).toMatchObject({ precision: 1, recall: 0.5 });
    expect(m.macroF1).toBeCloseTo((0.5 + 2 / 3 + 2 / 3) / 3);
  });

  it('refuses a probability matrix of the wrong size', () => {
    expect(() => metricsFromProbabilities(['a', 'b'], [0], new Float32Array(3))).toThrow(/expected 1x2/);
  });
});
