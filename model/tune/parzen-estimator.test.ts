import { describe, expect, it } from 'vitest';
import { Rng } from '../rng';
import type { Distribution, ParamValue } from './distributions';
import reference from './fixtures/optuna-reference.json';
import { defaultWeights, ParzenEstimator } from './parzen-estimator';

// optuna-reference.json comes from Optuna's own _ParzenEstimator (fixtures/optuna-reference.py).
interface ParzenCase {
  distribution: Distribution;
  observations: ParamValue[];
  points: ParamValue[];
  logPdf: number[];
}

describe('ParzenEstimator', () => {
  it("has Optuna's default_weights: flat up to 25 observations, a linear ramp for older ones", () => {
    for (const [n, expected] of Object.entries(reference.weights)) {
      const got = defaultWeights(Number(n));
      expect(got).toHaveLength(expected.length);
      got.forEach((w, i) => expect(w).toBeCloseTo(expected[i]!, 12));
    }
  });

  const cases = reference.parzen as ParzenCase[];
  it.each(cases.map((c) => [`${JSON.stringify(c.distribution)} with ${c.observations.length} observations`, c] as const))(
    "log density matches Optuna's: %s",
    (_name, c) => {
      const got = new ParzenEstimator(c.distribution, c.observations).logPdf(c.points);
      // The erfc approximation is good to about 1e-7 relative; in log-mass differences that is a few 1e-6.
      got.forEach((g, i) => expect(Math.abs(g - c.logPdf[i]!)).toBeLessThan(1e-5));
    },
  );

  it('draws as its density says (stepped and categorical: frequencies match probabilities)', () => {
    for (const c of cases.filter((k) => k.observations.length === 5 && (k.distribution.type !== 'float' || k.distribution.step !== null))) {
      const d = c.distribution;
      const pe = new ParzenEstimator(d, c.observations);
      const values: ParamValue[] =
        d.type === 'categorical' ? [...d.choices] : Array.from({ length: Math.round((d.high - d.low) / d.step!) + 1 }, (_, k) => (d.type === 'int' ? d.low + k * d.step! : Number((d.low + k * d.step!).toFixed(10))));
      const probs = pe.logPdf(values).map(Math.exp);
      expect(probs.reduce((a, b) => a + b, 0)).toBeCloseTo(1, 5);
      const n = 20000;
      const draws = pe.sample(new Rng(3), n);
      const counts = values.map((v) => draws.filter((x) => (typeof x === 'number' && typeof v === 'number' ? Math.abs(x - v) < 1e-9 : x === v)).length);
      expect(counts.reduce((a, b) => a + b, 0)).toBe(n);
      // Within 5 standard errors of a binomial count, for every value.
      counts.forEach((k, i) => expect(Math.abs(k - n * probs[i]!)).toBeLessThan(5 * Math.sqrt(n * probs[i]! * (1 - probs[i]!)) + 1));
    }
  });

  it('draws continuous log values inside the range, as often as its density integrates to', () => {
    const d: Distribution = { type: 'float', low: 1e-5, high: 1, log: true, step: null };
    const pe = new ParzenEstimator(d, [1e-3, 1.2e-3, 0.9e-3, 1.1e-3]);
    const draws = pe.sample(new Rng(5), 20000) as number[];
    expect(Math.min(...draws)).toBeGreaterThanOrEqual(1e-5);
    expect(Math.max(...draws)).toBeLessThanOrEqual(1);
    // A log distribution's density is over ln(x): integrate it on a grid in ln space.
    const [a, b] = [Math.log(1e-4), Math.log(1e-2)];
    const steps = 2000;
    let mass = 0;
    for (let i = 0; i < steps; i++) mass += Math.exp(pe.logPdf([Math.exp(a + ((i + 0.5) * (b - a)) / steps)])[0]!) * ((b - a) / steps);
    const near = draws.filter((x) => x > 1e-4 && x < 1e-2).length / draws.length;
    expect(mass).toBeGreaterThan(0.6);
    expect(Math.abs(near - mass)).toBeLessThan(0.015);
    const [atCluster, far] = pe.logPdf([1e-3, 1e-5]);
    expect(atCluster!).toBeGreaterThan(far! + 1);
  });

  it('with no observations is the prior alone: uniform over choices', () => {
    const pe = new ParzenEstimator({ type: 'categorical', choices: ['a', 'b', 'c'] }, []);
    expect(pe.logPdf(['a', 'b', 'c']).map(Math.exp)).toEqual([1 / 3, 1 / 3, 1 / 3].map((p) => expect.closeTo(p, 12)));
  });
});
