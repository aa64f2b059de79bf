/**
 * What a local run reads and writes besides its flags — the starting weights, the labelled
 * images (and validation images when the data brings them), the run directory — for every
 * command that trains (`train`, `tune`), so they read data and write runs the same way.
 */
import { readFile } from 'node:fs/promises';
import type { DataProblem } from '../model/data/records';
import type { ImageSource } from '../model/data/source';
import { readPth } from '../model/pth';
import type { RunOutcome } from '../model/run/pipeline';
import type { StateDict } from '../model/tensor-data';
import { classesOf, labelledSource, readLocalDataset } from '../node/data';
import { writeModelDir } from '../node/model-store';
import { UsageError } from './errors';

/** Reads `--weights FILE.pth`; a missing or unreadable file is a one-line UsageError. */
export async function readWeightsFlag(file: string): Promise<StateDict> {
  let bytes: Uint8Array;
  try {
    bytes = await readFile(file);
  } catch {
    throw new UsageError(`--weights ${file}: no such file`);
  }
  try {
    return readPth(bytes);
  } catch (e) {
    throw new UsageError(`--weights ${file}: ${(e as Error).message}`);
  }
}

/** The images a run trains on. */
export interface RunData {
  classes: string[];
  pool: ImageSource;
  /** The data's own validation images (an import file's split, or `--val-data`); empty when it has none. */
  validation: ImageSource;
  /** Files that are not usable images, found while listing. */
  problems: DataProblem[];
}

/**
 * Reads `--data` (and `--val-data`, a folder or import file whose labelled images are all for
 * validation). Validation comes from the import file's own split, or `--val-data`, else the
 * run holds out a seeded part of the pool.
 */
export async function readRunData(data: string, options: { valData?: string | undefined; gsRoot?: string | undefined } = {}): Promise<RunData> {
  const ds = await readLocalDataset(data, options.gsRoot);
  const trainRecords = ds.records.filter((r) => r.label !== null && (r.split === 'train' || r.split === 'unassigned' || r.split === 'validation'));
  const classes = classesOf(trainRecords);
  if (classes.length < 2) throw new UsageError(`--data ${data}: found ${classes.length} class folder(s) with images; need at least 2`);
  const { source: pool } = labelledSource(ds, trainRecords.filter((r) => r.split !== 'validation'), classes);
  const problems = [...ds.problems];
  let { source: validation } = labelledSource(ds, trainRecords.filter((r) => r.split === 'validation'), classes);
  if (options.valData) {
    const vds = await readLocalDataset(options.valData, options.gsRoot).catch((e: Error) => {
      throw new UsageError(e.message.replace(/^--data/, '--val-data'));
    });
    const held = labelledSource(vds, vds.records.filter((r) => r.label !== null), classes);
    if (held.source.size === 0) throw new UsageError(`--val-data ${options.valData}: no labelled images of the classes in --data (${classes.join(', ')})`);
    validation = held.source;
    problems.push(...vds.problems, ...held.problems);
  }
  return { classes, pool, validation, problems };
}

/** Writes a run directory: the run's files and `model.pth`, atomically. */
export async function writeRunDir(out: string, run: Pick<RunOutcome, 'files' | 'pth'>): Promise<void> {
  await writeModelDir(out, new Map([...run.files, ['model.pth', run.pth]]));
}
