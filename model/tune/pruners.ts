/**
 * Pruners decide, after a trial reports a value, whether it is hopeless enough to stop. They
 * follow Optuna's: a percentile (median) rule against finished trials at the same step, and
 * asynchronous successive halving, whose rung values are written into the trial so the
 * decision survives a save and reload.
 */
import { isBetter, lastStep, valueAt, type Study, type Trial } from './study';

export interface Pruner {
  /** Whether `trial` should stop now, judged on what it last reported. May record state in the trial. */
  prune(study: Study, trial: Trial): boolean;
}

/** Whether a running trial should stop after its last report (what the runner's `shouldPrune` asks). */
export function shouldPrune(study: Study, trial: Trial, pruner: Pruner): boolean {
  return trial.state === 'running' && pruner.prune(study, trial);
}

/** Never prunes. */
export class NopPruner implements Pruner {
  prune(): boolean {
    return false;
  }
}

/** The p-th percentile of `values` (0–100), interpolating linearly between ranks as numpy does. */
export function percentile(values: readonly number[], p: number): number {
  if (values.length === 0) return NaN;
  const sorted = [...values].sort((a, b) => a - b);
  const rank = (p / 100) * (sorted.length - 1);
  const lo = Math.floor(rank);
  const hi = Math.ceil(rank);
  return sorted[lo]! + (sorted[hi]! - sorted[lo]!) * (rank - lo);
}

export interface PercentilePrunerOptions {
  /** Pruning waits until this many trials have completed. */
  nStartupTrials: number;
  /** Steps below this are never pruned. */
  nWarmupSteps: number;
  /** Check every this many steps past the warm-up (a check falls to the first report at or after its step). */
  intervalSteps: number;
  /** Completed trials that must have reported at the step for a judgement. */
  nMinTrials: number;
}

/**
 * Optuna's PercentilePruner: prunes when the trial's best value so far is worse than the
 * `percentile`-th best of the completed trials' values at the current step (for maximize,
 * worse than the (100 − p)-th percentile). A trial that reported a non-number is pruned.
 */
export class PercentilePruner implements Pruner {
  readonly percentile: number;
  readonly options: Readonly<PercentilePrunerOptions>;

  constructor(percentile: number, options: Partial<PercentilePrunerOptions> = {}) {
    this.percentile = percentile;
    this.options = { nStartupTrials: 5, nWarmupSteps: 0, intervalSteps: 1, nMinTrials: 1, ...options };
    if (!(percentile >= 0 && percentile <= 100)) throw new RangeError(`percentile must be in [0, 100], got ${percentile}`);
    if (this.options.intervalSteps < 1) throw new RangeError('intervalSteps must be at least 1');
  }

  prune(study: Study, trial: Trial): boolean {
    const { nStartupTrials, nWarmupSteps, intervalSteps, nMinTrials } = this.options;
    const completed = study.trials.filter((t) => t.state === 'complete');
    if (completed.length === 0 || completed.length < nStartupTrials) return false;
    const step = lastStep(trial);
    if (step === null || step < nWarmupSteps) return false;
    // Only the first report at or past each check point is judged, so sparse reports still get checked once.
    const checkPoint = Math.floor((step - nWarmupSteps) / intervalSteps) * intervalSteps + nWarmupSteps;
    const previous = trial.intermediate.length >= 2 ? trial.intermediate.at(-2)!.step : -Infinity;
    if (previous >= checkPoint) return false;
    const values = trial.intermediate.map((v) => v.value);
    if (values.every((v) => v === null)) return true;
    const finite = values.filter((v): v is number => v !== null);
    const best = study.direction === 'maximize' ? Math.max(...finite) : Math.min(...finite);
    const others = completed.map((t) => valueAt(t, step)).filter((v): v is number => typeof v === 'number');
    if (others.length < nMinTrials) return false;
    const threshold = percentile(others, study.direction === 'maximize' ? 100 - this.percentile : this.percentile);
    return isBetter(study.direction, threshold, best);
  }
}

/** Optuna's MedianPruner: {@link PercentilePruner} at the 50th percentile. */
export class MedianPruner extends PercentilePruner {
  constructor(options: Partial<PercentilePrunerOptions> = {}) {
    super(50, options);
  }
}

