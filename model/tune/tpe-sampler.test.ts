import { describe, expect, it } from 'vitest';
import { bestTrial } from './analysis';
import { categorical, float, when, type Params } from './distributions';
import reference from './fixtures/optuna-reference.json';
import { RandomSampler } from './random-sampler';
import { ask, createStudy, tell, type Direction, type Sampler, type Trial } from './study';
import { parseStudy, serializeStudy } from './study-file';
import { MIXED_SPACE, mixedQuadratic, runSynchronously } from './test-support';
import { defaultGamma, splitTrials, TpeSampler } from './tpe-sampler';

const SEEDS = Array.from({ length: 12 }, (_, i) => i);
const TRIALS = 40;

function bestOf(sampler: Sampler): number {
  return bestTrial(runSynchronously(sampler, mixedQuadratic, TRIALS))!.value!;
}

describe('TpeSampler', () => {
  it('beats random search on a shifted quadratic over mixed parameters (40 trials, 12 seeds)', () => {
    const random = SEEDS.map((seed) => bestOf(new RandomSampler({ seed })));
    const tpe = SEEDS.map((seed) => bestOf(new TpeSampler({ seed })));
    const mean = (xs: number[]): number => xs.reduce((a, b) => a + b, 0) / xs.length;
    const wins = tpe.filter((v, i) => v < random[i]!).length;
    // Measured with seeds 0–11: random 0.773, TPE 0.383, TPE better on 10 of 12 (over 100
    // seeds: 0.989 against 0.413, 89 wins). The margin is two thirds of the measured gap.
    expect(mean(random) - mean(tpe)).toBeGreaterThan(0.25);
    expect(wins).toBeGreaterThanOrEqual(8);
  });

  it('is deterministic per seed, and different seeds search differently', () => {
    const params = (seed: number): Params[] => runSynchronously(new TpeSampler({ seed }), mixedQuadratic, 25).trials.map((t) => t.params);
    expect(params(7)).toEqual(params(7));
    expect(params(7)).not.toEqual(params(8));
  });

  it('samples the same whether or not the study was saved and reloaded on the way', () => {
    const straight = runSynchronously(new TpeSampler({ seed: 3 }), mixedQuadratic, 24);
    let study = runSynchronously(new TpeSampler({ seed: 3 }), mixedQuadratic, 12);
    study = parseStudy(serializeStudy(study));
    const sampler = new TpeSampler({ seed: 3 });
    for (let i = 12; i < 24; i++) {
      const t = ask(study, sampler, i);
      tell(study, t, { state: 'complete', value: mixedQuadratic(t.params) }, i);
    }
    expect(study.trials.map((t) => t.params)).toEqual(straight.trials.map((t) => t.params));
  });

  it('draws its first 10 trials at random, exactly as RandomSampler with the same seed', () => {
    const tpe = runSynchronously(new TpeSampler({ seed: 11 }), mixedQuadratic, 12);
    const random = runSynchronously(new RandomSampler({ seed: 11 }), mixedQuadratic, 12);
    expect(tpe.trials.slice(0, 10).map((t) => t.params)).toEqual(random.trials.slice(0, 10).map((t) => t.params));
    expect(tpe.trials[10]!.params).not.toEqual(random.trials[10]!.params);
  });

  it('concentrates on the good region once it has data', () => {
    const study = runSynchronously(new TpeSampler({ seed: 1 }), mixedQuadratic, 60);
    const late = study.trials.slice(30);
    const share = late.filter((t) => t.params.c === 'd').length / late.length;
    expect(share).toBeGreaterThan(0.5);
    const lrs = late.map((t) => Math.log10(t.params.lr as number));
    expect(lrs.filter((v) => Math.abs(v + 3.5) < 1).length / lrs.length).toBeGreaterThan(0.5);
  });

  it("has Optuna's gamma: 10 % rounded up, at most 25", () => {
    expect([0, 1, 10, 11, 100, 250, 251, 1000].map(defaultGamma)).toEqual([0, 1, 1, 2, 10, 25, 25, 25]);
  });

  interface SplitCase {
    direction: Direction;
    trials: Array<Pick<Trial, 'state' | 'value' | 'intermediate'>>;
    nBelow: number;
    below: number[];
  }
  it.each((reference.split as SplitCase[]).map((c) => [c.direction, c.nBelow, c] as const))(
    "splits complete and pruned trials as Optuna does (%s, %i below; pruned ranked by last step, then value)",
    (_direction, _n, c) => {
      const trials: Trial[] = c.trials.map((t, number) => ({ ...t, number, params: {}, startedAt: 0, endedAt: 0, failure: null, retryOf: null, rungs: [] }));
      const { below, above } = splitTrials(trials, c.direction, c.nBelow);
      expect(below.map((t) => t.number)).toEqual(c.below);
      expect(below.length + above.length).toBe(trials.length);
    },
  );

  it('learns a conditional parameter only from trials that drew it', () => {
    const space = { on: categorical([false, true]), size: when('on', true, float(0, 1)) };
    const study = createStudy({ direction: 'minimize', objective: 'f', space });
    const sampler = new TpeSampler({ seed: 2 });
    for (let i = 0; i < 40; i++) {
      const t = ask(study, sampler, i);
      // Best with the switch on and size near 0.8.
      const value = t.params.on === true ? (Number(t.params.size) - 0.8) ** 2 : 1;
      tell(study, t, { state: 'complete', value }, i);
    }
    for (const t of study.trials) expect('size' in t.params).toBe(t.params.on === true);
    const late = study.trials.slice(20).filter((t) => t.params.on === true);
    expect(late.length).toBeGreaterThan(10);
    expect(late.filter((t) => Math.abs(Number(t.params.size) - 0.8) < 0.2).length / late.length).toBeGreaterThan(0.6);
  });

  it('ignores observations the current space cannot produce (the space changed)', () => {
    const study = runSynchronously(new RandomSampler({ seed: 4 }), mixedQuadratic, 15);
    study.trials[0]!.params.c = 'gone';
    study.trials[1]!.params.n = 1000;
    const params = new TpeSampler({ seed: 4 }).sample(study, MIXED_SPACE, 15);
    expect(Object.keys(params)).toEqual(['x', 'lr', 'n', 'c']);
    expect(['a', 'b', 'c', 'd', 'e']).toContain(params.c);
  });
});
