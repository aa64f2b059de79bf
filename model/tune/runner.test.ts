import { describe, expect, it } from 'vitest';
import type { Params } from './distributions';
import { MedianPruner } from './pruners';
import { RandomSampler } from './random-sampler';
import { runStudy, TrialPruned, type Objective, type TuneEvent } from './runner';
import { createStudy, type Study, type TrialState } from './study';
import { loadStudy, serializeStudy } from './study-file';
import { learningCurve, MIXED_SPACE, mixedQuadratic } from './test-support';
import { TpeSampler } from './tpe-sampler';

type Space = typeof MIXED_SPACE;

const quadratic: Objective<Space> = async (params) => mixedQuadratic(params as Params);

function newStudy(direction: 'minimize' | 'maximize' = 'minimize'): Study {
  return createStudy({ direction, objective: 'f', space: MIXED_SPACE, now: 0 });
}

/** Saves as the CLI does: the JSON text, which is all that survives a crash. */
function disk(): { save: (s: Study) => Promise<void>; snapshots: string[]; states: () => TrialState[][] } {
  const snapshots: string[] = [];
  return {
    snapshots,
    save: async (s) => {
      snapshots.push(serializeStudy(s));
    },
    states: () => snapshots.map((j) => (JSON.parse(j) as Study).trials.map((t) => t.state)),
  };
}

