import { describe, expect, it } from 'vitest';
import { entropy, softmaxRows, topTwo, uncertaintyQueue } from './uncertainty';

describe('uncertainty queue', () => {
  const rows = [
    [0.9, 0.05, 0.05], // confident
    [1 / 3, 1 / 3, 1 / 3], // uniform: the most uncertain by entropy
    [0.5, 0.5, 0], // a coin toss between two: margin 0
    [0.6, 0.3, 0.1],
    [0.05, 0.9, 0.05], // same entropy as row 0: a tie
  ];

  it('computes entropy in nats and the top-two margin', () => {
    expect(entropy([1, 0, 0])).toBe(0);
    expect(entropy([0.5, 0.5])).toBeCloseTo(Math.log(2), 12);
    expect(entropy([1 / 3, 1 / 3, 1 / 3])).toBeCloseTo(Math.log(3), 12);
    expect(entropy([0.9, 0.05, 0.05])).toBeCloseTo(-(0.9 * Math.log(0.9) + 2 * 0.05 * Math.log(0.05)), 12);
    expect(topTwo([0.2, 0.7, 0.1])).toEqual({ best: 1, probability: 0.7, second: 0.2, margin: 0.7 - 0.2 });
    // A tie for first keeps the first class and has margin 0.
    expect(topTwo([0.4, 0.4, 0.2])).toMatchObject({ best: 0, margin: 0 });
  });

  it('orders by entropy, highest first, ties in input order', () => {
    const q = uncertaintyQueue(rows, 'entropy');
    expect(q.map((i) => i.index)).toEqual([1, 3, 2, 0, 4]);
    expect(q[0]).toEqual({ index: 1, score: expect.closeTo(Math.log(3), 12), suggested: 0, probability: 1 / 3 });
    expect(q[3]!.score).toBe(q[4]!.score);
    expect(q.find((i) => i.index === 4)).toMatchObject({ suggested: 1, probability: 0.9 });
  });

  it('orders by margin, smallest first, ties in input order', () => {
    const q = uncertaintyQueue(rows, 'margin');
    expect(q.map((i) => i.index)).toEqual([1, 2, 3, 0, 4]);
    expect(q.map((i) => i.score)).toEqual([0, 0, expect.closeTo(0.3, 12), expect.closeTo(0.85, 12), expect.closeTo(0.85, 12)]);
    expect(q[1]).toEqual({ index: 2, score: 0, suggested: 0, probability: 0.5 });
  });

  it('takes typed arrays and softmax outputs', () => {
    const probs = softmaxRows([Float32Array.from([2, 1, 0]), Float32Array.from([0, 0, 0])]);
    expect(probs[1]![0]).toBeCloseTo(1 / 3, 12);
    expect([...probs[0]!].reduce((a, b) => a + b)).toBeCloseTo(1, 12);
    expect(uncertaintyQueue(probs, 'entropy').map((i) => i.index)).toEqual([1, 0]);
    expect(uncertaintyQueue([], 'margin')).toEqual([]);
  });

  it('refuses malformed probabilities, naming the image', () => {
    expect(() => uncertaintyQueue([[0.5, 0.5], [1]], 'entropy')).toThrow(/image 1 has 1 probabilities/);
    expect(() => uncertaintyQueue([[1]], 'entropy')).toThrow(/at least 2 classes/);
    expect(() => uncertaintyQueue([[0.5, 0.5], [Number.NaN, 1]], 'margin')).toThrow(/image 1, class 0/);
    expect(() => uncertaintyQueue([[-0.1, 1.1]], 'margin')).toThrow(/\[0, 1\]/);
    expect(() => uncertaintyQueue([[0.5, 0.5]], 'random' as never)).toThrow(/entropy or margin/);
  });
});
