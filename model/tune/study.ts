/**
 * A study: one hyperparameter search as a plain JSON object — its direction, the metric it
 * optimises, the space it searches and every trial so far — so the CLI can keep it in a file
 * and the app in IndexedDB, and either can pick it up again ({@link resumeStudy}). The
 * functions here are Optuna's ask / report / tell over that object; they change it in place.
 */
import type { Params, SearchSpace } from './distributions';
import { validateSpace } from './distributions';

/** The version of the study format this code writes; {@link parseStudy} reads it and no other. */
export const STUDY_VERSION = 1;

export type Direction = 'maximize' | 'minimize';

export type TrialState = 'running' | 'complete' | 'pruned' | 'failed';

/** A value reported at a step (an epoch, 1-based in SceneLab). `null`: the metric was NaN or infinite. */
export interface IntermediateValue {
  step: number;
  value: number | null;
}

/** Why a trial failed: its run was cut off (a crash, a kill, an abort), or it raised an error or gave no usable value. */
export interface TrialFailure {
  reason: 'interrupted' | 'error';
  message: string;
}

export interface Trial {
  /** 0-based position in `study.trials`. */
  number: number;
  params: Params;
  state: TrialState;
  /** Reported values in step order; the first report for a step wins, as in Optuna. */
  intermediate: IntermediateValue[];
  /** The objective's value when complete; a pruned trial's last intermediate value; else null. */
  value: number | null;
  /** Milliseconds since the Unix epoch. */
  startedAt: number;
  endedAt: number | null;
  failure: TrialFailure | null;
  /** The interrupted trial whose parameters this one runs again, or null. */
  retryOf: number | null;
  /** The value at each successive-halving rung the trial completed, lowest rung first. */
  rungs: number[];
}

/** Parameters waiting to run before any are sampled, oldest first. */
export interface QueuedParams {
  params: Params;
  /** The interrupted trial they come from, or null for parameters a user asked for. */
  retryOf: number | null;
}

export interface Study {
  format: 'scenelab-study';
  version: typeof STUDY_VERSION;
  name: string;
  direction: Direction;
  /** The metric the objective returns, e.g. `valAccuracy` (maximize) or `valLoss` (minimize). */
  objective: string;
  /** The space trials are drawn from (the latest one, when a study is continued with another). */
  space: SearchSpace;
  trials: Trial[];
  queue: QueuedParams[];
  createdAt: number;
  /** What the study's owner keeps with it (Optuna's user attributes), e.g. the base run the CLI's trials train; plain JSON. */
  userAttrs?: Record<string, unknown>;
}

/** Draws a trial's parameters; implementations are deterministic in their seed, the study and the trial number. */
export interface Sampler {
  sample(study: Study, space: SearchSpace, trialNumber: number): Params;
}

/** A new, empty study. */
export function createStudy(options: { direction: Direction; objective: string; space: SearchSpace; name?: string; now?: number }): Study {
  return {
    format: 'scenelab-study',
    version: STUDY_VERSION,
    name: options.name ?? options.objective,
    direction: options.direction,
    objective: options.objective,
    space: validateSpace(options.space),
    trials: [],
    queue: [],
    createdAt: options.now ?? Date.now(),
  };
}

/** Whether value `a` is better than `b` in the study's direction. */
export function isBetter(direction: Direction, a: number, b: number): boolean {
  return direction === 'maximize' ? a > b : a < b;
}

/** Runs `params` before anything is sampled (Optuna's `enqueue_trial`). */
export function enqueueTrial(study: Study, params: Params): void {
  study.queue.push({ params: { ...params }, retryOf: null });
}

/** Starts the next trial: queued parameters first, else the sampler's. */
export function ask(study: Study, sampler: Sampler, now: number = Date.now()): Trial {
  const number = study.trials.length;
  const queued = study.queue.shift();
  const trial: Trial = {
    number,
    params: queued ? queued.params : sampler.sample(study, study.space, number),
    state: 'running',
    intermediate: [],
    value: null,
    startedAt: now,
    endedAt: null,
    failure: null,
    retryOf: queued ? queued.retryOf : null,
    rungs: [],
  };
  study.trials.push(trial);
  return trial;
}

