// Synthetic objectives and a synchronous ask/tell loop for the tune tests: cheap stand-ins for
// a training run, shaped like one (a learning curve that rises and levels off).
import { categorical, float, int, type Params } from './distributions';
import { ask, createStudy, tell, type Direction, type Sampler, type Study } from './study';

/** A mixed space: a linear float, a log float, an int and a categorical. */
export const MIXED_SPACE = {
  x: float(-5, 5),
  lr: float(1e-5, 1, { log: true }),
  n: int(1, 64),
  c: categorical(['a', 'b', 'c', 'd', 'e']),
};

/**
 * A shifted quadratic over {@link MIXED_SPACE} (minimum 0 at x = 1.5, lr = 10^-3.5, n = 37,
 * c = 'd'): each numeric term is about 1–6 at the far end of its range, the wrong choice costs 1.
 */
export function mixedQuadratic(p: Params): number {
  const x = p.x as number;
  const lr = p.lr as number;
  const n = p.n as number;
  return (x - 1.5) ** 2 / 4 + (Math.log10(lr) + 3.5) ** 2 / 4 + ((n - 37) / 16) ** 2 + (p.c === 'd' ? 0 : 1);
}

/** Runs `trials` complete trials of `f` with `sampler` on a fresh study; returns the study. */
export function runSynchronously(sampler: Sampler, f: (p: Params) => number, trials: number, direction: Direction = 'minimize'): Study {
  const study = createStudy({ direction, objective: 'f', space: MIXED_SPACE, now: 0 });
  for (let i = 0; i < trials; i++) {
    const t = ask(study, sampler, i);
    tell(study, t, { state: 'complete', value: f(t.params) }, i);
  }
  return study;
}

/** A validation-accuracy curve that rises to `quality` with time constant `tau` epochs. */
export function learningCurve(quality: number, tau: number, epochs: number): number[] {
  return Array.from({ length: epochs }, (_, i) => quality * (1 - Math.exp(-(i + 1) / tau)));
}
