/**
 * App state as one rune class: what the engine holds (datasets, weights, runs, models), the
 * backend, settings and the live training run. Lists are `$state.raw`: they are replaced
 * whole from the engine, never mutated in place.
 */
import type {
  BackendInfo,
  DatasetSummary,
  Engine,
  ModelSummary,
  RunSummary,
  StorageInfo,
  TrainConfig,
  TrainOutcome,
  TrainProgress,
  WeightsSummary,
} from '../engine/types';
import type { EpochRecord } from '../../../model/train';
import { applyTrainProgress, emptyLive, type LiveRun } from './live';
import { DEFAULT_SETTINGS, isBackendPreference, loadSettings, saveSetting, type Settings } from './settings';
import { TuneState } from './tune.svelte';

export class AppState {
  backend = $state.raw<BackendInfo | null>(null);
  backendError = $state<string | null>(null);
  datasets = $state.raw<DatasetSummary[]>([]);
  weights = $state.raw<WeightsSummary[]>([]);
  runs = $state.raw<RunSummary[]>([]);
  models = $state.raw<ModelSummary[]>([]);
  storage = $state.raw<StorageInfo | null>(null);
  settings = $state.raw<Settings>({ ...DEFAULT_SETTINGS });
  live = $state.raw<LiveRun | null>(null);
  /** Set while a run trains in this tab; a new app version waits for it. */
  training = $state(false);
  updateReady = $state(false);
  /** `?backend=` in the address, which wins over the saved setting for this visit. */
  backendOverride = $state<string | null>(null);
  message = $state<{ kind: 'error' | 'info'; text: string } | null>(null);
  private trainController: AbortController | null = null;
  /** Hyperparameter studies and the search this tab runs (Tune). */
  readonly tune: TuneState = new TuneState(this);

  constructor(readonly engine: Engine) {}

  activeModel = $derived.by(() => this.models.find((m) => m.id === this.settings.activeModelId) ?? this.models[0] ?? null);
  interruptedRuns = $derived(this.runs.filter((r) => r.status === 'interrupted' || (r.status === 'cancelled' && r.checkpointEpoch < r.config.options.epochs && r.checkpointEpoch > 0)));

  async start(): Promise<void> {
    this.settings = await loadSettings().catch(() => ({ ...DEFAULT_SETTINGS }));
    // `?backend=wasm` overrides the setting for this visit (tests, support).
    const fromUrl = new URLSearchParams(location.search).get('backend');
    this.backendOverride = isBackendPreference(fromUrl) ? fromUrl : null;
    await this.initBackend(isBackendPreference(fromUrl) ? fromUrl : this.settings.backend);
    await this.refresh();
    // Right after a reload the previous page's worker may still hold its run's lock for a
    // moment; look again so an interrupted run is offered for resuming.
    for (let i = 0; i < 5 && !this.training && this.runs.some((r) => r.status === 'running'); i++) {
      await new Promise((r) => setTimeout(r, 1000));
      if (!this.training) this.runs = await this.engine.listRuns();
    }
  }

  async initBackend(preference: Settings['backend']): Promise<void> {
    try {
      this.backendError = null;
      this.backend = await this.engine.init(preference);
    } catch (e) {
      this.backendError = (e as Error).message;
    }
  }

  async setSetting<K extends keyof Settings>(key: K, value: Settings[K]): Promise<void> {
    this.settings = { ...this.settings, [key]: value };
    await saveSetting(key, value);
    if (key === 'backend' && isBackendPreference(value)) await this.initBackend(value);
  }

  async refresh(): Promise<void> {
    const [datasets, weights, runs, models, storage] = await Promise.all([
      this.engine.listDatasets(),
      this.engine.listWeights(),
      this.engine.listRuns(),
      this.engine.listModels(),
      this.engine.storage(),
    ]);
    this.datasets = datasets;
    this.weights = weights;
    this.runs = runs;
    this.models = models;
    this.storage = storage;
  }

  /** Reports a failure in the banner; AbortErrors are the user's own doing and stay quiet. */
  fail(e: unknown): void {
    if ((e as { name?: string })?.name === 'AbortError') return;
    this.message = { kind: 'error', text: (e as Error)?.message ?? String(e) };
  }

  info(text: string): void {
    this.message = { kind: 'info', text };
  }

  async train(config: TrainConfig): Promise<TrainOutcome | null> {
    return this.runTraining(config.options.epochs, (o) => this.engine.train(config, o));
  }

  async resume(run: RunSummary): Promise<TrainOutcome | null> {
    return this.runTraining(run.config.options.epochs, (o) => this.engine.resume(run.id, o), run.history);
  }

  private async runTraining(
    epochs: number,
    go: (o: { signal: AbortSignal; onProgress: (p: TrainProgress) => void }) => Promise<TrainOutcome>,
    history: EpochRecord[] = [],
  ): Promise<TrainOutcome | null> {
    if (this.training) return null;
    this.training = true;
    this.message = null;
    this.trainController = new AbortController();
    this.live = { ...emptyLive(epochs), history };
    void this.refreshRunsSoon();
    try {
      const outcome = await go({
        signal: this.trainController.signal,
        onProgress: (p) => {
          if (this.live) this.live = applyTrainProgress(this.live, p);
          if (p.type === 'backend') this.backend = p.backend;
          if (p.type === 'checkpoint') void this.engine.listRuns().then((runs) => (this.runs = runs));
        },
      });
      // The newest model becomes the one Classify uses. It is listed before the news is told,
      // so a screen opened on "Training finished" already has it.
      if (outcome.model) await this.setSetting('activeModelId', outcome.model.id);
      this.training = false;
      await this.refresh();
      this.info(outcome.run.status === 'done' ? `Training finished: ${outcome.run.name}` : `Training stopped after ${outcome.run.history.length} epoch(s)`);
      return outcome;
    } catch (e) {
      this.fail(e);
      return null;
    } finally {
      this.trainController = null;
      if (this.training) {
        this.training = false;
        await this.refresh();
      }
    }
  }

  private async refreshRunsSoon(): Promise<void> {
    await new Promise((r) => setTimeout(r, 300));
    this.runs = await this.engine.listRuns();
  }

  cancelTraining(): void {
    this.trainController?.abort();
  }
}
