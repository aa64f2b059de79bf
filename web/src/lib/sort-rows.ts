/** Sorting for result tables: file names in natural order (img2 before img10), numbers numerically. */
const collator = new Intl.Collator(undefined, { numeric: true, sensitivity: 'base' });

export type SortDirection = 'asc' | 'desc';

/** Compares file names as people read them: digits as numbers, case ignored. */
export const byName = (a: string, b: string): number => collator.compare(a, b);

/** A sorted copy of `rows` by `key`, ties broken by name so the order is stable and readable. */
export function sortRows<T extends { name: string }>(rows: readonly T[], key: keyof T, direction: SortDirection): T[] {
  const sign = direction === 'asc' ? 1 : -1;
  return [...rows].sort((a, b) => {
    const x = a[key];
    const y = b[key];
    const d = typeof x === 'number' && typeof y === 'number' ? x - y : collator.compare(String(x ?? ''), String(y ?? ''));
    return d !== 0 ? sign * d : byName(a.name, b.name);
  });
}
