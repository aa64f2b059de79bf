import { describe, expect, it } from 'vitest';
import { float } from './distributions';
import reference from './fixtures/optuna-reference.json';
import { MedianPruner, NopPruner, percentile, SuccessiveHalvingPruner, type Pruner } from './pruners';
import { ask, createStudy, report, tell, type Direction, type Sampler, type Study } from './study';
import { learningCurve } from './test-support';

const FIXED: Sampler = { sample: () => ({ x: 0.5 }) };

function newStudy(direction: Direction = 'maximize'): Study {
  return createStudy({ direction, objective: 'valAccuracy', space: { x: float(0, 1) }, now: 0 });
}

/** Runs one trial through `curve` (steps 1, 2, …), pruning when told; returns the step it was pruned at, or null. */
function runCurve(study: Study, pruner: Pruner, curve: ReadonlyArray<number | null>): number | null {
  const trial = ask(study, FIXED, 0);
  for (let step = 1; step <= curve.length; step++) {
    report(trial, step, curve[step - 1] ?? NaN);
    if (pruner.prune(study, trial)) {
      tell(study, trial, { state: 'pruned' }, 0);
      return step;
    }
  }
  tell(study, trial, { state: 'complete', value: curve.at(-1) ?? 0 }, 0);
  return null;
}

interface PrunerCase {
  pruner: 'median' | 'successive-halving';
  options: Record<string, number | string>;
  direction: Direction;
  curves: Array<Array<number | null>>;
  prunedAt: Array<number | null>;
}

