/**
 * Training runs: start, resume after a closed tab (from the last checkpoint), and carry on on
 * the next backend when the GPU is lost. Every run trains through model/run/pipeline.ts; this
 * part adds what the app needs around it: IndexedDB checkpoints, Web Locks, the model store.
 */
import { isTrainEvent, runTraining } from '../../../model/run/pipeline';
import type { TrainCheckpoint } from '../../../model/train';
import type { AssistRetrains } from './assist-retrains';
import { uuid, type EngineContext } from './context';
import { featureCacheLimit, modelSummaryOf, replicaHook, startingWeights, trainingClasses, trainingSources } from './run-inputs';
import type { RunRow } from './store-schema';
import { DeviceLostError } from './errors';
import {
  type BackendName,
  type CallOptions,
  type RunSummary,
  type TrainConfig,
  type TrainOutcome,
  type TrainProgress,
} from './types';

/** The Web Lock a run holds while it trains (its absence marks a run a closed tab left 'running'). */
export const lockName = (runId: string): string => `scenelab-run-${runId}`;

export class Runs {
  private deviceLost: string | null = null;
  private readonly lostControllers = new Set<AbortController>();

  constructor(
    private readonly ctx: EngineContext,
    private readonly assist: AssistRetrains,
  ) {
    ctx.deps.backends.onDeviceLost((reason) => {
      this.deviceLost = reason;
      for (const c of this.lostControllers) c.abort(new DeviceLostError(reason));
    });
  }

  async train(config: TrainConfig, options: CallOptions<TrainProgress> = {}): Promise<TrainOutcome> {
    const db = await this.ctx.db();
    const backend = await this.ctx.ensureBackend();
    const ds = await db.get('datasets', config.datasetId);
    if (!ds) throw new Error('the dataset of this run no longer exists');
    const now = Date.now();
    const run: RunRow = {
      id: uuid(),
      name: config.name ?? `${config.arch} on ${ds.name}, ${config.options.freeze ? 'head only' : 'all layers'}, ${config.options.epochs} epochs`,
      datasetId: config.datasetId,
      config,
      status: 'running',
      history: [],
      checkpointEpoch: 0,
      createdAt: now,
      updatedAt: now,
      modelId: null,
      error: null,
      backend: backend.name,
    };
    await this.ctx.write('the training run', async () => {
      await db.put('runs', run);
    });
    return this.execute(run, null, options);
  }

  async resume(runId: string, options: CallOptions<TrainProgress> = {}): Promise<TrainOutcome> {
    const db = await this.ctx.db();
    await this.ctx.ensureBackend();
    const run = await db.get('runs', runId);
    if (!run) throw new Error(`no run ${runId}`);
    if (run.status === 'done') throw new Error('this run has finished; start a new one');
    const held = (await this.ctx.deps.locks?.held()) ?? [];
    if (held.includes(lockName(runId))) throw new Error('this run is training in another tab');
    const ckpt = (await db.get('checkpoints', runId)) ?? null;
    run.status = 'running';
    run.error = null;
    await db.put('runs', run);
    return this.execute(run, ckpt, options);
  }

  private async execute(run: RunRow, checkpoint: TrainCheckpoint | null, options: CallOptions<TrainProgress>): Promise<TrainOutcome> {
    const go = async (): Promise<TrainOutcome> => {
      const excluded: BackendName[] = [];
      let resumeFrom = checkpoint;
      for (;;) {
        try {
          return await this.attempt(run, resumeFrom, options);
        } catch (e) {
          const lost = this.deviceLost;
          if (lost === null || options.signal?.aborted) {
            await this.finishRun(run, 'failed', null, (e as Error).message);
            throw e;
          }
          // The GPU went away: continue on the next backend from the last durable checkpoint.
          this.deviceLost = null;
          this.ctx.unloadModel();
          const failed = this.ctx.deps.backends.current()?.name;
          if (failed) excluded.push(failed);
          const info = await this.ctx.deps.backends.select(this.ctx.preference === 'auto' ? 'auto' : this.ctx.preference, excluded);
          options.onProgress?.({ type: 'backend', backend: info, reason: `${lost}; continuing on ${info.name} from the last checkpoint` });
          resumeFrom = (await (await this.ctx.db()).get('checkpoints', run.id)) ?? null;
          run.backend = info.name;
        }
      }
    };
    return this.ctx.deps.locks ? this.ctx.deps.locks.request(lockName(run.id), go) : go();
  }

