import { describe, expect, it } from 'vitest';
import { Rng } from '../rng';
import { logGaussMass, logSumExp, sampleTruncNorm, truncNormLogPdf } from './normal';

// Reference values from scipy.stats.norm (cdf, logsf) and truncnorm.logpdf.
describe('normal distribution helpers', () => {
  it('logGaussMass matches scipy in the middle and deep in the tails', () => {
    expect(Math.exp(logGaussMass(-1, 1))).toBeCloseTo(0.6826894921370859, 7);
    expect(logGaussMass(0, Infinity)).toBeCloseTo(Math.log(0.5), 7);
    expect(logGaussMass(-Infinity, 0)).toBeCloseTo(Math.log(0.5), 7);
    expect(logGaussMass(5, Infinity)).toBeCloseTo(-15.064998393988727, 5);
    expect(logGaussMass(10, Infinity)).toBeCloseTo(-53.23128515051248, 5);
    expect(logGaussMass(40, Infinity)).toBeCloseTo(-804.6084420137539, 4);
    expect(logGaussMass(-Infinity, -40)).toBeCloseTo(-804.6084420137539, 4);
    expect(logGaussMass(3, 3.01)).toBeCloseTo(-10.039087761156882, 4);
    expect(logGaussMass(-0.002, 0.001)).toBeCloseTo(-6.7280820235185885, 5);
    expect(logGaussMass(1, 1)).toBe(-Infinity);
    expect(logGaussMass(2, 1)).toBe(-Infinity);
  });

  it('truncNormLogPdf matches scipy and integrates to 1 over its range', () => {
    expect(truncNormLogPdf(0.7, 0.2, 0.5, 0, 1)).toBeCloseTo(-0.2160026076520425, 6);
    expect(truncNormLogPdf(1.2, 0.2, 0.5, 0, 1)).toBe(-Infinity);
    const n = 20000;
    let integral = 0;
    for (let i = 0; i < n; i++) integral += Math.exp(truncNormLogPdf(-3 + ((i + 0.5) * 5) / n, -2.9, 0.05, -3, 2)) * (5 / n);
    expect(integral).toBeCloseTo(1, 4);
  });

  it('sampleTruncNorm stays in range and has the truncated mean', () => {
    const rng = new Rng(1);
    const xs = Array.from({ length: 20000 }, () => sampleTruncNorm(rng, 0, 1, 0, 1));
    expect(Math.min(...xs)).toBeGreaterThanOrEqual(0);
    expect(Math.max(...xs)).toBeLessThanOrEqual(1);
    // E[X | 0 < X < 1] for a standard normal: (φ(0) − φ(1)) / (Φ(1) − Φ(0)) = 0.4598.
    expect(xs.reduce((a, b) => a + b, 0) / xs.length).toBeCloseTo(0.4598, 2);
  });

  it('logSumExp survives large and infinite inputs', () => {
    expect(logSumExp([1000, 1000])).toBeCloseTo(1000 + Math.LN2, 10);
    expect(logSumExp([-Infinity, Math.log(3)])).toBeCloseTo(Math.log(3), 12);
    expect(logSumExp([])).toBe(-Infinity);
  });
});