describe('pruners', () => {
  // optuna-reference.json: Optuna's own pruners replaying the same curves (fixtures/optuna-reference.py).
  it.each((reference.pruners as PrunerCase[]).map((c) => [c.pruner, c.direction, JSON.stringify(c.options), c] as const))(
    "%s (%s, %s) prunes the same trials at the same steps as Optuna's",
    (_kind, _direction, _options, c) => {
      const pruner = c.pruner === 'median' ? new MedianPruner(c.options) : new SuccessiveHalvingPruner(c.options);
      const study = newStudy(c.direction);
      expect(c.curves.map((curve) => runCurve(study, pruner, curve))).toEqual(c.prunedAt);
      expect(c.prunedAt.some((s) => s !== null)).toBe(true);
      expect(c.prunedAt.some((s) => s === null)).toBe(true);
    },
  );

  it('median: stops trials whose curves are clearly worse, lets good ones finish', () => {
    const study = newStudy();
    const pruner = new MedianPruner();
    // Five startup trials of middling quality complete (nothing is pruned before five complete).
    for (const q of [0.7, 0.72, 0.75, 0.78, 0.8]) expect(runCurve(study, pruner, learningCurve(q, 3, 10))).toBeNull();
    expect(runCurve(study, pruner, learningCurve(0.3, 3, 10))).toBe(1);
    expect(runCurve(study, pruner, learningCurve(0.5, 3, 10))).toBe(1);
    expect(runCurve(study, pruner, learningCurve(0.95, 3, 10))).toBeNull();
    expect(runCurve(study, pruner, learningCurve(0.9, 2.5, 10))).toBeNull();
    const states = study.trials.map((t) => t.state);
    expect(states).toEqual(['complete', 'complete', 'complete', 'complete', 'complete', 'pruned', 'pruned', 'complete', 'complete']);
    expect(study.trials[5]!.value).toBeCloseTo(learningCurve(0.3, 3, 1)[0]!, 12);
  });

  it('median: minimising a loss prunes the high curves', () => {
    const study = newStudy('minimize');
    const pruner = new MedianPruner({ nStartupTrials: 2 });
    const loss = (q: number): number[] => learningCurve(q, 3, 6).map((v) => 2 - v);
    runCurve(study, pruner, loss(0.8));
    runCurve(study, pruner, loss(0.9));
    expect(runCurve(study, pruner, loss(0.2))).toBe(1);
    expect(runCurve(study, pruner, loss(0.95))).toBeNull();
  });

  it('median: waits out the warm-up and checks only every interval', () => {
    const study = newStudy();
    const pruner = new MedianPruner({ nStartupTrials: 1, nWarmupSteps: 3, intervalSteps: 2 });
    runCurve(study, pruner, learningCurve(0.9, 3, 10));
    // Checks at steps 3, 5, 7, 9: a bad trial goes at step 3, not before.
    expect(runCurve(study, pruner, learningCurve(0.2, 3, 10))).toBe(3);
  });

  it('median: a non-number is pruned at once (a diverged run)', () => {
    const study = newStudy();
    const pruner = new MedianPruner({ nStartupTrials: 1 });
    runCurve(study, pruner, learningCurve(0.9, 3, 5));
    expect(runCurve(study, pruner, [NaN])).toBe(1);
    expect(study.trials[1]!.intermediate).toEqual([{ step: 1, value: null }]);
  });

  it('percentile interpolates between ranks as numpy does', () => {
    expect(percentile([4, 1, 3, 2], 50)).toBe(2.5);
    expect(percentile([1, 2, 3, 4, 5], 25)).toBe(2);
    expect(percentile([10, 20], 90)).toBe(19);
    expect(Number.isNaN(percentile([], 50))).toBe(true);
  });

  it('successive halving: rungs at minResource · factor^(rate + k)', () => {
    const study = newStudy();
    expect([0, 1, 2, 3].map((k) => new SuccessiveHalvingPruner({ minResource: 1 }).rungStep(study, k))).toEqual([1, 4, 16, 64]);
    expect([0, 1, 2].map((k) => new SuccessiveHalvingPruner({ minResource: 2, reductionFactor: 3, minEarlyStoppingRate: 1 }).rungStep(study, k))).toEqual([6, 18, 54]);
    const auto = new SuccessiveHalvingPruner();
    expect(auto.rungStep(study, 0)).toBeNull();
    runCurve(study, new NopPruner(), learningCurve(0.5, 2, 250));
    expect(auto.rungStep(study, 0)).toBe(2);
  });

  it('successive halving: records the value at each rung it passes and keeps the top quarter', () => {
    const study = newStudy();
    const pruner = new SuccessiveHalvingPruner({ minResource: 1, reductionFactor: 4 });
    // The first trial is alone at every rung, so it is the best there and runs to the end.
    expect(runCurve(study, pruner, learningCurve(0.9, 3, 20))).toBeNull();
    const first = study.trials[0]!;
    expect(first.rungs).toEqual([1, 4, 16].map((s) => learningCurve(0.9, 3, 20)[s - 1]));
    // Fewer than 4 at rung 0: only a value at least the best goes on.
    expect(runCurve(study, pruner, learningCurve(0.5, 3, 20))).toBe(1);
    expect(runCurve(study, pruner, learningCurve(0.95, 3, 20))).toBeNull();
    // Now 4 values at rung 0 with this one: promotable if within the top 4 / 4 = 1.
    expect(runCurve(study, pruner, learningCurve(0.92, 3, 20))).toBe(1);
    // 8 trials at rung 0 gives the top 2: second best goes on.
    for (const q of [0.1, 0.2, 0.3]) runCurve(study, pruner, learningCurve(q, 3, 20));
    expect(runCurve(study, pruner, learningCurve(0.93, 3, 20))).toBe(4);
    expect(study.trials.at(-1)!.rungs).toHaveLength(2);
  });

  it('successive halving: a trial that skips past a rung is judged at every rung it passed', () => {
    const study = newStudy();
    const pruner = new SuccessiveHalvingPruner({ minResource: 1 });
    const trial = ask(study, FIXED, 0);
    report(trial, 5, 0.8);
    expect(pruner.prune(study, trial)).toBe(false);
    expect(trial.rungs).toEqual([0.8, 0.8]);
  });

  it('NopPruner never prunes', () => {
    const study = newStudy();
    expect(runCurve(study, new NopPruner(), [NaN, 0, 0])).toBeNull();
  });
});
