import { describe, expect, it } from 'vitest';
import type { LabelEntry } from '../engine/label-types';
import { gridFilter, rangeOf } from './label-grid';

const entries: LabelEntry[] = [
  { id: 1, path: 'a.jpg', label: null, split: 'unassigned', source: null },
  { id: 2, path: 'b.jpg', label: 'sea', split: 'unassigned', source: 'person' },
  { id: 3, path: 'c.jpg', label: 'sea', split: 'unassigned', source: 'suggestion' },
  { id: 4, path: 'd.jpg', label: 'forest', split: 'train', source: 'cloud' },
  { id: 5, path: 'e.jpg', label: 'forest', split: 'train', source: null },
];
const guesses = new Map([
  [1, { label: 'sea' }],
  [2, { label: 'forest' }],
  [3, { label: 'sea' }],
  [5, { label: 'forest' }],
]);
const ids = (xs: LabelEntry[]): number[] => xs.map((e) => e.id);

describe('Label grid filters and selection', () => {
  it('filters: unlabelled, by class, model disagrees with the label, label from the model', () => {
    expect(ids(gridFilter(entries, 'all', guesses))).toEqual([1, 2, 3, 4, 5]);
    expect(ids(gridFilter(entries, 'unlabelled', guesses))).toEqual([1]);
    expect(ids(gridFilter(entries, 'class:forest', guesses))).toEqual([4, 5]);
    // Image 4 has no guess: not a disagreement; unlabelled image 1 neither.
    expect(ids(gridFilter(entries, 'disagree', guesses))).toEqual([2]);
    expect(ids(gridFilter(entries, 'from-model', guesses))).toEqual([3, 4]);
  });

  it('selects a range either way round', () => {
    expect(rangeOf(entries, 1, 3)).toEqual([2, 3, 4]);
    expect(rangeOf(entries, 3, 1)).toEqual([2, 3, 4]);
    expect(rangeOf(entries, 2, 2)).toEqual([3]);
  });
});