describe('runStudy', () => {
  it('runs to the trial budget, saving after every change of a trial state', async () => {
    const study = newStudy();
    const d = disk();
    const events: TuneEvent[] = [];
    const result = await runStudy(study, MIXED_SPACE, quadratic, { sampler: new TpeSampler({ seed: 1 }), budget: { maxTrials: 3 }, save: d.save, onEvent: (e) => events.push(e) });
    expect(result).toMatchObject({ reason: 'budget', trialsRun: 3 });
    expect(result.best).toBe(study.trials.reduce((a, b) => (b.value! < a.value! ? b : a)));
    expect(d.states()).toEqual([['running'], ['complete'], ['complete', 'running'], ['complete', 'complete'], ['complete', 'complete', 'running'], ['complete', 'complete', 'complete']]);
    expect(events.map((e) => e.type)).toEqual(['trial-start', 'trial-end', 'trial-start', 'trial-end', 'trial-start', 'trial-end', 'done']);
  });

  it('reports, prunes on the median and passes pruned trials on as pruned (thrown or returned)', async () => {
    const study = newStudy('maximize');
    const quality = [0.8, 0.82, 0.78, 0.81, 0.79, 0.2, 0.9, 0.3];
    const events: TuneEvent[] = [];
    const objective: Objective<Space> = async (_params, trial) => {
      const curve = learningCurve(quality[trial.number]!, 3, 8);
      for (let epoch = 1; epoch <= curve.length; epoch++) {
        trial.report(epoch, curve[epoch - 1]!);
        if (trial.shouldPrune()) {
          if (trial.number === 5) throw new TrialPruned();
          return new TrialPruned();
        }
      }
      return curve.at(-1)!;
    };
    await runStudy(study, MIXED_SPACE, objective, { sampler: new RandomSampler(), pruner: new MedianPruner(), budget: { maxTrials: 8 }, onEvent: (e) => events.push(e) });
    expect(study.trials.map((t) => t.state)).toEqual(['complete', 'complete', 'complete', 'complete', 'complete', 'pruned', 'complete', 'pruned']);
    expect(study.trials[5]!.intermediate).toHaveLength(1);
    expect(study.trials[6]!.intermediate).toHaveLength(8);
    expect(events.filter((e) => e.type === 'trial-report' && e.trial === 6)).toHaveLength(8);
    expect(events.find((e) => e.type === 'trial-end' && e.trial === 6)).toMatchObject({ state: 'complete', best: { trial: 6 } });
  });

  it('a study killed mid-trial resumes: finished trials are not rerun, the interrupted parameters run first', async () => {
    const d = disk();
    const calls: string[] = [];
    let killed = false;
    const objective: Objective<Space> = async (params, trial) => {
      calls.push(JSON.stringify(params));
      if (trial.number === 3) {
        killed = true;
        throw new Error('SIGKILL');
      }
      return mixedQuadratic(params as Params);
    };
    // Once killed, nothing more reaches the disk, and the process is gone.
    const save = async (s: Study): Promise<void> => {
      if (killed) throw new Error('the process is dead');
      await d.save(s);
    };
    await expect(runStudy(newStudy(), MIXED_SPACE, objective, { sampler: new TpeSampler({ seed: 5 }), budget: { maxTrials: 6 }, save })).rejects.toThrow('dead');
    const onDisk = d.snapshots.at(-1)!;
    expect((JSON.parse(onDisk) as Study).trials.map((t) => t.state)).toEqual(['complete', 'complete', 'complete', 'running']);

    killed = false;
    const { study, interrupted } = loadStudy(onDisk);
    expect(interrupted).toEqual([3]);
    const before = calls.length;
    const events: TuneEvent[] = [];
    const result = await runStudy(study, MIXED_SPACE, objective, { sampler: new TpeSampler({ seed: 5 }), budget: { maxTrials: 6 }, save: d.save, onEvent: (e) => events.push(e) });
    expect(result).toMatchObject({ reason: 'budget', trialsRun: 3 });
    const rerun = calls.slice(before);
    expect(rerun[0]).toBe(calls[3]);
    expect(rerun.slice(1)).not.toContain(calls[0]);
    expect(new Set(calls.slice(0, 3)).size).toBe(3);
    for (const c of calls.slice(0, 3)) expect(rerun).not.toContain(c);
    expect(study.trials.map((t) => [t.state, t.retryOf])).toEqual([
      ['complete', null],
      ['complete', null],
      ['complete', null],
      ['failed', null],
      ['complete', 3],
      ['complete', null],
      ['complete', null],
    ]);
    expect(events[0]).toEqual({ type: 'trial-start', trial: 4, params: study.trials[3]!.params, retryOf: 3 });
  });

  it('also finds and requeues trials left running when handed a study without loadStudy', async () => {
    const study = newStudy();
    await runStudy(study, MIXED_SPACE, quadratic, { sampler: new RandomSampler(), budget: { maxTrials: 1 } });
    study.trials[0]!.state = 'running';
    study.trials[0]!.value = null;
    const events: TuneEvent[] = [];
    await runStudy(study, MIXED_SPACE, quadratic, { sampler: new RandomSampler(), budget: { maxTrials: 1 }, onEvent: (e) => events.push(e) });
    expect(events[0]).toEqual({ type: 'resumed', interrupted: [0] });
    expect(study.trials[1]).toMatchObject({ state: 'complete', retryOf: 0, params: study.trials[0]!.params });
  });

  it('stops between trials on abort; the running trial is told and recorded as interrupted', async () => {
    const controller = new AbortController();
    const study = newStudy();
    const seen: Array<AbortSignal | undefined> = [];
    const objective: Objective<Space> = async (params, trial) => {
      seen.push(trial.signal);
      if (trial.number === 2) {
        controller.abort();
        // A training run stopped early still returns a number; it is not this trial's result.
        return 0;
      }
      return mixedQuadratic(params as Params);
    };
    const result = await runStudy(study, MIXED_SPACE, objective, { sampler: new RandomSampler(), budget: { maxTrials: 10 }, signal: controller.signal });
    expect(result).toMatchObject({ reason: 'aborted', trialsRun: 3 });
    expect(seen).toHaveLength(3);
    expect(seen.every((s) => s === controller.signal)).toBe(true);
    expect(study.trials.map((t) => t.state)).toEqual(['complete', 'complete', 'failed']);
    expect(study.trials[2]!.failure?.reason).toBe('interrupted');
    expect(study.queue).toEqual([{ params: study.trials[2]!.params, retryOf: 2 }]);

    // Already aborted: nothing starts.
    const again = await runStudy(study, MIXED_SPACE, quadratic, { sampler: new RandomSampler(), budget: { maxTrials: 10 }, signal: controller.signal });
    expect(again).toMatchObject({ reason: 'aborted', trialsRun: 0 });
    expect(study.trials).toHaveLength(3);
  });

  it('honours a time budget between trials (fake clock) and a trial budget across sessions', async () => {
    let clock = 0;
    const slow: Objective<Space> = async (params) => {
      clock += 10_000;
      return mixedQuadratic(params as Params);
    };
    const study = newStudy();
    const timed = await runStudy(study, MIXED_SPACE, slow, { sampler: new RandomSampler(), budget: { maxSeconds: 35 }, now: () => clock });
    // Trials start at 0, 10, 20 and 30 s; at 40 s the budget is spent.
    expect(timed).toMatchObject({ reason: 'budget', trialsRun: 4 });
    const more = await runStudy(study, MIXED_SPACE, slow, { sampler: new RandomSampler(), budget: { maxTrials: 6 }, now: () => clock });
    expect(more.trialsRun).toBe(2);
    expect(study.trials).toHaveLength(6);
    expect(study.trials[0]).toMatchObject({ startedAt: 0, endedAt: 10_000 });
  });

  it('records errors as failed trials and gives up after three in a row', async () => {
    const study = newStudy();
    let n = 0;
    const flaky: Objective<Space> = async (params) => {
      n++;
      if (n === 2 || n >= 4) throw new Error(`WebGL context lost (${n})`);
      return mixedQuadratic(params as Params);
    };
    const result = await runStudy(study, MIXED_SPACE, flaky, { sampler: new RandomSampler(), budget: { maxTrials: 20 } });
    expect(result).toMatchObject({ reason: 'failures', trialsRun: 6 });
    expect(study.trials.map((t) => t.state)).toEqual(['complete', 'failed', 'complete', 'failed', 'failed', 'failed']);
    expect(study.trials[1]!.failure).toEqual({ reason: 'error', message: 'WebGL context lost (2)' });
    expect(study.queue).toEqual([]);
  });
});
