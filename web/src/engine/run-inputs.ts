/**
 * What every training the engine starts (a run, a study's trial) reads from the store and
 * what it stores after: the dataset's images as sources, the starting weights, and the model
 * summary of a finished run. Runs and studies both use these, so they read and record alike.
 */
import type { Split } from '../../../model/data/records';
import { readPth } from '../../../model/pth';
import type { RunOutcome } from '../../../model/run/pipeline';
import type { StateDict } from '../../../model/tensor-data';
import { IdbImageSource, uuid, type EngineContext } from './context';
import type { Db } from './store-schema';
import type { ModelSummary } from './types';
import type { StartReplicas } from '../../../model/replicas/pool';

const DEFAULT_FEATURE_LIMIT = 1024 * 2 ** 20;

/** Most bytes of backbone features a frozen run keeps in memory before it recomputes them per batch. */
export function featureCacheLimit(ctx: EngineContext): number {
  return ctx.deps.featureCacheLimit ?? DEFAULT_FEATURE_LIMIT;
}

/** A run's `replicas` hook on the backend in use, as a spreadable object (empty where there are none). */
export function replicaHook(ctx: EngineContext): { replicas?: StartReplicas } {
  const replicas = ctx.deps.replicas?.(ctx.deps.backends.current());
  return replicas ? { replicas } : {};
}

/** The images of a pool whose label a person gave or confirmed (not set by a cloud service). */
async function confirmedOnly(db: Db, ctx: EngineContext, pool: IdbImageSource): Promise<IdbImageSource> {
  const tx = db.transaction('images');
  const rows = await Promise.all(pool.ids.map((id) => tx.store.get(id)));
  const keep = rows.flatMap((row, i) => (row && row.provenance?.source !== 'cloud' ? [i] : []));
  return new IdbImageSource(db, ctx.deps.decoder, keep.map((i) => pool.ids[i]!), Int32Array.from(keep, (i) => pool.label(i)));
}

/**
 * Training sources: labelled train/unassigned images, and the dataset's own validation split
 * when it has one. With `onlyConfirmed`, labels a person gave or confirmed only: cloud labels stay out of the pool.
 */
export async function trainingSources(ctx: EngineContext, db: Db, datasetId: string, classes: string[], onlyConfirmed = false): Promise<{ pool: IdbImageSource; validation: IdbImageSource }> {
  const collect = async (splits: Split[]): Promise<IdbImageSource> => {
    const ids: number[] = [];
    const labels: number[] = [];
    for (const [k, label] of classes.entries()) {
      for (const split of splits) {
        for (const id of await db.getAllKeysFromIndex('images', 'byDatasetSplitLabel', [datasetId, split, label])) {
          ids.push(id);
          labels.push(k);
        }
      }
    }
    return new IdbImageSource(db, ctx.deps.decoder, ids, Int32Array.from(labels));
  };
  const pool = await collect(['train', 'unassigned']);
  return { pool: onlyConfirmed ? await confirmedOnly(db, ctx, pool) : pool, validation: await collect(['validation']) };
}

/** The class names of a dataset, checked to be enough to train on. */
export async function trainingClasses(db: Db, datasetId: string): Promise<string[]> {
  const classes = (await db.get('labels', datasetId))?.classes ?? [];
  if (classes.length < 2) throw new Error(`the dataset has ${classes.length} labelled class(es); training needs at least 2`);
  return classes;
}

/**
 * The stored `.pth` a run starts from, read, or null for random initialisation. Its id goes
 * with it: stored weights never change (a new file gets a new id), so runs sharing a feature
 * store may share backbone features across reads of the same file.
 */
export async function startingWeights(db: Db, weightsId: string | null): Promise<{ name: string; stateDict: StateDict; id: string } | null> {
  if (!weightsId) return null;
  const w = await db.get('weights', weightsId);
  if (!w) throw new Error('the pretrained weights of this run were deleted; import them again');
  return { name: w.name, stateDict: readPth(new Uint8Array(await w.data.arrayBuffer())), id: w.id };
}

/** How a trained run is listed on the Models screen. */
export function modelSummaryOf(outcome: RunOutcome, meta: { name: string; labels: string[]; runId: string | null; datasetId: string | null }): ModelSummary {
  const { files, result, metrics, hyperparameters, preprocessing } = outcome;
  const { split: _s, ...report } = metrics ?? { split: null };
  return {
    id: uuid(),
    name: meta.name,
    arch: hyperparameters.arch,
    labels: meta.labels,
    preprocessing,
    createdAt: Date.now(),
    runId: meta.runId,
    datasetId: meta.datasetId,
    hyperparameters: { ...hyperparameters },
    history: result.history,
    metrics: metrics ? (report as ModelSummary['metrics']) : null,
    metricsSplit: metrics ? 'validation' : null,
    bytes: [...files.values()].reduce((n, f) => n + f.length, 0),
  };
}
