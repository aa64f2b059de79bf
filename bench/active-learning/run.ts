/**
 * The active-learning benchmark end to end on Node: reads the Intel scenes folders through the
 * Node adapters, runs {@link runActiveLearning}, and writes the result as JSON and an SVG chart.
 */
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import type { ImageRecord } from '../../model/data/records';
import { readPth } from '../../model/pth';
import { Rng } from '../../model/rng';
import { initNodeBackend } from '../../node/backend';
import { classesOf, labelledSource, readLocalDataset } from '../../node/data';
import { runActiveLearning, type ActiveLearningOptions, type ActiveLearningResult } from './experiment';
import { resultSvg, resultTable } from './report';

export interface BenchmarkOptions extends Pick<ActiveLearningOptions, 'initial' | 'rounds' | 'perRound' | 'seeds' | 'epochs' | 'learningRate' | 'batchSize' | 'log' | 'strategies'> {
  /** Folder of `<class>/<file>` images: the pool. */
  train: string;
  /** Folder of `<class>/<file>` images: the fixed evaluation set. */
  evaluation: string;
  weights: string;
  /** Use at most this many images per class from each folder (a seeded choice); all when absent. */
  perClass?: { train: number; evaluation: number };
  /** Where `active-learning.json` and `active-learning.svg` go. */
  out: string;
}

/** At most `n` records of each class, chosen with a fixed seed, in their original order. */
function perClassSample(records: readonly ImageRecord[], n: number): ImageRecord[] {
  const order = new Rng(12345).permutation(records.length);
  const count = new Map<string, number>();
  const keep = new Set<number>();
  for (const i of order) {
    const c = records[i]!.label!;
    if ((count.get(c) ?? 0) < n) {
      count.set(c, (count.get(c) ?? 0) + 1);
      keep.add(i);
    }
  }
  return records.filter((_, i) => keep.has(i));
}

/** Runs the benchmark and writes its files; returns the result and the table printed. */
export async function runActiveLearningBenchmark(o: BenchmarkOptions): Promise<{ result: ActiveLearningResult; table: string; files: string[] }> {
  await initNodeBackend('wasm');
  const [trainSet, evalSet] = await Promise.all([readLocalDataset(o.train), readLocalDataset(o.evaluation)]);
  const labelled = (rs: ImageRecord[]): ImageRecord[] => rs.filter((r) => r.label !== null);
  const trainRecords = o.perClass ? perClassSample(labelled(trainSet.records), o.perClass.train) : labelled(trainSet.records);
  const evalRecords = o.perClass ? perClassSample(labelled(evalSet.records), o.perClass.evaluation) : labelled(evalSet.records);
  const classes = classesOf(trainRecords);
  const pool = labelledSource(trainSet, trainRecords, classes);
  const evaluation = labelledSource(evalSet, evalRecords, classes);
  if (pool.problems.length + evaluation.problems.length > 0) throw new Error([...pool.problems, ...evaluation.problems].map((p) => `${p.source}: ${p.reason}`).join('\n'));
  const stateDict = readPth(await readFile(o.weights));
  const result = await runActiveLearning({ ...o, pool: pool.source, evaluation: evaluation.source, classes, weights: { name: path.basename(o.weights), stateDict } });
  const table = resultTable(result);
  await mkdir(o.out, { recursive: true });
  const json = path.join(o.out, 'active-learning.json');
  const svg = path.join(o.out, 'active-learning.svg');
  const setup = {
    pool: { folder: o.train, images: pool.source.size },
    evaluation: { folder: o.evaluation, images: evaluation.source.size },
    classes,
    weights: path.basename(o.weights),
    initial: o.initial,
    rounds: o.rounds,
    perRound: o.perRound,
    seeds: o.seeds,
    head: { epochs: o.epochs, learningRate: o.learningRate, batchSize: o.batchSize, optimizer: 'adam', hflip: false },
  };
  await writeFile(json, JSON.stringify({ setup, ...result }, null, 2) + '\n');
  await writeFile(svg, resultSvg(result, `Head-only SqueezeNet 1.1, ${classes.length} classes, mean of ${o.seeds.length} seed${o.seeds.length === 1 ? '' : 's'}`));
  return { result, table, files: [json, svg] };
}
