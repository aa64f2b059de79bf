import { describe, expect, it } from 'vitest';
import { byName, sortRows } from './sort-rows';

const rows = [
  { name: 'img10.jpg', label: 'sea', p: 0.5 },
  { name: 'img2.jpg', label: 'forest', p: 0.9 },
  { name: 'IMG1.jpg', label: 'sea', p: 0.7 },
];

describe('sortRows', () => {
  it('orders file names naturally, case ignored', () => {
    expect(['img10.jpg', 'img2.jpg', 'IMG1.jpg'].sort(byName)).toEqual(['IMG1.jpg', 'img2.jpg', 'img10.jpg']);
  });
  it('sorts by class with ties by name, and by probability numerically both ways', () => {
    expect(sortRows(rows, 'label', 'asc').map((r) => r.name)).toEqual(['img2.jpg', 'IMG1.jpg', 'img10.jpg']);
    expect(sortRows(rows, 'p', 'desc').map((r) => r.p)).toEqual([0.9, 0.7, 0.5]);
    expect(sortRows(rows, 'p', 'asc').map((r) => r.p)).toEqual([0.5, 0.7, 0.9]);
    expect(rows[0]!.name).toBe('img10.jpg'); // the input is left as it was
  });
});
