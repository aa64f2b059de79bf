// The active-learning benchmark in miniature, so it keeps running: a few images per class,
// two rounds, one seed. It asserts that every strategy produced its curve and the files were
// written, not what accuracy came out (too few images for that to mean anything).
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { runActiveLearningBenchmark } from '../bench/active-learning/run';

const shared = path.resolve(import.meta.dirname, '../../shared');

describe('active-learning benchmark (tiny)', () => {
  it('runs random and uncertainty orders and writes both curves as JSON and SVG', async () => {
    const out = mkdtempSync(path.join(tmpdir(), 'scenelab-al-'));
    const lines: string[] = [];
    const { result, table, files } = await runActiveLearningBenchmark({
      train: path.join(shared, 'datasets/intel-scenes/train'),
      evaluation: path.join(shared, 'datasets/intel-scenes/test'),
      weights: path.join(shared, 'weights/squeezenet1_1-features-imagenet.pth'),
      perClass: { train: 4, evaluation: 2 },
      initial: 6,
      rounds: 2,
      perRound: 3,
      seeds: [0],
      epochs: 2,
      learningRate: 1e-3,
      batchSize: 8,
      out,
      log: (l) => lines.push(l),
    });
    expect(result.summary.map((s) => s.strategy)).toEqual(['random', 'entropy', 'margin']);
    for (const c of result.curves) {
      expect(c.labels).toEqual([6, 9, 12]);
      expect(c.accuracy).toHaveLength(3);
      for (const a of c.accuracy) expect(a).toBeGreaterThanOrEqual(0);
    }
    expect(table.split('\n')).toHaveLength(2 + 3);
    expect(table).toContain('entropy − random');
    const json = JSON.parse(readFileSync(files[0]!, 'utf8')) as { setup: { pool: { images: number } }; curves: unknown[] };
    expect(json.setup.pool.images).toBe(24);
    expect(json.curves).toHaveLength(3);
    const svg = readFileSync(files[1]!, 'utf8');
    expect(svg.match(/<polyline/g)).toHaveLength(3);
    expect(svg).toContain('>random<');
    expect(svg).toContain('>entropy<');
    expect(lines.some((l) => /backbone features of 24 pool and 12 evaluation images/.test(l))).toBe(true);
    // The runs share one feature store: each labelled image goes through the backbone once, however many rounds, orders and seeds take it.
    const computed = Number(/the runs computed backbone features of (\d+) images/.exec(lines.join('\n'))?.[1]);
    expect(computed).toBeGreaterThanOrEqual(12);
    expect(computed).toBeLessThanOrEqual(24);
  });
});
