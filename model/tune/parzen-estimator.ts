/**
 * A one-parameter Parzen estimator as TPE builds it (Optuna's `_ParzenEstimator`, univariate):
 * a weighted mixture with one kernel per observation plus a prior kernel spanning the whole
 * range. Numeric parameters get truncated-normal kernels in the space they are drawn evenly in
 * (log space for log distributions; stepped ones widened by half a step and scored by the mass
 * of the step's bin); categorical ones get smoothed counts.
 */
import type { Rng } from '../rng';
import { drawInterval, fromDrawSpace, type Distribution, type FloatDistribution, type IntDistribution, type ParamValue } from './distributions';
import { logGaussMass, logSumExp, sampleTruncNorm, truncNormLogPdf } from './normal';

export interface ParzenEstimatorOptions {
  /** Weight of the prior kernel, relative to an observation's weight (Optuna: 1). */
  priorWeight: number;
  /** Keep bandwidths at least range / min(100, 1 + kernels), so a tight cluster cannot collapse the density (Optuna: true). */
  considerMagicClip: boolean;
  /** Let the range's ends bound the outermost kernels' bandwidths (Optuna: false). */
  considerEndpoints: boolean;
  /** Weights of `n` observations, oldest first. */
  weights: (n: number) => number[];
}

/**
 * Optuna's `default_weights`: equal weights up to 25 observations; beyond that the newest 25
 * keep weight 1 and older ones ramp linearly from 1/n up to 1, so early, poorly informed
 * trials count for less.
 */
export function defaultWeights(n: number): number[] {
  if (n < 25) return new Array<number>(n).fill(1);
  const ramp = n - 25;
  const out: number[] = [];
  for (let i = 0; i < ramp; i++) out.push(ramp === 1 ? 1 / n : 1 / n + ((1 - 1 / n) * i) / (ramp - 1));
  for (let i = 0; i < 25; i++) out.push(1);
  return out;
}

/** Optuna's defaults. */
export const DEFAULT_PARZEN_OPTIONS: Readonly<ParzenEstimatorOptions> = Object.freeze({
  priorWeight: 1,
  considerMagicClip: true,
  considerEndpoints: false,
  weights: defaultWeights,
});

interface NumericKernels {
  kind: 'numeric';
  d: FloatDistribution | IntDistribution;
  mus: number[];
  sigmas: number[];
  /** The range kernels are truncated to, in draw space. */
  low: number;
  high: number;
}

interface CategoricalMixture {
  kind: 'categorical';
  choices: readonly ParamValue[];
  /** The mixture collapsed to one probability per choice. */
  probs: number[];
}

/** Bandwidth of each kernel: the larger gap to its neighbours (range ends included), clipped. */
function bandwidths(mus: readonly number[], low: number, high: number, options: ParzenEstimatorOptions): number[] {
  const order = mus.map((_, i) => i).sort((a, b) => mus[a]! - mus[b]!);
  const sorted = [low, ...order.map((i) => mus[i]!), high];
  const sortedSigmas = order.map((_, j) => Math.max(sorted[j + 1]! - sorted[j]!, sorted[j + 2]! - sorted[j + 1]!));
  const n = mus.length;
  if (!options.considerEndpoints && n >= 2) {
    sortedSigmas[0] = sorted[2]! - sorted[1]!;
    sortedSigmas[n - 1] = sorted[n]! - sorted[n - 1]!;
  }
  const maxSigma = high - low;
  const minSigma = options.considerMagicClip ? (high - low) / Math.min(100, 1 + (n + 1)) : 1e-12;
  const sigmas = new Array<number>(n);
  order.forEach((i, j) => {
    sigmas[i] = Math.min(maxSigma, Math.max(minSigma, sortedSigmas[j]!));
  });
  return sigmas;
}

