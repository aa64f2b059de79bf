/**
 * The `--study FILE.json` of `scenelab tune`: read and checked before anything runs, written
 * atomically after every change of a trial's state, and refused when it belongs to another
 * search (space, objective or base run), so resuming never mixes two searches in one file.
 */
import { readFile, rename, writeFile } from 'node:fs/promises';
import type { RunConfig } from '../../model/run/config';
import { parseStudy, serializeStudy, StudyFormatError, type SearchSpace, type Study } from '../../model/tune';
import { UsageError } from '../errors';

/** The run every trial starts from, as the study keeps it (`userAttrs.run`): paths absolute. */
export interface TuneRun {
  data: string;
  valData: string | null;
  gsRoot: string | null;
  weights: string | null;
  config: RunConfig;
}

/** The study in `file`, or null when there is none yet; a file that is not a study is a one-line error. */
export async function readStudyFile(file: string): Promise<Study | null> {
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return null;
    throw new UsageError(`--study ${file}: cannot read it (${(e as NodeJS.ErrnoException).code ?? 'error'})`);
  }
  try {
    return parseStudy(text);
  } catch (e) {
    if (e instanceof StudyFormatError) throw new UsageError(`--study ${file}: ${e.message}`);
    throw e;
  }
}

/** Writes the study beside the file and renames it into place: a kill mid-write leaves the previous version. */
export async function writeStudyFile(file: string, study: Study): Promise<void> {
  const tmp = `${file}.tmp-${process.pid}`;
  await writeFile(tmp, serializeStudy(study) + '\n');
  await rename(tmp, file);
}

/** The base run a study keeps, or null for a study made elsewhere (the app). */
export function studyRun(study: Study): TuneRun | null {
  const run = study.userAttrs?.run as TuneRun | undefined;
  return run && typeof run.data === 'string' && typeof run.config === 'object' ? run : null;
}

const names = (space: SearchSpace): string => Object.keys(space).join(', ');

/** Refuses a study made for another search, naming the first difference. */
export function checkStudyFits(file: string, study: Study, want: { space: SearchSpace; objective: string; run: TuneRun }): void {
  const fail = (what: string): never => {
    throw new UsageError(`--study ${file} belongs to another search: ${what}; give the flags it was started with, or another --study file`);
  };
  if (study.objective !== want.objective) fail(`it optimises ${study.objective}, this command ${want.objective}`);
  if (JSON.stringify(study.space) !== JSON.stringify(want.space)) fail(`it searches ${names(study.space)} over other ranges or choices than this command (${names(want.space)})`);
  const run = studyRun(study);
  if (!run) fail('it keeps no base run (it was not made by scenelab tune)');
  const flat = (r: TuneRun): Record<string, unknown> => ({ data: r.data, valData: r.valData, gsRoot: r.gsRoot, weights: r.weights, arch: r.config.arch, preprocessing: r.config.preprocessing, valSplit: r.config.valSplit, ...r.config.options });
  const had = flat(run!);
  const now = flat(want.run);
  for (const key of new Set([...Object.keys(had), ...Object.keys(now)])) {
    if (JSON.stringify(had[key]) !== JSON.stringify(now[key])) fail(`its trials ran with ${key} ${JSON.stringify(had[key])}, this command gives ${JSON.stringify(now[key])}`);
  }
}