function assertRunning(trial: Trial, what: string): void {
  if (trial.state !== 'running') throw new Error(`trial ${trial.number} is ${trial.state}; only a running trial can ${what}`);
}

/**
 * Records the objective's value at `step`. Returns false, changing nothing, when the step
 * was reported before (Optuna keeps the first value too, so a pruner's view never changes).
 */
export function report(trial: Trial, step: number, value: number): boolean {
  assertRunning(trial, 'report');
  if (!Number.isInteger(step) || step < 0) throw new RangeError(`a step must be a non-negative integer, got ${step}`);
  if (trial.intermediate.some((v) => v.step === step)) return false;
  const entry = { step, value: Number.isFinite(value) ? value : null };
  const at = trial.intermediate.findIndex((v) => v.step > step);
  if (at < 0) trial.intermediate.push(entry);
  else trial.intermediate.splice(at, 0, entry);
  return true;
}

/** How a trial ended. */
export type TrialOutcome = { state: 'complete'; value: number } | { state: 'pruned' } | { state: 'failed'; failure: TrialFailure };

/**
 * Ends a running trial. A complete trial whose value is NaN or infinite is recorded as failed
 * (a study must stay plain JSON, and Optuna fails such trials too); a pruned trial takes its
 * last intermediate value as its value, as Optuna does.
 */
export function tell(study: Study, trial: Trial, outcome: TrialOutcome, now: number = Date.now()): Trial {
  assertRunning(trial, 'be told its outcome');
  if (study.trials[trial.number] !== trial) throw new Error(`trial ${trial.number} is not part of study "${study.name}"`);
  trial.endedAt = now;
  if (outcome.state === 'complete') {
    if (Number.isFinite(outcome.value)) {
      trial.state = 'complete';
      trial.value = outcome.value;
    } else {
      trial.state = 'failed';
      trial.failure = { reason: 'error', message: `the objective returned ${outcome.value}` };
    }
  } else if (outcome.state === 'pruned') {
    trial.state = 'pruned';
    trial.value = trial.intermediate.at(-1)?.value ?? null;
  } else {
    trial.state = 'failed';
    trial.failure = outcome.failure;
    if (outcome.failure.reason === 'interrupted') requeue(study, trial);
  }
  return trial;
}

/**
 * How many times a set of parameters is started before an interruption no longer brings it
 * back: a crash that the parameters cause (memory, a lost GPU) would otherwise loop forever.
 */
export const MAX_STARTS_PER_PARAMS = 3;

function starts(study: Study, trial: Trial): number {
  let n = 1;
  for (let t: Trial | undefined = trial; t?.retryOf != null; t = study.trials[t.retryOf]) n++;
  return n;
}

/** Puts an interrupted trial's parameters at the front of the queue, after earlier ones put there. */
function requeue(study: Study, trial: Trial): void {
  if (starts(study, trial) >= MAX_STARTS_PER_PARAMS) return;
  const at = study.queue.findIndex((q) => q.retryOf === null);
  const entry = { params: { ...trial.params }, retryOf: trial.number };
  if (at < 0) study.queue.push(entry);
  else study.queue.splice(at, 0, entry);
}

/**
 * Prepares a loaded study to go on: trials still `running` were cut off (the process died
 * while they ran), so they become failed with reason `interrupted` and their parameters go to
 * the front of the queue; the next trials run them again (their `retryOf` says which). Finished
 * trials are kept as they are and never run again. Returns the numbers of the interrupted trials.
 */
export function resumeStudy(study: Study, now: number = Date.now()): number[] {
  const interrupted = study.trials.filter((t) => t.state === 'running');
  for (const trial of interrupted) {
    tell(study, trial, { state: 'failed', failure: { reason: 'interrupted', message: 'the trial was still running when the study was last saved' } }, now);
  }
  return interrupted.map((t) => t.number);
}

/** The last step a trial reported, or null. */
export function lastStep(trial: Trial): number | null {
  return trial.intermediate.at(-1)?.step ?? null;
}

/** The value a trial reported at `step`, or undefined when it reported nothing there (null: not a number). */
export function valueAt(trial: Trial, step: number): number | null | undefined {
  return trial.intermediate.find((v) => v.step === step)?.value;
}