/** Mixture weights: the observations' weights and the prior's, summing to 1. */
function mixtureWeights(n: number, options: ParzenEstimatorOptions): number[] {
  if (n === 0) return [1];
  const w = options.weights(n).slice(0, n);
  if (w.length !== n || w.some((x) => !(x >= 0) || !Number.isFinite(x))) throw new RangeError(`the weights function must give ${n} finite non-negative weights`);
  w.push(options.priorWeight);
  const total = w.reduce((a, b) => a + b, 0);
  if (!(total > 0)) throw new RangeError('the Parzen estimator weights sum to zero');
  return w.map((x) => x / total);
}

/** Univariate Parzen estimator over one distribution. */
export class ParzenEstimator {
  private readonly weights: number[];
  private readonly model: NumericKernels | CategoricalMixture;

  /** @param observations values the distribution contains, oldest first (weights depend on age). */
  constructor(d: Distribution, observations: readonly ParamValue[], options: ParzenEstimatorOptions = DEFAULT_PARZEN_OPTIONS) {
    const n = observations.length;
    this.weights = mixtureWeights(n, options);
    if (d.type === 'categorical') {
      const k = d.choices.length;
      // Every observation's kernel spreads priorWeight / (n + 1) over all choices on top of
      // its own choice's 1; the prior kernel is uniform.
      const smoothing = options.priorWeight / (n + 1);
      const probs = new Array<number>(k).fill(0);
      observations.forEach((value, i) => {
        const c = d.choices.indexOf(value);
        if (c < 0) throw new RangeError(`observation ${String(value)} is not a choice`);
        const rowTotal = smoothing * k + 1;
        for (let j = 0; j < k; j++) probs[j]! += (this.weights[i]! * (smoothing + (j === c ? 1 : 0))) / rowTotal;
      });
      const priorShare = this.weights[n]! / k;
      for (let j = 0; j < k; j++) probs[j]! += priorShare;
      this.model = { kind: 'categorical', choices: d.choices, probs };
      return;
    }
    const { low, high } = drawInterval(d);
    const mus = observations.map((v) => {
      if (typeof v !== 'number') throw new RangeError(`observation ${String(v)} is not a number`);
      return d.log ? Math.log(v) : v;
    });
    const sigmas = bandwidths(mus, low, high, options);
    mus.push(0.5 * (low + high));
    sigmas.push(high - low);
    this.model = { kind: 'numeric', d, mus, sigmas, low, high };
  }

  /** `count` independent draws. */
  sample(rng: Rng, count: number): ParamValue[] {
    const out: ParamValue[] = [];
    const m = this.model;
    for (let s = 0; s < count; s++) {
      if (m.kind === 'categorical') {
        out.push(m.choices[pick(rng, m.probs)]!);
      } else {
        const k = pick(rng, this.weights);
        out.push(fromDrawSpace(m.d, sampleTruncNorm(rng, m.mus[k]!, m.sigmas[k]!, m.low, m.high)));
      }
    }
    return out;
  }

  /** Log density (log probability for stepped and categorical distributions) of each value. */
  logPdf(values: readonly ParamValue[]): number[] {
    const m = this.model;
    if (m.kind === 'categorical') return values.map((v) => Math.log(m.probs[m.choices.indexOf(v)] ?? 0));
    const logW = this.weights.map(Math.log);
    const step = m.d.step;
    return values.map((v) => {
      const x = v as number;
      const perKernel = m.mus.map((mu, k) => {
        const sigma = m.sigmas[k]!;
        if (step === null) return logW[k]! + truncNormLogPdf(m.d.log ? Math.log(x) : x, mu, sigma, m.low, m.high);
        const left = m.d.log ? Math.log(x - step / 2) : x - step / 2;
        const right = m.d.log ? Math.log(x + step / 2) : x + step / 2;
        return logW[k]! + logGaussMass((left - mu) / sigma, (right - mu) / sigma) - logGaussMass((m.low - mu) / sigma, (m.high - mu) / sigma);
      });
      return logSumExp(perKernel);
    });
  }
}

/** An index drawn with the given probabilities (summing to 1). */
function pick(rng: Rng, probs: readonly number[]): number {
  const u = rng.next();
  let acc = 0;
  for (let i = 0; i < probs.length - 1; i++) {
    acc += probs[i]!;
    if (u < acc) return i;
  }
  return probs.length - 1;
}
