/**
 * What `scenelab tune` works out from its flags before any trial runs: the sampler, the
 * pruner, the objective, the search space and the base run — or, given only `--study`, the
 * ones the study keeps. Every check happens here, so bad input changes nothing.
 */
import path from 'node:path';
import { ClassifierModel } from '../../model/model';
import type { ArchName } from '../../model/arch/types';
import { splitRun, type RunInput } from '../../model/run/pipeline';
import {
  createStudy,
  MedianPruner,
  NopPruner,
  RandomSampler,
  RUN_OBJECTIVES,
  SuccessiveHalvingPruner,
  TpeSampler,
  type Pruner,
  type RunObjectiveName,
  type Sampler,
  type SearchSpace,
  type Study,
} from '../../model/tune';
import { UsageError } from '../errors';
import { readRunData, readWeightsFlag } from '../run-input';
import { RUN_FLAGS, runConfigFromFlags } from '../run-options';
import { paramsFixedByFlags, readSpaceFile, searchSpace } from './space';
import { checkStudyFits, readStudyFile, studyRun, type TuneRun } from './study-store';

export const OBJECTIVE_FLAGS: Record<string, RunObjectiveName> = { 'val-accuracy': 'valAccuracy', 'val-loss': 'valLoss' };

export function makeSampler(name: string | undefined, seed: number): Sampler {
  if (name === undefined || name === 'tpe') return new TpeSampler({ seed });
  if (name === 'random') return new RandomSampler({ seed });
  throw new UsageError(`--sampler must be tpe or random, got "${name}"`);
}

export function makePruner(name: string | undefined): Pruner {
  if (name === undefined || name === 'median') return new MedianPruner();
  if (name === 'halving') return new SuccessiveHalvingPruner();
  if (name === 'none') return new NopPruner();
  throw new UsageError(`--pruner must be median, halving or none, got "${name}"`);
}

type Flags = Record<string, string | boolean | undefined>;

/** The search a command describes: the study (loaded or new, not yet written), its space and base run. */
export interface TuneSetup {
  study: Study;
  /** Whether the study came from the file (false: a new one, written when its first trial starts). */
  existing: boolean;
  space: SearchSpace;
  objective: RunObjectiveName;
  run: TuneRun;
}

/** Reads `--study` and reconciles it with the flags: a new study, the same search resumed, or a refusal. */
export async function tuneSetup(file: string, v: Flags): Promise<TuneSetup> {
  const stored = await readStudyFile(file);
  if (!v.data) {
    // Without --data the study's own search goes on (or its best trial is written).
    if (!stored) throw new UsageError(`--data is required to start a study (${file} does not exist yet)`);
    const given = [...Object.keys(RUN_FLAGS), 'val-data', 'space', 'objective'].filter((f) => v[f] !== undefined && v[f] !== false);
    if (given.length > 0) throw new UsageError(`--${given[0]} needs --data: without it, the study continues with the flags it was started with`);
    const run = studyRun(stored);
    if (!run) throw new UsageError(`--study ${file} keeps no base run (it was not made by scenelab tune): give --data and the run flags`);
    if (!Object.hasOwn(RUN_OBJECTIVES, stored.objective)) throw new UsageError(`--study ${file} optimises ${stored.objective}, which scenelab tune does not compute`);
    return { study: stored, existing: true, space: stored.space, objective: stored.objective as RunObjectiveName, run };
  }
  const objective = OBJECTIVE_FLAGS[(v.objective as string | undefined) ?? 'val-accuracy'];
  if (!objective) throw new UsageError(`--objective must be ${Object.keys(OBJECTIVE_FLAGS).join(' or ')}, got "${String(v.objective)}"`);
  // The architecture is a searched parameter unless --arch fixes it; a trial's choice replaces this one.
  const config = runConfigFromFlags({ ...v, arch: (v.arch as string | undefined) ?? 'squeezenet1_1' });
  const space = searchSpace(v.space ? await readSpaceFile(v.space as string) : null, paramsFixedByFlags(v));
  const abs = (p: unknown): string | null => (typeof p === 'string' ? path.resolve(p) : null);
  const run: TuneRun = { data: abs(v.data)!, valData: abs(v['val-data']), gsRoot: abs(v['gs-root']), weights: abs(v.weights), config };
  if (stored) {
    checkStudyFits(file, stored, { space, objective, run });
    return { study: stored, existing: true, space, objective, run };
  }
  const name = path.basename(file).replace(/\.json$/i, '');
  const study = createStudy({ direction: RUN_OBJECTIVES[objective], objective, space, name });
  study.userAttrs = { run };
  return { study, existing: false, space, objective, run };
}

/** Reads the base run's data and weights, and checks that trials can run on them at all. */
export async function loadBaseRun(run: TuneRun, space: SearchSpace): Promise<RunInput> {
  const weights = run.weights ? await readWeightsFlag(run.weights) : null;
  const data = await readRunData(run.data, { valData: run.valData ?? undefined, gsRoot: run.gsRoot ?? undefined });
  for (const p of data.problems) process.stderr.write(`skipped ${p.source}: ${p.reason}\n`);
  const input: RunInput = { config: run.config, classes: data.classes, pool: data.pool, validation: data.validation, weights: weights && { name: run.weights!, stateDict: weights } };
  if (!splitRun(input).val) throw new UsageError('trials are scored on validation images: give --val-data, or a --val-split above 0 that holds out at least one image');
  const archs = space.arch?.type === 'categorical' ? (space.arch.choices as ArchName[]) : [run.config.arch];
  if (weights) {
    for (const arch of archs) {
      const model = ClassifierModel.create({ arch, numClasses: data.classes.length });
      try {
        model.loadStateDict(weights);
      } catch (e) {
        throw new UsageError(`--weights ${run.weights} cannot start a ${arch} trial (${(e as Error).message}); fix --arch or search other architectures`);
      } finally {
        model.dispose();
      }
    }
  }
  return input;
}
