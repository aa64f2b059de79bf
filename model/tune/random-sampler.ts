/**
 * Random search, and the per-trial random stream every sampler draws from. Each trial gets
 * its own stream, made from the sampler's seed and the trial's number, so a study that is
 * stopped and continued draws exactly what an uninterrupted one would — a single stream
 * restarted from the seed would propose trial 0's parameters again.
 */
import { Rng } from '../rng';
import { drawInterval, fromDrawSpace, sampleSpace, type Distribution, type Params, type ParamValue, type SearchSpace } from './distributions';
import type { Sampler, Study } from './study';

/** MurmurHash3's 32-bit finaliser: nearby inputs give unrelated outputs. */
function mix32(h: number): number {
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  h ^= h >>> 16;
  return h >>> 0;
}

/** The random stream for trial `trialNumber` of a sampler seeded with `seed`. */
export function trialRng(seed: number, trialNumber: number): Rng {
  return new Rng(mix32((seed >>> 0) ^ mix32(trialNumber + 0x9e3779b9)));
}

/** A uniform draw from one distribution (log-uniform for log ones; every grid point equally likely). */
export function sampleUniform(rng: Rng, d: Distribution): ParamValue {
  if (d.type === 'categorical') return d.choices[rng.int(d.choices.length)]!;
  const { low, high } = drawInterval(d);
  return fromDrawSpace(d, low + (high - low) * rng.next());
}

/** Optuna's RandomSampler: every parameter uniform and independent. */
export class RandomSampler implements Sampler {
  readonly seed: number;

  constructor(options: { seed?: number } = {}) {
    this.seed = options.seed ?? 0;
  }

  sample(_study: Study, space: SearchSpace, trialNumber: number): Params {
    const rng = trialRng(this.seed, trialNumber);
    return sampleSpace(space, (_name, d) => sampleUniform(rng, d));
  }
}
