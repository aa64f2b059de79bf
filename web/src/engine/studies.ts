/**
 * Hyperparameter studies: model/tune's search loop over the app's store. Each trial is one
 * run of the run pipeline with the trial's parameters; its per-epoch validation values go to
 * the pruner. The study is written after every change of a trial's state, so a closed tab
 * loses at most the trial that was running, which runs again first when the study continues.
 * The best trial's trained model is kept beside the study (in the same transaction), so
 * "make a model from the best trial" needs no second training.
 */
import { FeatureStore } from '../../../model/feature-cache';
import { isTrainEvent, runTraining, type RunOutcome } from '../../../model/run/pipeline';
import { bestTrial, createStudy, parseStudy, RUN_OBJECTIVES, runObjective, runStudy, trialRunInput, type Study } from '../../../model/tune';
import { uuid, type EngineContext } from './context';
import { featureCacheLimit, modelSummaryOf, replicaHook, startingWeights, trainingClasses, trainingSources } from './run-inputs';
import type { StudyModelRow, StudyRow } from './store-schema';
import { baseRunConfig, prunerOf, samplerOf, studySpace, validateBudget, validateStudyConfig } from './study-config';
import type { RunStudyRequest, StudyConfig, StudyOutcome, StudyProgress, StudySummary } from './study-types';
import type { CallOptions, ModelSummary, TrainProgress } from './types';

const lockName = (studyId: string): string => `scenelab-study-${studyId}`;

const OBJECTIVE_LABEL = { valAccuracy: 'validation accuracy', valLoss: 'validation loss' } as const;

/** A trial's trained run, waiting for the save after its outcome to be kept if it is the best. */
interface Trained {
  trial: number;
  outcome: RunOutcome;
}

export class Studies {
  /** Studies this engine is searching now (what locks tell across tabs, known here without them). */
  private readonly active = new Set<string>();

  constructor(private readonly ctx: EngineContext) {}

  async createStudy(config: StudyConfig): Promise<StudySummary> {
    validateStudyConfig(config);
    const db = await this.ctx.db();
    const ds = await db.get('datasets', config.datasetId);
    if (!ds) throw new Error('the dataset of this study does not exist; import one or choose another');
    await trainingClasses(db, config.datasetId);
    const validationImages = Object.entries(ds.counts).reduce((n, [label, c]) => n + (label === '' ? 0 : c.validation), 0);
    if ((config.valSplit ?? 0.2) === 0 && validationImages === 0) throw new RangeError('a study measures every trial on validation images: hold some out, or give the dataset a validation split');
    if (config.weightsId !== null) {
      const w = await db.get('weights', config.weightsId);
      if (!w) throw new Error('the pretrained weights of this study do not exist; import them again');
      const other = config.space.arch.find((a) => w.arch !== null && a !== w.arch);
      if (other) throw new RangeError(`the weights ${w.name} are for ${w.arch}, not ${other}: search ${w.arch} only, or start without weights`);
    }
    const now = Date.now();
    const name = config.name?.trim() || `${ds.name}: ${OBJECTIVE_LABEL[config.objective]} (${config.sampler.toUpperCase()})`;
    const study = createStudy({ direction: RUN_OBJECTIVES[config.objective], objective: config.objective, space: studySpace(config.space).space, name, now });
    const row: StudyRow = { id: uuid(), name, datasetId: config.datasetId, config: structuredClone(config), status: 'created', study, note: null, createdAt: now, updatedAt: now, keptTrial: null, modelId: null };
    await this.ctx.write('the study', async () => {
      await db.put('studies', row);
    });
    return row;
  }

  async runStudy(request: RunStudyRequest, options: CallOptions<StudyProgress> = {}): Promise<StudyOutcome> {
    const db = await this.ctx.db();
    const row = await db.get('studies', request.studyId);
    if (!row) throw new Error('this study no longer exists');
    if (request.budget !== undefined) validateBudget(request.budget);
    // Checked and claimed with no await between, so two calls cannot both start the study here.
    if (this.active.has(row.id)) throw new Error('this study is already running');
    this.active.add(row.id);
    try {
      if (((await this.ctx.deps.locks?.held()) ?? []).includes(lockName(row.id))) throw new Error('this study is running in another tab');
      await this.ctx.ensureBackend();
      const go = (): Promise<StudyOutcome> => this.search(row, request, options);
      return await (this.ctx.deps.locks ? this.ctx.deps.locks.request(lockName(row.id), go) : go());
    } finally {
      this.active.delete(row.id);
    }
  }

