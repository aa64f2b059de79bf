/**
 * When a search stops: after a number of trials in the study, after a time in this session,
 * or whichever comes first. Both are checked between trials, so a trial that has started is
 * never cut short by the budget (as Optuna's `timeout`).
 */
import type { Study } from './study';

export interface Budget {
  /** Trials the study should hold in the end, counting those from earlier sessions ({@link countedTrials}). */
  maxTrials?: number;
  /** Seconds this session may start trials for; a continued study gets a fresh allowance. */
  maxSeconds?: number;
}

/**
 * Trials that used up budget: every finished trial except interrupted ones, whose parameters
 * run again and would otherwise be paid for twice.
 */
export function countedTrials(study: Study): number {
  return study.trials.filter((t) => t.state !== 'running' && t.failure?.reason !== 'interrupted').length;
}

/** Whether another trial may start; with neither limit set, always (the caller stops by abort). */
export function withinBudget(study: Study, budget: Budget, elapsedSeconds: number): boolean {
  if (budget.maxTrials !== undefined && countedTrials(study) >= budget.maxTrials) return false;
  if (budget.maxSeconds !== undefined && elapsedSeconds >= budget.maxSeconds) return false;
  return true;
}
