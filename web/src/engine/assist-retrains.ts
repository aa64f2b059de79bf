/**
 * What the engine keeps for labelling-assist retrains (runs whose config has `assist`): one
 * FeatureStore for the dataset being labelled, so a retrain after N new labels computes the
 * backbone for those N images only; and, when a retrain's model lands, the dataset's curve point
 * and the removal of the assist runs and models it supersedes — in the transaction that stores
 * the new model. A model the user made, or kept (`keepModel`), is never removed.
 */
import { FeatureStore } from '../../../model/feature-cache';
import type { EngineContext } from './context';
import type { LabelCurvePoint } from './label-types';
import { featureCacheLimit } from './run-inputs';
import { lockName } from './runs';
import type { Db, ModelRow, RunRow } from './store-schema';
import type { TrainConfig } from './types';

/** Curve points kept per dataset (the oldest go first). */
const CURVE_LIMIT = 500;

export class AssistRetrains {
  /** The features of one dataset's retrains, and what they depend on besides each image. */
  private features: { key: string; datasetId: string; weightsId: string | null; store: FeatureStore } | null = null;

  constructor(private readonly ctx: EngineContext) {}

  /** The store a retrain of `config` shares: the current one when dataset, weights, architecture and preprocessing match, else a fresh one in its place. */
  featureStore(config: TrainConfig): FeatureStore {
    const key = JSON.stringify([config.datasetId, config.weightsId, config.arch, config.preprocessing]);
    if (this.features?.key !== key) this.features = { key, datasetId: config.datasetId, weightsId: config.weightsId, store: new FeatureStore(featureCacheLimit(this.ctx)) };
    return this.features.store;
  }

  /** Drops the kept features when their dataset or weights are deleted. */
  forget(which: { datasetId?: string; weightsId?: string }): void {
    const f = this.features;
    if (f && (f.datasetId === which.datasetId || (which.weightsId !== undefined && f.weightsId === which.weightsId))) this.features = null;
  }

  /** Backbone images the kept store holds (for tests and diagnostics). */
  get storedImages(): number {
    return this.features?.store.size ?? 0;
  }

  /**
   * Stores a retrain's model as the dataset's assist model, in one transaction: the model, the
   * curve point, and the removal of superseded assist models with their runs and checkpoints.
   * Returns the ids of the models removed.
   */
  async land(db: Db, run: RunRow, model: ModelRow, point: LabelCurvePoint): Promise<string[]> {
    // Read before the transaction (it would commit while waiting on anything but IndexedDB).
    const held = this.ctx.deps.locks ? await this.ctx.deps.locks.held() : null;
    const tx = db.transaction(['models', 'runs', 'checkpoints', 'datasets'], 'readwrite');
    const models = tx.objectStore('models');
    const runs = tx.objectStore('runs');
    const removed: string[] = [];
    for (const m of await models.getAll()) {
      if (m.assist === true && m.datasetId === model.datasetId && m.id !== model.id) {
        removed.push(m.id);
        void models.delete(m.id);
      }
    }
    const gone = new Set(removed);
    for (const r of await runs.getAll()) {
      if (!isSuperseded(r, run, held) || (r.modelId !== null && !gone.has(r.modelId) && (await models.get(r.modelId)) !== undefined)) continue;
      void runs.delete(r.id);
      void tx.objectStore('checkpoints').delete(r.id);
    }
    void models.put(model);
    const ds = await tx.objectStore('datasets').get(run.datasetId);
    if (ds) {
      ds.labelCurve = [...(ds.labelCurve ?? []), point].slice(-CURVE_LIMIT);
      void tx.objectStore('datasets').put(ds);
    }
    await tx.done;
    if (this.ctx.loaded && gone.has(this.ctx.loaded.id)) this.ctx.unloadModel();
    return removed;
  }
}

/**
 * An earlier assist run of the same dataset that no longer trains: finished, or left 'running' by
 * a closed tab (no one holds its lock). Without locks to ask, a running one may be another tab's.
 */
function isSuperseded(r: RunRow, current: RunRow, held: string[] | null): boolean {
  const training = r.status === 'running' && (held === null || held.includes(lockName(r.id)));
  return r.id !== current.id && r.datasetId === current.datasetId && r.config.assist !== undefined && !training;
}