  private async search(row: StudyRow, request: RunStudyRequest, options: CallOptions<StudyProgress>): Promise<StudyOutcome> {
    const db = await this.ctx.db();
    const study = parseStudy(row.study);
    const config = request.budget ? { ...row.config, budget: request.budget } : row.config;
    const classes = await trainingClasses(db, row.datasetId);
    const { pool, validation } = await trainingSources(this.ctx, db, row.datasetId, classes);
    if (pool.size === 0) throw new Error('the dataset has no labelled training images');
    const weights = await startingWeights(db, config.weightsId);
    const emit = options.onProgress ?? (() => undefined);
    let trained: Trained | null = null;

    const save = async (s: Study, status: StudyRow['status'] = 'running', note: string | null = null): Promise<void> => {
      Object.assign(row, { study: s, config, status, note, updatedAt: Date.now() });
      const best = bestTrial(s);
      const keep = trained && best?.number === trained.trial ? trained : null;
      trained = null;
      // The study and its best model land together: the kept model is always the best trial's.
      await this.ctx.write('the study', async () => {
        const tx = db.transaction(['studies', 'studyModels'], 'readwrite');
        if (keep) {
          const { id: _i, name: _n, createdAt: _c, ...model } = modelSummaryOf(keep.outcome, { name: '', labels: classes, runId: null, datasetId: row.datasetId });
          const kept: StudyModelRow = { studyId: row.id, trial: keep.trial, model, files: keep.outcome.files };
          row.keptTrial = keep.trial;
          void tx.objectStore('studyModels').put(kept);
        }
        void tx.objectStore('studies').put(row);
        await tx.done;
      });
      emit({ type: 'saved', study: this.summary(row, []) });
    };

    const objective = runObjective({
      base: { config: baseRunConfig(config), classes, pool, validation, weights },
      objective: config.objective,
      // One store for the search: head-only trials over the same images and weights extract the backbone features once.
      featureStore: new FeatureStore(featureCacheLimit(this.ctx)),
      featureCacheLimitBytes: featureCacheLimit(this.ctx),
      ...replicaHook(this.ctx),
      onRunEvent: (trial, e) => {
        if (isTrainEvent(e)) emit({ type: 'trial-train', trial, event: e });
      },
      onComplete: (trial, outcome) => {
        trained = { trial, outcome };
      },
    });

    try {
      const result = await runStudy(study, studySpace(config.space).space, objective, {
        sampler: samplerOf(config),
        pruner: prunerOf(config),
        budget: config.budget,
        ...(options.signal && { signal: options.signal }),
        onEvent: emit,
        save: (s) => save(s),
      });
      const lastFailure = study.trials.at(-1)?.failure?.message ?? '';
      const [status, note] =
        result.reason === 'aborted' ? (['stopped', 'stopped; continue to run the rest of the budget'] as const)
        : result.reason === 'budget' ? (['done', null] as const)
        : (['failed', `trials keep failing: ${lastFailure}`] as const);
      await save(study, status, note);
      return { study: this.summary(row, []), reason: result.reason, trialsRun: result.trialsRun };
    } catch (e) {
      // A failed write or a broken study: say so on the study, keep every finished trial.
      await db.put('studies', { ...row, status: 'failed', note: (e as Error).message }).catch(() => undefined);
      throw e;
    }
  }

  /**
   * A model from the study's best complete trial: its kept trained model when there is one,
   * otherwise the best trial's parameters trained again (same seed, same data).
   */
  async modelFromBestTrial(studyId: string, options: CallOptions<TrainProgress> = {}): Promise<ModelSummary> {
    const db = await this.ctx.db();
    const row = await db.get('studies', studyId);
    if (!row) throw new Error('this study no longer exists');
    const best = bestTrial(row.study);
    if (!best) throw new Error('the study has no complete trial yet: run it first');
    const name = `${row.name}, best trial #${best.number}`;
    const kept = await db.get('studyModels', studyId);
    let model: ModelSummary;
    let files: Map<string, Uint8Array>;
    if (kept && kept.trial === best.number) {
      model = { ...kept.model, id: uuid(), name, createdAt: Date.now() };
      files = kept.files;
    } else {
      await this.ctx.ensureBackend();
      const classes = await trainingClasses(db, row.datasetId);
      const { pool, validation } = await trainingSources(this.ctx, db, row.datasetId, classes);
      const base = { config: baseRunConfig(row.config), classes, pool, validation, weights: await startingWeights(db, row.config.weightsId) };
      const outcome = await runTraining(trialRunInput(base, best.params), {
        ...(options.signal && { signal: options.signal }),
        featureCacheLimitBytes: featureCacheLimit(this.ctx),
        ...replicaHook(this.ctx),
        onEvent: (e) => {
          if (isTrainEvent(e)) options.onProgress?.(e);
        },
      });
      if (outcome.result.cancelled) throw new DOMException('cancelled', 'AbortError');
      model = modelSummaryOf(outcome, { name, labels: classes, runId: null, datasetId: row.datasetId });
      files = outcome.files;
    }
    await this.ctx.write('the model of the best trial', async () => {
      const tx = db.transaction(['models', 'studies'], 'readwrite');
      void tx.objectStore('models').put({ ...model, files });
      void tx.objectStore('studies').put({ ...row, modelId: model.id, updatedAt: Date.now() });
      await tx.done;
    });
    return model;
  }

  private async isRunning(id: string): Promise<boolean> {
    return this.active.has(id) || ((await this.ctx.deps.locks?.held()) ?? []).includes(lockName(id));
  }

  /** A stored study as listed: a search nothing runs any more reads as interrupted. */
  private summary(row: StudyRow, held: string[]): StudySummary {
    const live = this.active.has(row.id) || held.includes(lockName(row.id));
    return structuredClone({ ...row, status: row.status === 'running' && !live ? 'interrupted' : row.status });
  }

  async listStudies(): Promise<StudySummary[]> {
    const db = await this.ctx.db();
    const held = (await this.ctx.deps.locks?.held()) ?? [];
    return (await db.getAll('studies')).sort((a, b) => b.createdAt - a.createdAt).map((r) => this.summary(r, held));
  }

  async getStudy(id: string): Promise<StudySummary> {
    const row = await (await this.ctx.db()).get('studies', id);
    if (!row) throw new Error('this study no longer exists');
    return this.summary(row, (await this.ctx.deps.locks?.held()) ?? []);
  }

  async deleteStudy(id: string): Promise<void> {
    if (await this.isRunning(id)) throw new Error('stop the study before deleting it');
    const db = await this.ctx.db();
    const tx = db.transaction(['studies', 'studyModels'], 'readwrite');
    void tx.objectStore('studies').delete(id);
    void tx.objectStore('studyModels').delete(id);
    await tx.done;
  }
}
