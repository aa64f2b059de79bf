import { describe, expect, it } from 'vitest';
import { categorical, contains, float, int, validateSpace, when } from './distributions';
import { RandomSampler, sampleUniform } from './random-sampler';
import { createStudy } from './study';
import { Rng } from '../rng';

describe('distributions', () => {
  it('validateSpace names the first bad parameter', () => {
    expect(() => validateSpace({})).toThrow(/at least one/);
    expect(() => validateSpace({ lr: float(0, 1, { log: true }) })).toThrow(/lr: a log scale needs low > 0/);
    expect(() => validateSpace({ n: int(1, 10, { step: 4 }) })).toThrow(/n: high - low must be a multiple of step 4/);
    expect(() => validateSpace({ n: int(1, 10, { log: true, step: 3 }) })).toThrow(/log-scale int takes step 1/);
    expect(() => validateSpace({ n: int(1.5, 10) })).toThrow(/integers/);
    expect(() => validateSpace({ x: float(0.1, 1, { log: true, step: 0.1 }) })).toThrow(/either log or step/);
    expect(() => validateSpace({ c: categorical(['a', 'a']) })).toThrow(/choice twice/);
    expect(() => validateSpace({ wd: when('on', true, float(0, 1)), on: categorical([true, false]) })).toThrow(/earlier parameter/);
    expect(() => validateSpace({ on: categorical(['yes', 'no']), wd: when('on', true, float(0, 1)) })).toThrow(/choice true/);
    expect(validateSpace({ x: float(0, 1, { step: 0.1 }), n: int(0, 12, { step: 4 }) })).toBeTruthy();
  });

  it('contains knows the grid', () => {
    expect(contains(int(0, 12, { step: 4 }), 8)).toBe(true);
    expect(contains(int(0, 12, { step: 4 }), 6)).toBe(false);
    expect(contains(float(0, 1, { step: 0.1 }), 0.30000000000000004)).toBe(true);
    expect(contains(float(0, 1, { step: 0.1 }), 0.35)).toBe(false);
    expect(contains(float(0, 1), 1.5)).toBe(false);
    expect(contains(categorical([1, 2]), '1')).toBe(false);
    expect(contains(categorical([null, true]), null)).toBe(true);
  });
});

describe('RandomSampler', () => {
  it('draws every grid point of an int evenly, ends included', () => {
    const rng = new Rng(4);
    const counts = new Map<number, number>();
    for (let i = 0; i < 40000; i++) {
      const v = sampleUniform(rng, int(3, 6)) as number;
      counts.set(v, (counts.get(v) ?? 0) + 1);
    }
    expect([...counts.keys()].sort()).toEqual([3, 4, 5, 6]);
    for (const c of counts.values()) expect(c / 40000).toBeCloseTo(0.25, 1.5);
  });

  it('draws a log float evenly per decade and a log int inside its range', () => {
    const rng = new Rng(5);
    const xs = Array.from({ length: 40000 }, () => sampleUniform(rng, float(1e-4, 1, { log: true })) as number);
    for (let decade = -4; decade < 0; decade++) {
      const share = xs.filter((x) => x >= 10 ** decade && x < 10 ** (decade + 1)).length / xs.length;
      expect(share).toBeCloseTo(0.25, 1.5);
    }
    const ns = Array.from({ length: 2000 }, () => sampleUniform(rng, int(1, 1000, { log: true })) as number);
    expect(ns.every((n) => Number.isInteger(n) && n >= 1 && n <= 1000)).toBe(true);
    expect(ns.filter((n) => n < 32).length / ns.length).toBeCloseTo(0.5, 1);
  });

  it('is deterministic per seed and trial number, whatever was drawn before', () => {
    const space = { x: float(0, 1), c: categorical(['a', 'b', 'c']) };
    const study = createStudy({ direction: 'minimize', objective: 'f', space });
    const a = new RandomSampler({ seed: 1 });
    const b = new RandomSampler({ seed: 1 });
    const trial7 = a.sample(study, space, 7);
    b.sample(study, space, 3);
    expect(b.sample(study, space, 7)).toEqual(trial7);
    expect(new RandomSampler({ seed: 2 }).sample(study, space, 7)).not.toEqual(trial7);
    expect(a.sample(study, space, 8)).not.toEqual(trial7);
  });
});
