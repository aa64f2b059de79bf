/**
 * The search loop the CLI's `scenelab tune` and the app both run: ask for a trial, run the
 * objective (one SceneLab training run) with a reporter for its per-epoch values and pruning,
 * tell the outcome, and save the study after every change of a trial's state — so a crash
 * loses at most the running trial, whose parameters then run first when the study continues.
 */
import { withinBudget, type Budget } from './budget';
import { bestTrial } from './analysis';
import { validateSpace, type Params, type ParamsOf, type SearchSpace } from './distributions';
import { NopPruner, shouldPrune, type Pruner } from './pruners';
import { ask, report, resumeStudy, tell, type Sampler, type Study, type Trial, type TrialFailure, type TrialOutcome } from './study';

/** Thrown (or returned) by an objective to say its trial was pruned (Optuna's `TrialPruned`). */
export class TrialPruned extends Error {
  override name = 'TrialPruned';
  constructor(message = 'the trial was pruned') {
    super(message);
  }
}

/** What the objective gets to talk to the search while it runs. */
export interface TrialReporter {
  readonly number: number;
  /** Aborted when the search is stopped: the objective should stop soon (its trial then runs again next time). */
  readonly signal: AbortSignal | undefined;
  /** The objective's metric after `step` (an epoch); a repeated step is ignored. */
  report(step: number, value: number): void;
  /** Whether the pruner would stop the trial after its last report; if so, throw or return a {@link TrialPruned}. */
  shouldPrune(): boolean;
}

/** Runs one trial and returns its metric, in the study's objective and direction. */
export type Objective<S extends SearchSpace> = (params: ParamsOf<S>, trial: TrialReporter) => Promise<number | TrialPruned>;

/** Why {@link runStudy} stopped. `failures`: too many trials in a row raised an error. */
export type StopReason = 'budget' | 'aborted' | 'failures';

/** Progress of a search, as it happens. */
export type TuneEvent =
  | { type: 'resumed'; interrupted: number[] }
  | { type: 'trial-start'; trial: number; params: Params; retryOf: number | null }
  | { type: 'trial-report'; trial: number; step: number; value: number | null }
  | {
      type: 'trial-end';
      trial: number;
      state: 'complete' | 'pruned' | 'failed';
      value: number | null;
      failure: TrialFailure | null;
      best: { trial: number; value: number } | null;
    }
  | { type: 'done'; reason: StopReason; trialsRun: number };

export interface RunStudyOptions {
  sampler: Sampler;
  /** Default: {@link NopPruner}. */
  pruner?: Pruner;
  budget: Budget;
  /** Stops the search between trials; the running trial gets it too and is recorded as interrupted. */
  signal?: AbortSignal;
  onEvent?: (event: TuneEvent) => void;
  /**
   * Stores the study; awaited after every change of a trial's state (started, ended,
   * interrupted). The study does not change until the promise settles. Intermediate values
   * are not saved on their own: an interrupted trial runs again from the start anyway.
   */
  save?: (study: Study) => Promise<void>;
  /** Milliseconds since the Unix epoch (tests pass a fake clock). */
  now?: () => number;
  /** Stop after this many trials in a row fail with an error (a broken pipeline fails them all); default 3. */
  maxConsecutiveFailures?: number;
}

export interface RunStudyResult {
  reason: StopReason;
  /** Trials started in this call. */
  trialsRun: number;
  best: Trial | null;
}

const INTERRUPTED: TrialOutcome = { state: 'failed', failure: { reason: 'interrupted', message: 'the search was stopped while the trial ran' } };

/**
 * Runs trials of `study` over `space` until the budget is spent, the signal aborts or trials
 * keep failing. Trials a crash left running are first marked interrupted and queued again.
 * An objective that returns after the signal aborted is taken as cut short (a training run
 * stopped early returns a value, but not the trial's), so its trial runs again next time.
 */
export async function runStudy<S extends SearchSpace>(study: Study, space: S, objective: Objective<S>, options: RunStudyOptions): Promise<RunStudyResult> {
  const { sampler, budget, signal, onEvent } = options;
  const pruner = options.pruner ?? new NopPruner();
  const now = options.now ?? Date.now;
  const save = options.save ?? (async () => {});
  const maxFailures = options.maxConsecutiveFailures ?? 3;
  study.space = validateSpace(space);
  const started = now();

  const interrupted = resumeStudy(study, started);
  if (interrupted.length > 0) {
    await save(study);
    onEvent?.({ type: 'resumed', interrupted });
  }

  let trialsRun = 0;
  let failuresInRow = 0;
  const stopReason = (): StopReason | null => {
    if (signal?.aborted) return 'aborted';
    if (failuresInRow >= maxFailures) return 'failures';
    return withinBudget(study, budget, (now() - started) / 1000) ? null : 'budget';
  };
  let reason: StopReason | null;
  while ((reason = stopReason()) === null) {
    const trial = ask(study, sampler, now());
    trialsRun++;
    await save(study);
    onEvent?.({ type: 'trial-start', trial: trial.number, params: trial.params, retryOf: trial.retryOf });
    const outcome = await runTrial(study, trial, objective, pruner, options);
    tell(study, trial, outcome, now());
    await save(study);
    const best = bestTrial(study);
    onEvent?.({
      type: 'trial-end',
      trial: trial.number,
      state: trial.state as 'complete' | 'pruned' | 'failed',
      value: trial.value,
      failure: trial.failure,
      best: best && { trial: best.number, value: best.value! },
    });
    failuresInRow = trial.failure?.reason === 'error' ? failuresInRow + 1 : 0;
  }
  onEvent?.({ type: 'done', reason, trialsRun });
  return { reason, trialsRun, best: bestTrial(study) };
}

async function runTrial<S extends SearchSpace>(study: Study, trial: Trial, objective: Objective<S>, pruner: Pruner, options: RunStudyOptions): Promise<TrialOutcome> {
  const { signal, onEvent } = options;
  const reporter: TrialReporter = {
    number: trial.number,
    signal,
    report(step, value) {
      if (report(trial, step, value)) onEvent?.({ type: 'trial-report', trial: trial.number, step, value: trial.intermediate.find((v) => v.step === step)!.value });
    },
    shouldPrune() {
      return shouldPrune(study, trial, pruner);
    },
  };
  try {
    const result = await objective(trial.params as ParamsOf<S>, reporter);
    if (result instanceof TrialPruned) return { state: 'pruned' };
    if (signal?.aborted) return INTERRUPTED;
    return { state: 'complete', value: result };
  } catch (e) {
    if (e instanceof TrialPruned) return { state: 'pruned' };
    if (signal?.aborted) return INTERRUPTED;
    return { state: 'failed', failure: { reason: 'error', message: e instanceof Error ? e.message : String(e) } };
  }
}
