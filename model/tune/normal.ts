/**
 * The few pieces of the normal distribution a Parzen estimator needs: the log of the mass
 * between two points (kept in log space so a bin many standard deviations from a kernel's
 * centre still gets a finite, comparable number) and a truncated normal's density and draws.
 */
import type { Rng } from '../rng';

const LOG_SQRT_2PI = 0.5 * Math.log(2 * Math.PI);

/**
 * log erfc(z) for z ≥ 0, from the Chebyshev fit in Numerical Recipes (§6.2, relative error
 * below 1.2e-7 everywhere). It is a log by construction, so it neither underflows nor loses
 * digits far out in the tail, where `Math.log(erfc(z))` would give -Infinity past z ≈ 27.
 */
function logErfc(z: number): number {
  if (z === Infinity) return -Infinity;
  const t = 1 / (1 + 0.5 * z);
  const poly =
    -1.26551223 +
    t * (1.00002368 + t * (0.37409196 + t * (0.09678418 + t * (-0.18628806 + t * (0.27886807 + t * (-1.13520398 + t * (1.48851587 + t * (-0.82215223 + t * 0.17087277))))))));
  return Math.log(t) - z * z + poly;
}

/** erf(z) for z ≥ 0; a Taylor series near 0, where 1 - erfc(z) would keep few digits. */
function erfNonNegative(z: number): number {
  if (z >= 0.5) return 1 - Math.exp(logErfc(z));
  const z2 = z * z;
  let term = z;
  let sum = z;
  for (let n = 1; n < 30 && Math.abs(term) > 1e-17 * sum; n++) {
    term *= -z2 / n;
    sum += term / (2 * n + 1);
  }
  return (2 / Math.sqrt(Math.PI)) * sum;
}

/** log P(Z > x) for a standard normal Z and x ≥ 0. */
function logUpperTail(x: number): number {
  return logErfc(x * Math.SQRT1_2) - Math.LN2;
}

/** log P(a < Z < b) for a standard normal Z; -Infinity when a ≥ b. */
export function logGaussMass(a: number, b: number): number {
  if (!(a < b)) return -Infinity;
  if (b <= 0) return logGaussMass(-b, -a);
  if (a >= 0) {
    // Both ends in the upper tail: subtract the smaller tail from the larger in log space.
    const la = logUpperTail(a);
    if (la === -Infinity) return -Infinity;
    return la + Math.log(-Math.expm1(logUpperTail(b) - la));
  }
  // The interval holds 0: two positive halves, no cancellation.
  return Math.log(0.5 * (erfNonNegative(b * Math.SQRT1_2) + erfNonNegative(-a * Math.SQRT1_2)));
}

/** Log density at x of N(mu, sigma²) truncated to [low, high]. */
export function truncNormLogPdf(x: number, mu: number, sigma: number, low: number, high: number): number {
  if (x < low || x > high) return -Infinity;
  const z = (x - mu) / sigma;
  return -0.5 * z * z - LOG_SQRT_2PI - Math.log(sigma) - logGaussMass((low - mu) / sigma, (high - mu) / sigma);
}

/**
 * A draw from N(mu, sigma²) truncated to [low, high], by rejection. Parzen kernels sit inside
 * their range with sigma at most its width, so at least a third of the mass is inside and a
 * draw takes under three tries on average; the cap only guards a degenerate kernel.
 */
export function sampleTruncNorm(rng: Rng, mu: number, sigma: number, low: number, high: number): number {
  for (let tries = 0; tries < 1000; tries++) {
    const x = mu + sigma * rng.normal();
    if (x >= low && x <= high) return x;
  }
  return Math.min(high, Math.max(low, mu));
}

/** log(Σ exp(xs)) without overflow; -Infinity for an empty list or all -Infinity. */
export function logSumExp(xs: readonly number[]): number {
  let max = -Infinity;
  for (const x of xs) if (x > max) max = x;
  if (max === -Infinity) return -Infinity;
  let sum = 0;
  for (const x of xs) sum += Math.exp(x - max);
  return max + Math.log(sum);
}
