import { Rng } from '../rng';

/**
 * A seeded random split in the manner of PyTorch's `random_split`: one permutation of all
 * indices, cut into consecutive parts. The same `(n, fraction, seed)` always gives the same
 * split, on every machine.
 */
export function randomSplit(n: number, valFraction: number, seed: number): { train: number[]; val: number[] } {
  if (!(valFraction >= 0 && valFraction < 1)) throw new Error(`validation fraction must be in [0, 1), got ${valFraction}`);
  const perm = new Rng(seed).permutation(n);
  const nVal = Math.round(n * valFraction);
  const nTrain = n - nVal;
  return { train: perm.slice(0, nTrain).sort((a, b) => a - b), val: perm.slice(nTrain).sort((a, b) => a - b) };
}
