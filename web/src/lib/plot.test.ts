import { describe, expect, it } from 'vitest';
import { linear, paddedDomain, polyline, tickLabel, ticks } from './plot';

describe('chart geometry', () => {
  it('maps a domain onto a range, a one-point domain to its middle', () => {
    expect(linear([0, 10], [100, 200])(2.5)).toBe(125);
    expect(linear([0, 1], [200, 0])(1)).toBe(0);
    expect(linear([3, 3], [0, 100])(3)).toBe(50);
  });

  it('pads a domain, and makes one around a single value or nothing', () => {
    expect(paddedDomain([0.5, 1, null, NaN], 0.1)).toEqual([0.45, 1.05]);
    expect(paddedDomain([2], 0.5)).toEqual([1, 3]);
    expect(paddedDomain([null])).toEqual([0, 1]);
  });

  it('puts round ticks inside the domain', () => {
    expect(ticks([0, 1], 4)).toEqual([0, 0.5, 1]);
    expect(ticks([0.13, 0.87], 4)).toEqual([0.2, 0.4, 0.6, 0.8]);
    expect(ticks([1, 10], 5)).toEqual([2, 4, 6, 8, 10]);
    expect(ticks([5, 5])).toEqual([5]);
  });

  it('labels ticks briefly and skips missing points in a line', () => {
    expect([0, 0.5, 0.1234, 1e-4, 25000].map(tickLabel)).toEqual(['0', '0.5', '0.123', '1e-4', '3e+4']);
    expect(polyline([[1, 0], [2, null], [3, 1]], (v) => v * 10, (v) => 100 - v * 100)).toBe('10.0,100.0 30.0,0.0');
  });
});
