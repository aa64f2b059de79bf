/** The Label screen grid's filters and range selection, as plain functions (tested without a DOM). */
import type { LabelEntry } from '../engine/label-types';

/** What the grid shows: everything, unlabelled images, one class, model disagreements, labels from the model. */
export type GridFilter = 'all' | 'unlabelled' | 'disagree' | 'from-model' | `class:${string}`;

/** The entries a filter keeps, in dataset order. `guesses` maps image ids to the model's best class. */
export function gridFilter(entries: readonly LabelEntry[], filter: GridFilter, guesses: ReadonlyMap<number, { label: string }>): LabelEntry[] {
  switch (filter) {
    case 'all':
      return [...entries];
    case 'unlabelled':
      return entries.filter((e) => e.label === null);
    case 'disagree':
      return entries.filter((e) => {
        const g = guesses.get(e.id);
        return e.label !== null && g !== undefined && g.label !== e.label;
      });
    case 'from-model':
      return entries.filter((e) => e.label !== null && (e.source === 'suggestion' || e.source === 'cloud'));
    default: {
      const cls = filter.slice('class:'.length);
      return entries.filter((e) => e.label === cls);
    }
  }
}

/** Ids of the entries from index `a` to `b`, either way round (shift-click and drag selection). */
export function rangeOf(entries: readonly LabelEntry[], a: number, b: number): number[] {
  const [lo, hi] = a <= b ? [a, b] : [b, a];
  return entries.slice(lo, hi + 1).map((e) => e.id);
}
