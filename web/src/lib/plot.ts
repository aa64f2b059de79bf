/**
 * The geometry of the Tune screen's small SVG charts: a plot area inside a fixed viewBox
 * (the SVG scales to its container, so the same numbers serve a phone and a desktop), linear
 * scales, padded domains and a few round ticks.
 */

/** A chart's viewBox and the margins around its plot area. */
export interface Frame {
  width: number;
  height: number;
  left: number;
  right: number;
  top: number;
  bottom: number;
}

export const CHART_FRAME: Readonly<Frame> = Object.freeze({ width: 480, height: 260, left: 58, right: 16, top: 14, bottom: 40 });

/** A linear map from `domain` onto `range`; a domain of one point maps to the range's middle. */
export function linear(domain: readonly [number, number], range: readonly [number, number]): (v: number) => number {
  const [d0, d1] = domain;
  const [r0, r1] = range;
  if (d1 === d0) return () => (r0 + r1) / 2;
  return (v) => r0 + ((v - d0) / (d1 - d0)) * (r1 - r0);
}

/** The smallest and largest finite value, widened a little (or around a single value) so points never sit on the frame. */
export function paddedDomain(values: ReadonlyArray<number | null>, pad = 0.05): [number, number] {
  const finite = values.filter((v): v is number => v !== null && Number.isFinite(v));
  if (finite.length === 0) return [0, 1];
  const lo = Math.min(...finite);
  const hi = Math.max(...finite);
  const span = hi - lo || Math.abs(hi) || 1;
  return [lo - span * pad, hi + span * pad];
}

/** About `count` round values inside the domain (1, 2 or 5 times a power of ten apart). */
export function ticks(domain: readonly [number, number], count = 4): number[] {
  const [lo, hi] = domain;
  if (!(hi > lo)) return [lo];
  const raw = (hi - lo) / Math.max(1, count);
  const power = 10 ** Math.floor(Math.log10(raw));
  const step = [1, 2, 5, 10].map((m) => m * power).find((s) => s >= raw) ?? 10 * power;
  const out: number[] = [];
  for (let v = Math.ceil(lo / step) * step; v <= hi + step * 1e-9; v += step) out.push(Number(v.toPrecision(12)));
  return out;
}

/** A tick label: short, without trailing zeros. */
export function tickLabel(v: number): string {
  if (v === 0) return '0';
  const a = Math.abs(v);
  if (a >= 1000 || a < 1e-3) return v.toExponential(0);
  return String(Number(v.toPrecision(3)));
}

/** Points as an SVG `points` attribute, skipping missing values. */
export function polyline(points: ReadonlyArray<[number, number | null]>, x: (v: number) => number, y: (v: number) => number): string {
  return points
    .filter((p): p is [number, number] => p[1] !== null && Number.isFinite(p[1]))
    .map(([a, b]) => `${x(a).toFixed(1)},${y(b).toFixed(1)}`)
    .join(' ');
}
