/**
 * The order in which to ask a person for labels: images the current model is least sure of
 * first (uncertainty sampling). Each image comes with the model's suggested class, so the
 * person confirms or corrects rather than picking from scratch.
 */

/** How uncertainty is measured: Shannon entropy of the class probabilities, or the gap between the two most likely classes. */
export type UncertaintyMeasure = 'entropy' | 'margin';

/** One image in the queue, by its index in the input. */
export interface QueueItem {
  index: number;
  /** Entropy in nats (higher = less sure), or margin top1 − top2 (lower = less sure). */
  score: number;
  /** Index of the most likely class (the first one on a tie). */
  suggested: number;
  /** Its probability. */
  probability: number;
}

/** Probabilities of one image: a row per image, one entry per class. */
export type ProbabilityRow = ArrayLike<number>;

function checkRows(rows: readonly ProbabilityRow[]): void {
  const classes = rows[0]?.length ?? 0;
  rows.forEach((row, i) => {
    if (row.length !== classes) throw new RangeError(`image ${i} has ${row.length} probabilities, image 0 has ${classes}`);
    if (row.length < 2) throw new RangeError(`image ${i}: need probabilities for at least 2 classes, got ${row.length}`);
    for (let k = 0; k < row.length; k++) {
      const p = row[k]!;
      // float32 softmax outputs can exceed 1 by an ulp or two.
      if (!(p >= 0 && p <= 1 + 1e-6)) throw new RangeError(`image ${i}, class ${k}: probability must be in [0, 1], got ${p}`);
    }
  });
}

/** Shannon entropy in nats (0 log 0 = 0): 0 for a certain prediction, ln(classes) for a uniform one. */
export function entropy(row: ProbabilityRow): number {
  let h = 0;
  for (let k = 0; k < row.length; k++) {
    const p = row[k]!;
    if (p > 0) h -= p * Math.log(p);
  }
  // -0 for a one-hot row reads oddly in a table.
  return h === 0 ? 0 : h;
}

/** The most likely class, the runner-up's probability, and top1 − top2. */
export function topTwo(row: ProbabilityRow): { best: number; probability: number; second: number; margin: number } {
  let best = 0;
  for (let k = 1; k < row.length; k++) if (row[k]! > row[best]!) best = k;
  let second = -Infinity;
  for (let k = 0; k < row.length; k++) if (k !== best && row[k]! > second) second = row[k]!;
  const probability = row[best]!;
  return { best, probability, second, margin: probability - second };
}

/**
 * Orders images most-uncertain first: highest entropy, or smallest margin. Ties keep input
 * order (a stable sort on the index), so the same probabilities always give the same queue.
 * Throws a RangeError naming the first image whose probabilities are malformed.
 */
export function uncertaintyQueue(rows: readonly ProbabilityRow[], measure: UncertaintyMeasure): QueueItem[] {
  if (measure !== 'entropy' && measure !== 'margin') throw new RangeError(`uncertainty measure must be entropy or margin, got ${String(measure)}`);
  checkRows(rows);
  const items = rows.map((row, index): QueueItem => {
    const top = topTwo(row);
    return { index, score: measure === 'entropy' ? entropy(row) : top.margin, suggested: top.best, probability: top.probability };
  });
  const sign = measure === 'entropy' ? -1 : 1;
  return items.sort((a, b) => sign * (a.score - b.score) || a.index - b.index);
}

/** Softmax of logits, row by row, computed stably (max subtracted). */
export function softmaxRows(logits: readonly ProbabilityRow[]): Float64Array[] {
  return logits.map((row) => {
    let max = -Infinity;
    for (let k = 0; k < row.length; k++) max = Math.max(max, row[k]!);
    const out = new Float64Array(row.length);
    let sum = 0;
    for (let k = 0; k < row.length; k++) sum += out[k] = Math.exp(row[k]! - max);
    for (let k = 0; k < row.length; k++) out[k]! /= sum;
    return out;
  });
}
