import { describe, expect, it } from 'vitest';
import { countedTrials, withinBudget } from './budget';
import { float } from './distributions';
import { RandomSampler } from './random-sampler';
import { ask, createStudy, enqueueTrial, MAX_STARTS_PER_PARAMS, report, resumeStudy, tell, type Study } from './study';
import { loadStudy, parseStudy, serializeStudy, StudyFormatError } from './study-file';
import { MIXED_SPACE } from './test-support';

const sampler = new RandomSampler({ seed: 1 });

function studyWithHistory(): Study {
  const study = createStudy({ direction: 'maximize', objective: 'valAccuracy', space: MIXED_SPACE, now: 1000 });
  const a = ask(study, sampler, 1000);
  report(a, 1, 0.5);
  report(a, 2, 0.6);
  tell(study, a, { state: 'complete', value: 0.6 }, 2000);
  const b = ask(study, sampler, 2000);
  report(b, 1, 0.2);
  tell(study, b, { state: 'pruned' }, 2500);
  const c = ask(study, sampler, 2500);
  tell(study, c, { state: 'failed', failure: { reason: 'error', message: 'out of memory' } }, 2600);
  return study;
}

describe('study', () => {
  it('ask, report and tell record a trial as Optuna does', () => {
    const study = studyWithHistory();
    const [a, b, c] = study.trials;
    expect(a).toMatchObject({ number: 0, state: 'complete', value: 0.6, startedAt: 1000, endedAt: 2000, failure: null, retryOf: null });
    expect(a!.intermediate).toEqual([
      { step: 1, value: 0.5 },
      { step: 2, value: 0.6 },
    ]);
    expect(b).toMatchObject({ state: 'pruned', value: 0.2 });
    expect(c).toMatchObject({ state: 'failed', value: null, failure: { reason: 'error', message: 'out of memory' } });
    expect(Object.keys(a!.params)).toEqual(['x', 'lr', 'n', 'c']);
  });

  it('keeps the first value reported for a step, in step order; only running trials take reports', () => {
    const study = createStudy({ direction: 'minimize', objective: 'valLoss', space: MIXED_SPACE });
    const t = ask(study, sampler);
    expect(report(t, 3, 0.3)).toBe(true);
    expect(report(t, 1, 0.9)).toBe(true);
    expect(report(t, 3, 0.1)).toBe(false);
    expect(report(t, 2, Infinity)).toBe(true);
    expect(t.intermediate).toEqual([
      { step: 1, value: 0.9 },
      { step: 2, value: null },
      { step: 3, value: 0.3 },
    ]);
    expect(() => report(t, -1, 0)).toThrow(RangeError);
    tell(study, t, { state: 'complete', value: 0.3 });
    expect(() => report(t, 4, 0.2)).toThrow(/complete/);
    expect(() => tell(study, t, { state: 'complete', value: 0.2 })).toThrow(/complete/);
  });

  it('fails a trial whose value is not a number, so the study stays plain JSON', () => {
    const study = createStudy({ direction: 'minimize', objective: 'valLoss', space: MIXED_SPACE });
    const t = ask(study, sampler);
    tell(study, t, { state: 'complete', value: NaN });
    expect(t).toMatchObject({ state: 'failed', value: null, failure: { reason: 'error', message: 'the objective returned NaN' } });
  });

  it('survives a JSON round trip unchanged', () => {
    const study = studyWithHistory();
    enqueueTrial(study, { x: 1, lr: 0.01, n: 3, c: 'a' });
    const text = serializeStudy(study);
    const back = parseStudy(text);
    expect(back).toEqual(study);
    expect(serializeStudy(back)).toBe(text);
    // The parsed object as IndexedDB would hand it back.
    expect(parseStudy(JSON.parse(text))).toEqual(study);
  });

  it('refuses what is not a study, or a study from a newer SceneLab, saying why', () => {
    const good = JSON.parse(serializeStudy(studyWithHistory())) as Record<string, unknown>;
    expect(() => parseStudy('{oops')).toThrow(StudyFormatError);
    expect(() => parseStudy({ ...good, format: 'optuna' })).toThrow(/format/);
    expect(() => parseStudy({ ...good, version: 2 })).toThrow(/version 2.*update SceneLab/);
    expect(() => parseStudy({ ...good, direction: 'up' })).toThrow(/direction/);
    expect(() => parseStudy({ ...good, space: { x: { type: 'float', low: 1, high: 0, log: false, step: null } } })).toThrow(/x: needs finite low/);
    const trials = good.trials as Array<Record<string, unknown>>;
    expect(() => parseStudy({ ...good, trials: [{ ...trials[0], state: 'complete', value: null }] })).toThrow(/trial 0 is complete without a value/);
    expect(() => parseStudy({ ...good, trials: [trials[1]] })).toThrow(/trial 0 has number 1/);
    expect(() => parseStudy({ ...good, userAttrs: [1] })).toThrow(/userAttrs must be an object/);
    expect(parseStudy({ ...good, userAttrs: { run: { data: '/d' } } }).userAttrs).toEqual({ run: { data: '/d' } });
  });

  it('after a crash, marks running trials interrupted and queues their parameters first; finished trials stay', () => {
    const study = studyWithHistory();
    enqueueTrial(study, { x: 0, lr: 0.1, n: 1, c: 'b' });
    const cut = ask(study, sampler, 3000);
    expect(cut.params).toEqual({ x: 0, lr: 0.1, n: 1, c: 'b' });
    const running = ask(study, sampler, 3100);
    report(running, 1, 0.4);
    enqueueTrial(study, { x: 2, lr: 0.2, n: 2, c: 'c' });
    // The process dies here: what is on disk is the study as last saved.
    const { study: loaded, interrupted } = loadStudy(serializeStudy(study), 9000);
    expect(interrupted).toEqual([3, 4]);
    expect(loaded.trials.slice(0, 3)).toEqual(study.trials.slice(0, 3));
    expect(loaded.trials[4]).toMatchObject({ state: 'failed', endedAt: 9000, failure: { reason: 'interrupted' }, intermediate: [{ step: 1, value: 0.4 }] });
    expect(loaded.queue).toEqual([
      { params: cut.params, retryOf: 3 },
      { params: running.params, retryOf: 4 },
      { params: { x: 2, lr: 0.2, n: 2, c: 'c' }, retryOf: null },
    ]);
    const rerun = ask(loaded, sampler, 9100);
    expect(rerun).toMatchObject({ number: 5, params: cut.params, retryOf: 3 });
    expect(resumeStudy(loaded)).toEqual([5]);
  });

  it(`brings interrupted parameters back at most ${MAX_STARTS_PER_PARAMS} starts in all`, () => {
    const study = createStudy({ direction: 'minimize', objective: 'valLoss', space: { x: float(0, 1) } });
    const starts: number[] = [];
    for (let i = 0; i < 6; i++) {
      const t = ask(study, sampler);
      starts.push(t.retryOf ?? -1);
      resumeStudy(study);
    }
    expect(starts).toEqual([-1, 0, 1, -1, 3, 4]);
    expect(study.trials[1]!.params).toEqual(study.trials[0]!.params);
    expect(study.trials[3]!.params).not.toEqual(study.trials[0]!.params);
  });

  it('budgets: trial counts span sessions and leave out interrupted trials; seconds are per session', () => {
    const study = studyWithHistory();
    const t = ask(study, sampler);
    tell(study, t, { state: 'failed', failure: { reason: 'interrupted', message: 'killed' } });
    expect(countedTrials(study)).toBe(3);
    expect(withinBudget(study, { maxTrials: 3 }, 0)).toBe(false);
    expect(withinBudget(study, { maxTrials: 4 }, 0)).toBe(true);
    expect(withinBudget(study, { maxSeconds: 60 }, 59.9)).toBe(true);
    expect(withinBudget(study, { maxSeconds: 60 }, 60)).toBe(false);
    expect(withinBudget(study, { maxTrials: 10, maxSeconds: 60 }, 61)).toBe(false);
    expect(withinBudget(study, {}, 1e9)).toBe(true);
  });
});