  private async attempt(run: RunRow, checkpoint: TrainCheckpoint | null, options: CallOptions<TrainProgress>): Promise<TrainOutcome> {
    const db = await this.ctx.db();
    const { config } = run;
    const classes = await trainingClasses(db, config.datasetId);
    const { pool, validation } = await trainingSources(this.ctx, db, config.datasetId, classes, config.confirmedOnly);
    if (pool.size === 0) throw new Error('the dataset has no labelled training images');
    const weights = await startingWeights(db, config.weightsId);
    const lostController = new AbortController();
    this.lostControllers.add(lostController);
    const signal = options.signal ? AbortSignal.any([options.signal, lostController.signal]) : lostController.signal;
    try {
      options.onProgress?.({ type: 'run', runId: run.id, resumedFromEpoch: checkpoint?.epoch ?? 0 });
      const outcome = await runTraining(
        { config, classes, pool, validation, weights },
        {
          signal,
          ...replicaHook(this.ctx),
          // Labelling-assist retrains share the dataset's backbone features: each computes only the images it adds.
          ...(config.assist && { featureStore: this.assist.featureStore(config) }),
          onEvent: (e) => {
            // Kept on the run row, saved with its next checkpoint or its end.
            if (e.type === 'threads') run.threads = e.threads;
            if (isTrainEvent(e)) options.onProgress?.(e);
          },
          // Past this, a frozen run recomputes backbone features per batch instead of caching them.
          featureCacheLimitBytes: featureCacheLimit(this.ctx),
          ...(checkpoint && { resume: checkpoint }),
          onCheckpoint: async (c) => {
            // One transaction: the checkpoint and the run's progress land together or not at all.
            run.history = c.history;
            run.checkpointEpoch = c.epoch;
            run.updatedAt = Date.now();
            await this.ctx.write(`the checkpoint of epoch ${c.epoch}`, async () => {
              const tx = db.transaction(['runs', 'checkpoints'], 'readwrite');
              void tx.objectStore('checkpoints').put({ ...c, runId: run.id, savedAt: Date.now() });
              void tx.objectStore('runs').put(run);
              await tx.done;
            });
            options.onProgress?.({ type: 'checkpoint', epoch: c.epoch });
          },
        },
      );
      if (this.deviceLost !== null) throw new DeviceLostError(this.deviceLost);
      const { files, result } = outcome;
      run.history = result.history;
      if (result.history.length === 0) {
        await this.finishRun(run, 'cancelled', null, null);
        return { run: this.runSummary(run, []), model: null };
      }
      const summary = modelSummaryOf(outcome, { name: run.name, labels: classes, runId: run.id, datasetId: config.datasetId });
      const assist = config.assist;
      if (assist) summary.assist = true;
      await this.ctx.write('the trained model', async () => {
        if (assist) await this.assist.land(db, run, { ...summary, files }, { labels: assist.labels, accuracy: summary.metrics?.accuracy ?? null, at: Date.now() });
        else await db.put('models', { ...summary, files });
      });
      await this.finishRun(run, result.cancelled ? 'cancelled' : 'done', summary.id, null);
      return { run: this.runSummary(run, []), model: summary };
    } finally {
      this.lostControllers.delete(lostController);
    }
  }

  private async finishRun(run: RunRow, status: RunRow['status'], modelId: string | null, error: string | null): Promise<void> {
    run.status = status;
    run.modelId = modelId ?? run.modelId;
    run.error = error;
    run.updatedAt = Date.now();
    await (await this.ctx.db()).put('runs', run).catch(() => undefined);
  }

  private runSummary(run: RunRow, held: string[]): RunSummary {
    const interrupted = run.status === 'running' && !held.includes(lockName(run.id)) && this.ctx.deps.locks !== undefined;
    return { ...run, status: interrupted ? 'interrupted' : run.status };
  }

  async listRuns(): Promise<RunSummary[]> {
    const db = await this.ctx.db();
    const held = (await this.ctx.deps.locks?.held()) ?? [];
    return (await db.getAll('runs')).sort((a, b) => b.createdAt - a.createdAt).map((r) => this.runSummary(r, held));
  }

  async deleteRun(id: string): Promise<void> {
    const db = await this.ctx.db();
    const tx = db.transaction(['runs', 'checkpoints'], 'readwrite');
    void tx.objectStore('runs').delete(id);
    void tx.objectStore('checkpoints').delete(id);
    await tx.done;
  }
}