export interface SuccessiveHalvingOptions {
  /**
   * Steps before the first rung; `auto`: the longest completed trial's last step / 100 (at
   * least 1), no pruning before one completes. Optuna fixes `auto` at its first estimate in
   * the pruner object; here it is worked out from the study each time, so it is the same
   * after a reload (for SceneLab's runs of under 100 epochs it is always 1).
   */
  minResource: number | 'auto';
  /** Each rung keeps the top 1 / reductionFactor. */
  reductionFactor: number;
  /** Rung k sits at step minResource · reductionFactor^(minEarlyStoppingRate + k). */
  minEarlyStoppingRate: number;
  /** Trials that must have reached a rung before anyone is promoted past it. */
  bootstrapCount: number;
}

/**
 * Optuna's SuccessiveHalvingPruner (asynchronous successive halving). When a trial reaches a
 * rung's step it records its value there (`trial.rungs`) and goes on only if that value is in
 * the top 1 / reductionFactor of all values recorded at the rung so far, its own included;
 * while fewer than reductionFactor trials have reached the rung, only the best goes on.
 */
export class SuccessiveHalvingPruner implements Pruner {
  readonly options: Readonly<SuccessiveHalvingOptions>;

  constructor(options: Partial<SuccessiveHalvingOptions> = {}) {
    this.options = { minResource: 'auto', reductionFactor: 4, minEarlyStoppingRate: 0, bootstrapCount: 0, ...options };
    const { minResource, reductionFactor, minEarlyStoppingRate, bootstrapCount } = this.options;
    if (minResource !== 'auto' && !(Number.isInteger(minResource) && minResource >= 1)) throw new RangeError(`minResource must be 'auto' or an integer ≥ 1, got ${minResource}`);
    if (!(Number.isInteger(reductionFactor) && reductionFactor >= 2)) throw new RangeError(`reductionFactor must be an integer ≥ 2, got ${reductionFactor}`);
    if (!(Number.isInteger(minEarlyStoppingRate) && minEarlyStoppingRate >= 0)) throw new RangeError('minEarlyStoppingRate must be a non-negative integer');
    if (bootstrapCount > 0 && minResource === 'auto') throw new RangeError('bootstrapCount needs a fixed minResource');
  }

  /** The step at which rung `rung` is judged (null while `auto` has no completed trial to go by). */
  rungStep(study: Study, rung: number): number | null {
    const min = this.options.minResource === 'auto' ? estimateMinResource(study) : this.options.minResource;
    return min === null ? null : min * this.options.reductionFactor ** (this.options.minEarlyStoppingRate + rung);
  }

  prune(study: Study, trial: Trial): boolean {
    const step = lastStep(trial);
    if (step === null) return false;
    const value = trial.intermediate.at(-1)!.value;
    for (let rung = trial.rungs.length; ; rung++) {
      const rungStep = this.rungStep(study, rung);
      if (rungStep === null || step < rungStep) return false;
      if (value === null) return true;
      trial.rungs[rung] = value;
      const competing = study.trials.filter((t) => t !== trial && t.rungs.length > rung).map((t) => t.rungs[rung]!);
      competing.push(value);
      if (competing.length <= this.options.bootstrapCount) return true;
      if (!promotable(value, competing, this.options.reductionFactor, study.direction)) return true;
    }
  }
}

function estimateMinResource(study: Study): number | null {
  const steps = study.trials.filter((t) => t.state === 'complete').map(lastStep).filter((s): s is number => s !== null);
  return steps.length === 0 ? null : Math.max(Math.floor(Math.max(...steps) / 100), 1);
}

/** Whether `value` is within the top floor(n / factor) of the n competing values (the top one while that is 0). */
function promotable(value: number, competing: number[], factor: number, direction: Study['direction']): boolean {
  const index = Math.max(Math.floor(competing.length / factor) - 1, 0);
  const sorted = [...competing].sort((a, b) => a - b);
  return direction === 'maximize' ? value >= sorted[sorted.length - 1 - index]! : value <= sorted[index]!;
}
