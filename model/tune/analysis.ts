/**
 * What the app's study views plot, computed from the study alone: the best trial, the
 * optimisation history and each trial's learning curve. Only complete trials have a value
 * that counts as a result; pruned and failed ones appear in the history without one.
 */
import { isBetter, type Study, type Trial, type TrialState } from './study';

/** The best complete trial (the earliest on a tie), or null. */
export function bestTrial(study: Study): Trial | null {
  let best: Trial | null = null;
  for (const t of study.trials) {
    if (t.state === 'complete' && (best === null || isBetter(study.direction, t.value!, best.value!))) best = t;
  }
  return best;
}

/** One point of the optimisation history. */
export interface HistoryPoint {
  trial: number;
  state: TrialState;
  /** The trial's own value (complete trials only). */
  value: number | null;
  /** The best complete value up to and including this trial. */
  best: number | null;
}

/** Every trial in order with its value and the best value so far (Optuna's optimization history). */
export function optimizationHistory(study: Study): HistoryPoint[] {
  let best: number | null = null;
  return study.trials.map((t) => {
    const value = t.state === 'complete' ? t.value : null;
    if (value !== null && (best === null || isBetter(study.direction, value, best))) best = value;
    return { trial: t.number, state: t.state, value, best };
  });
}

/** One trial's learning curve. */
export interface TrialCurve {
  trial: number;
  state: TrialState;
  steps: number[];
  /** Null where the reported value was not a number. */
  values: Array<number | null>;
}

/** The intermediate values of every trial that reported any (Optuna's intermediate-values plot). */
export function intermediateValues(study: Study): TrialCurve[] {
  return study.trials
    .filter((t) => t.intermediate.length > 0)
    .map((t) => ({ trial: t.number, state: t.state, steps: t.intermediate.map((v) => v.step), values: t.intermediate.map((v) => v.value) }));
}

/** Counts of trials by state. */
export function trialCounts(study: Study): Record<TrialState, number> {
  const counts: Record<TrialState, number> = { running: 0, complete: 0, pruned: 0, failed: 0 };
  for (const t of study.trials) counts[t.state]++;
  return counts;
}
