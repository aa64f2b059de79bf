/**
 * The Tree-structured Parzen Estimator with Optuna's defaults (univariate): after a few
 * random trials, finished trials are split into the best γ(n) ("below") and the rest
 * ("above"); each parameter gets a Parzen estimator l(x) over the below group and g(x) over
 * the above group, and the next value is the one of 24 draws from l that maximises
 * log l(x) − log g(x), the expected-improvement criterion of Bergstra et al. (2011).
 */
import type { Rng } from '../rng';
import { contains, sampleSpace, type Distribution, type Params, type ParamValue, type SearchSpace } from './distributions';
import { DEFAULT_PARZEN_OPTIONS, ParzenEstimator, type ParzenEstimatorOptions } from './parzen-estimator';
import { sampleUniform, trialRng } from './random-sampler';
import type { Direction, Sampler, Study, Trial } from './study';

/** Optuna's `default_gamma`: the below group is the best 10 %, rounded up, at most 25 trials. */
export function defaultGamma(n: number): number {
  return Math.min(Math.ceil(0.1 * n), 25);
}

export interface TpeSamplerOptions extends ParzenEstimatorOptions {
  seed: number;
  /** Random trials before TPE takes over (finished and pruned trials count). */
  nStartupTrials: number;
  /** Draws from l(x) scored per parameter. */
  nEiCandidates: number;
  /** Size of the below group for n finished trials. */
  gamma: (n: number) => number;
}

/** Optuna's TPESampler defaults. */
export const DEFAULT_TPE_OPTIONS: Readonly<TpeSamplerOptions> = Object.freeze({
  ...DEFAULT_PARZEN_OPTIONS,
  seed: 0,
  nStartupTrials: 10,
  nEiCandidates: 24,
  gamma: defaultGamma,
});

/**
 * How a pruned trial ranks, as Optuna's `_get_pruned_trial_score`: the further it got the
 * better, then by its value at its last step (a non-number worst); no reports ranks last.
 * Smaller tuples rank better.
 */
function prunedScore(trial: Trial, direction: Direction): [number, number] {
  const last = trial.intermediate.at(-1);
  if (!last) return [1, 0];
  if (last.value === null) return [-last.step, Infinity];
  return [-last.step, direction === 'minimize' ? last.value : -last.value];
}

/**
 * Splits finished trials into the best `nBelow` and the rest, both in trial order: complete
 * trials by value first; if fewer than `nBelow` are complete, the best pruned trials fill the
 * below group (Optuna's `_split_trials`).
 */
export function splitTrials(trials: readonly Trial[], direction: Direction, nBelow: number): { below: Trial[]; above: Trial[] } {
  const complete = trials.filter((t) => t.state === 'complete');
  const pruned = trials.filter((t) => t.state === 'pruned');
  const sign = direction === 'minimize' ? 1 : -1;
  // Array.prototype.sort is stable, so ties keep trial order, as Python's sorted does.
  complete.sort((a, b) => sign * (a.value! - b.value!));
  pruned.sort((a, b) => {
    const [sa, va] = prunedScore(a, direction);
    const [sb, vb] = prunedScore(b, direction);
    return sa !== sb ? sa - sb : va === vb ? 0 : va < vb ? -1 : 1;
  });
  const nComplete = Math.min(nBelow, complete.length);
  const nPruned = Math.min(Math.max(0, nBelow - nComplete), pruned.length);
  const byNumber = (a: Trial, b: Trial): number => a.number - b.number;
  const below = [...complete.slice(0, nComplete), ...pruned.slice(0, nPruned)].sort(byNumber);
  const above = [...complete.slice(nComplete), ...pruned.slice(nPruned)].sort(byNumber);
  return { below, above };
}

/** Optuna's TPESampler (univariate, single objective), seeded and deterministic. */
export class TpeSampler implements Sampler {
  readonly options: Readonly<TpeSamplerOptions>;

  constructor(options: Partial<TpeSamplerOptions> = {}) {
    this.options = { ...DEFAULT_TPE_OPTIONS, ...options };
    if (!(this.options.nEiCandidates >= 1)) throw new RangeError('nEiCandidates must be at least 1');
  }

  sample(study: Study, space: SearchSpace, trialNumber: number): Params {
    const rng = trialRng(this.options.seed, trialNumber);
    const finished = study.trials.filter((t) => t.state === 'complete' || t.state === 'pruned');
    if (finished.length < this.options.nStartupTrials) return sampleSpace(space, (_name, d) => sampleUniform(rng, d));
    const { below, above } = splitTrials(finished, study.direction, this.options.gamma(finished.length));
    return sampleSpace(space, (name, d) => this.sampleParam(rng, name, d, below, above));
  }

  /** One parameter: the best of `nEiCandidates` draws from l(x) by log l(x) − log g(x). */
  private sampleParam(rng: Rng, name: string, d: Distribution, below: readonly Trial[], above: readonly Trial[]): ParamValue {
    // Trials without this parameter (its condition failed) or with a value the current space
    // cannot produce (the space changed) say nothing about it.
    const observed = (group: readonly Trial[]): ParamValue[] => group.map((t) => t.params[name]).filter((v): v is ParamValue => v !== undefined && contains(d, v));
    const l = new ParzenEstimator(d, observed(below), this.options);
    const g = new ParzenEstimator(d, observed(above), this.options);
    const candidates = l.sample(rng, this.options.nEiCandidates);
    const ll = l.logPdf(candidates);
    const lg = g.logPdf(candidates);
    let best = 0;
    let bestScore = -Infinity;
    candidates.forEach((_, i) => {
      const score = ll[i]! - lg[i]!;
      if (score > bestScore) {
        best = i;
        bestScore = score;
      }
    });
    return candidates[best]!;
  }
}
