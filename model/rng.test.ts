import { describe, expect, it } from 'vitest';
import { dropoutMask, Rng } from './rng';

describe('dropoutMask', () => {
  it.each([0, 0.2, 0.5, 0.9])('keeps about 1 - %f of the elements, scaled by 1 / (1 - rate)', (rate) => {
    const n = 200_001; // odd: the last element takes the first half of a draw
    const mask = dropoutMask(n, rate, 42);
    const keep = 1 / (1 - rate);
    let kept = 0;
    for (const v of mask) {
      if (v === 0) continue;
      expect(v).toBeCloseTo(keep, 6);
      kept++;
    }
    // Binomial: 5 standard deviations either side.
    const sd = Math.sqrt(n * rate * (1 - rate));
    expect(Math.abs(kept - n * (1 - rate))).toBeLessThanOrEqual(5 * sd + 1);
    // Inverted dropout keeps the expected value: mean ≈ 1.
    expect(mask.reduce((a, b) => a + b, 0) / n).toBeCloseTo(1, 1);
  });

  it('is the same for a seed and differs between seeds', () => {
    expect(dropoutMask(1000, 0.5, 7)).toEqual(dropoutMask(1000, 0.5, 7));
    const a = dropoutMask(1000, 0.5, 7);
    const b = dropoutMask(1000, 0.5, 8);
    expect(a.filter((v, i) => v !== b[i]).length).toBeGreaterThan(300);
  });

  it('draws both halves of each 32-bit number independently (no pairs of equal neighbours)', () => {
    const m = dropoutMask(100_000, 0.5, 3);
    let same = 0;
    for (let i = 0; i < m.length; i += 2) if (m[i] === m[i + 1]) same++;
    expect(same / (m.length / 2)).toBeGreaterThan(0.45);
    expect(same / (m.length / 2)).toBeLessThan(0.55);
  });

  it.each([
    [0, 7],
    [1, 7],
    [6, 1],
    [13, 10],
    [99, 101],
  ])('draws elements [%i, +%i) of a larger mask directly, as a batch split across threads needs', (offset, size) => {
    const whole = dropoutMask(200, 0.5, 11);
    expect(dropoutMask(size, 0.5, 11, offset)).toEqual(whole.subarray(offset, offset + size));
  });

  it('refuses a rate outside [0, 1) and an offset that is not a whole number ≥ 0', () => {
    expect(() => dropoutMask(4, 0.5, 0, -1)).toThrow(/offset/);
    expect(() => dropoutMask(4, 0.5, 0, 1.5)).toThrow(/offset/);
    expect(() => dropoutMask(4, 1, 0)).toThrow(/\[0, 1\)/);
    expect(() => dropoutMask(4, -0.1, 0)).toThrow(/\[0, 1\)/);
    expect(() => dropoutMask(4, Number.NaN, 0)).toThrow(/\[0, 1\)/);
  });
});

describe('Rng', () => {
  it('continues the same sequence from a saved state', () => {
    const a = new Rng(5);
    a.next();
    const b = new Rng(0).restore(a.state);
    expect([a.next(), a.next()]).toEqual([b.next(), b.next()]);
  });
});
