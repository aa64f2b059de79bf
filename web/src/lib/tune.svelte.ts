/**
 * The Tune screen's state as one rune class, held by the app so a search goes on (and is
 * followed) while the user looks at other screens: the stored studies, the one this tab is
 * running, and the live view of its running trial, folded from the engine's study events.
 */
import type { Budget } from '../../../model/tune';
import type { StudyConfig, StudyProgress, StudySummary } from '../engine/study-types';
import type { AppState } from './app.svelte';

/** What the running trial is doing now. */
export interface LiveTrial {
  trial: number;
  stage: string;
  done: number;
  total: number;
}

export class TuneState {
  studies = $state.raw<StudySummary[]>([]);
  selectedId = $state<string | null>(null);
  /** The study this tab is searching, or null. */
  running = $state<string | null>(null);
  live = $state.raw<LiveTrial | null>(null);
  making = $state(false);
  private controller: AbortController | null = null;

  constructor(private readonly app: AppState) {}

  selected = $derived.by(() => this.studies.find((s) => s.id === this.selectedId) ?? this.studies[0] ?? null);

  async refresh(): Promise<void> {
    this.studies = await this.app.engine.listStudies();
  }

  /**
   * Lists the studies when the screen opens. Right after a reload the previous page's worker
   * may hold a study's lock a moment longer (it reads as running), so look again until it is let go.
   */
  async load(): Promise<void> {
    await this.refresh();
    for (let i = 0; i < 5 && this.running === null && this.studies.some((s) => s.status === 'running'); i++) {
      await new Promise((r) => setTimeout(r, 1000));
      if (this.running === null) await this.refresh();
    }
  }

  /** Stores a new study and starts its search. */
  async create(config: StudyConfig): Promise<void> {
    let study: StudySummary;
    try {
      study = await this.app.engine.createStudy(config);
    } catch (e) {
      this.app.fail(e);
      return;
    }
    this.selectedId = study.id;
    this.replace(study);
    await this.run(study.id);
  }

  /** Runs or continues a study; `budget` replaces its stored budget (e.g. more trials). */
  async run(studyId: string, budget?: Budget): Promise<void> {
    if (this.running !== null) return;
    this.running = studyId;
    this.selectedId = studyId;
    this.app.message = null;
    this.controller = new AbortController();
    try {
      const out = await this.app.engine.runStudy({ studyId, ...(budget && { budget }) }, { signal: this.controller.signal, onProgress: (p) => this.onProgress(p) });
      this.replace(out.study);
      const what = `${out.trialsRun} trial(s) run`;
      if (out.reason === 'budget') this.app.info(`Search finished: ${what}.`);
      else if (out.reason === 'aborted') this.app.info(`Search stopped: ${what}. Continue it any time.`);
      else this.app.fail(new Error(`Search stopped: ${out.study.note ?? 'trials keep failing'}`));
    } catch (e) {
      this.app.fail(e);
    } finally {
      this.running = null;
      this.live = null;
      this.controller = null;
      await this.refresh().catch((e: unknown) => this.app.fail(e));
    }
  }

  stop(): void {
    this.controller?.abort();
  }

  async remove(id: string): Promise<void> {
    try {
      await this.app.engine.deleteStudy(id);
      if (this.selectedId === id) this.selectedId = null;
    } catch (e) {
      this.app.fail(e);
    }
    await this.refresh();
  }

  /** Stores the best trial's model; it shows on the Models screen and becomes the one Classify uses. */
  async makeModel(studyId: string): Promise<void> {
    this.making = true;
    try {
      const model = await this.app.engine.modelFromBestTrial(studyId);
      await this.app.setSetting('activeModelId', model.id);
      this.app.info(`Model “${model.name}” is ready (Models).`);
      await Promise.all([this.app.refresh(), this.refresh()]);
    } catch (e) {
      this.app.fail(e);
    } finally {
      this.making = false;
    }
  }

  private replace(study: StudySummary): void {
    const rest = this.studies.filter((s) => s.id !== study.id);
    this.studies = [study, ...rest].sort((a, b) => b.createdAt - a.createdAt);
  }

  /** Folds one search event into the view. Intermediate values are stored only at a trial's end, so reports are shown as they come. */
  private onProgress(p: StudyProgress): void {
    switch (p.type) {
      case 'saved':
        this.replace(p.study);
        return;
      case 'trial-start':
        this.live = { trial: p.trial, stage: 'starting', done: 0, total: 0 };
        return;
      case 'trial-report': {
        const s = this.studies.find((x) => x.id === this.running);
        const trial = s?.study.trials[p.trial];
        if (!s || !trial || trial.intermediate.some((v) => v.step === p.step)) return;
        const trials = s.study.trials.map((t) => (t === trial ? { ...t, intermediate: [...t.intermediate, { step: p.step, value: p.value }] } : t));
        this.replace({ ...s, study: { ...s.study, trials } });
        return;
      }
      case 'trial-train': {
        const e = p.event;
        if (e.type === 'stage') this.live = { trial: p.trial, stage: 'computing backbone features', done: e.done, total: e.total };
        else if (e.type === 'batch') this.live = { trial: p.trial, stage: `epoch ${e.epoch}`, done: e.batch, total: e.batches };
        return;
      }
      case 'resumed':
        this.app.info(`Continuing: trial(s) ${p.interrupted.join(', ')} were cut off and run again first.`);
        return;
      case 'trial-end':
      case 'done':
        return;
      default: {
        const unhandled: never = p;
        return unhandled;
      }
    }
  }
}
