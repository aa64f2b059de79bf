import { describe, expect, it } from 'vitest';
import { bestTrial, intermediateValues, optimizationHistory, trialCounts } from './analysis';
import { categorical, float, int } from './distributions';
import { omegaSquared, paramImportances } from './importance';
import { Rng } from '../rng';
import { RandomSampler } from './random-sampler';
import { ask, createStudy, report, tell, type Study } from './study';

function smallStudy(): Study {
  const study = createStudy({ direction: 'maximize', objective: 'valAccuracy', space: { x: float(0, 1) }, now: 0 });
  const sampler = new RandomSampler();
  const outcomes = [0.5, 'pruned', 0.7, 'failed', 0.6, 0.7] as const;
  for (const o of outcomes) {
    const t = ask(study, sampler, 0);
    report(t, 1, typeof o === 'number' ? o - 0.1 : 0.1);
    if (typeof o === 'number') tell(study, t, { state: 'complete', value: o }, 0);
    else if (o === 'pruned') tell(study, t, { state: 'pruned' }, 0);
    else tell(study, t, { state: 'failed', failure: { reason: 'error', message: 'x' } }, 0);
  }
  return study;
}

describe('analysis', () => {
  it('best trial: the earliest of the best complete trials (a pruned value never counts)', () => {
    const study = smallStudy();
    expect(bestTrial(study)?.number).toBe(2);
    study.trials[1]!.value = 0.99;
    expect(bestTrial(study)?.number).toBe(2);
    expect(bestTrial(createStudy({ direction: 'minimize', objective: 'valLoss', space: { x: float(0, 1) } }))).toBeNull();
  });

  it('optimization history: best so far per trial, complete trials only', () => {
    expect(optimizationHistory(smallStudy())).toEqual([
      { trial: 0, state: 'complete', value: 0.5, best: 0.5 },
      { trial: 1, state: 'pruned', value: null, best: 0.5 },
      { trial: 2, state: 'complete', value: 0.7, best: 0.7 },
      { trial: 3, state: 'failed', value: null, best: 0.7 },
      { trial: 4, state: 'complete', value: 0.6, best: 0.7 },
      { trial: 5, state: 'complete', value: 0.7, best: 0.7 },
    ]);
  });

  it('intermediate values and counts per state', () => {
    const study = smallStudy();
    expect(intermediateValues(study)[1]).toEqual({ trial: 1, state: 'pruned', steps: [1], values: [0.1] });
    expect(intermediateValues(study)).toHaveLength(6);
    expect(trialCounts(study)).toEqual({ running: 0, complete: 4, pruned: 1, failed: 1 });
  });
});

describe('parameter importance', () => {
  it('ω² is near 1 when the groups explain everything and 0 when they explain nothing', () => {
    expect(omegaSquared([1, 1.01, 5, 5.01], [[0, 1], [2, 3]])).toBeGreaterThan(0.99);
    expect(omegaSquared([1, 5, 1, 5], [[0, 1], [2, 3]])).toBe(0);
    expect(omegaSquared([1, 2], [[0], [1]])).toBe(0);
  });

  it('ranks the parameter that drives the objective first, a categorical one next, noise last; sums to 1', () => {
    const space = { lr: float(1e-5, 1e-1, { log: true }), optimizer: categorical(['adam', 'sgd']), noise: int(1, 100) };
    const study = createStudy({ direction: 'maximize', objective: 'valAccuracy', space });
    const sampler = new RandomSampler({ seed: 9 });
    const rng = new Rng(9);
    for (let i = 0; i < 80; i++) {
      const t = ask(study, sampler);
      const lr = Math.log10(t.params.lr as number);
      tell(study, t, { state: 'complete', value: 0.9 - 0.05 * (lr + 3) ** 2 + (t.params.optimizer === 'adam' ? 0.08 : 0) + 0.02 * rng.normal() });
    }
    const importances = paramImportances(study);
    expect(importances.map((p) => p.param)).toEqual(['lr', 'optimizer', 'noise']);
    expect(importances.reduce((a, p) => a + p.importance, 0)).toBeCloseTo(1, 12);
    expect(importances[0]!.importance).toBeGreaterThan(0.5);
    expect(importances[2]!.importance).toBeLessThan(0.05);
    expect(importances.every((p) => p.trials === 80)).toBe(true);
  });

  it('is all zeros with too few complete trials to say anything', () => {
    const study = smallStudy();
    study.trials.length = 1;
    expect(paramImportances(study)).toEqual([{ param: 'x', importance: 0, omegaSquared: 0, trials: 1 }]);
  });
});
