/**
 * Parameter importance without a surrogate model (Optuna's default is fANOVA over a random
 * forest, too heavy for a browser worker). For each parameter on its own, the complete trials
 * are grouped by its value — categorical parameters by choice, numeric ones into equal-count
 * bins of their (log-scaled, for log distributions) values — and a one-way analysis of
 * variance gives ω², the share of the objective's variance the groups' means explain:
 *
 *   ω² = (SS_between − (k − 1)·MS_within) / (SS_total + MS_within)
 *
 * ω² rather than the plain ratio SS_between / SS_total (η²) because η² grows with the number
 * of groups even when a parameter does nothing, which would favour a four-bin float over a
 * two-choice switch; ω² corrects for that and is clipped at 0. The importances are the ω²
 * normalised to sum to 1 (all 0 when no parameter explains anything). Interactions are not
 * seen: each parameter is judged by its marginal means only.
 */
import { contains, type Distribution, type ParamValue } from './distributions';
import type { Study, Trial } from './study';

export interface ParamImportance {
  param: string;
  /** Share of the total importance, 0–1; the importances of a study sum to 1 (or are all 0). */
  importance: number;
  /** ω²: the estimated fraction of the objective's variance this parameter's groups explain on their own. */
  omegaSquared: number;
  /** Complete trials that had this parameter (with a value the current space holds). */
  trials: number;
}

/** Groups of trial indices for one parameter's values. */
function groupsOf(d: Distribution, values: ParamValue[], bins: number): number[][] {
  if (d.type === 'categorical') {
    const byChoice = new Map<ParamValue, number[]>();
    values.forEach((v, i) => byChoice.set(v, [...(byChoice.get(v) ?? []), i]));
    return [...byChoice.values()];
  }
  const xs = values.map((v) => (d.log ? Math.log(v as number) : (v as number)));
  const order = xs.map((_, i) => i).sort((a, b) => xs[a]! - xs[b]!);
  const groups: number[][] = [];
  // Equal-count bins over the sorted values; equal values always share a bin (an int's
  // repeated values must not be split between groups by their order alone).
  order.forEach((i, rank) => {
    const bin = Math.floor((rank * bins) / order.length);
    const prev = rank > 0 ? order[rank - 1]! : -1;
    if (groups.length === 0 || (xs[prev] !== xs[i] && bin >= groups.length)) groups.push([]);
    groups.at(-1)!.push(i);
  });
  return groups;
}

/** ω² of a one-way analysis of variance of `ys` over `groups`, clipped at 0. */
export function omegaSquared(ys: readonly number[], groups: readonly number[][]): number {
  const n = ys.length;
  const k = groups.length;
  if (k < 2 || n <= k) return 0;
  const mean = ys.reduce((a, b) => a + b, 0) / n;
  let ssTotal = 0;
  for (const y of ys) ssTotal += (y - mean) ** 2;
  let ssBetween = 0;
  for (const g of groups) {
    const gm = g.reduce((a, i) => a + ys[i]!, 0) / g.length;
    ssBetween += g.length * (gm - mean) ** 2;
  }
  const msWithin = (ssTotal - ssBetween) / (n - k);
  const denominator = ssTotal + msWithin;
  if (!(denominator > 0)) return 0;
  return Math.max(0, (ssBetween - (k - 1) * msWithin) / denominator);
}

/** The importance of every parameter of the study's space, most important first. */
export function paramImportances(study: Study, options: { bins?: number } = {}): ParamImportance[] {
  const bins = options.bins ?? 4;
  const complete = study.trials.filter((t): t is Trial & { value: number } => t.state === 'complete' && t.value !== null);
  const rows = Object.entries(study.space).map(([param, d]) => {
    const having = complete.filter((t) => contains(d, t.params[param]));
    const ys = having.map((t) => t.value);
    const w = omegaSquared(ys, groupsOf(d, having.map((t) => t.params[param]!), bins));
    return { param, omegaSquared: w, trials: having.length };
  });
  const total = rows.reduce((a, r) => a + r.omegaSquared, 0);
  return rows.map((r) => ({ ...r, importance: total > 0 ? r.omegaSquared / total : 0 })).sort((a, b) => b.importance - a.importance);
}
