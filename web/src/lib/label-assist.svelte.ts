/**
 * The model in the labelling loop: after every N new labels, the head is retrained in the
 * background on the dataset's confirmed labels (the one run pipeline, head only; the engine
 * keeps the dataset's backbone features per image, so a retrain computes them only for the
 * images labelled since), the queue is re-ranked by the new model, and its validation accuracy
 * is plotted against the number of labels. The engine stores each point with the dataset (the
 * curve survives a reload) and replaces the previous retrain's model unless the user kept it.
 */
import type { UncertaintyMeasure } from '../../../model/labels';
import { DEFAULT_TRAIN_OPTIONS } from '../../../model/train';
import type { LabelCurvePoint } from '../engine/label-types';
import type { Engine, ModelSummary, RunSummary, TrainConfig, WeightsSummary } from '../engine/types';
import type { LabelSession } from './label-session.svelte';

/** One retraining: how many labels it learnt from and the validation accuracy it reached. */
export type CurvePoint = Pick<LabelCurvePoint, 'labels' | 'accuracy'>;

/** The run a retraining makes: the current model's architecture and preprocessing, the weights it started from. */
export function retrainConfig(datasetId: string, model: ModelSummary, weightsId: string, labels: number): TrainConfig {
  return {
    datasetId,
    weightsId,
    name: `Labelling: ${model.arch} head on ${labels} labels`,
    arch: model.arch,
    preprocessing: model.preprocessing,
    // Few labels: a fifth held out still scores the model on a handful of images.
    valSplit: 0.2,
    confirmedOnly: true,
    assist: { labels },
    options: { ...DEFAULT_TRAIN_OPTIONS, freeze: true, epochs: 8, batchSize: 16, learningRate: 3e-3, hflip: true, seed: 1 },
  };
}

/** The `.pth` a model's run started from, else one for its architecture. */
export function weightsFor(model: ModelSummary, runs: readonly RunSummary[], weights: readonly WeightsSummary[]): string | null {
  const fromRun = runs.find((r) => r.id === model.runId)?.config.weightsId;
  if (fromRun && weights.some((w) => w.id === fromRun)) return fromRun;
  return weights.find((w) => w.arch === model.arch)?.id ?? null;
}

export class LabelAssist {
  modelId = $state<string | null>(null);
  measure = $state<UncertaintyMeasure>('entropy');
  /** Retrain after this many new labels (0: never). */
  every = $state(20);
  status = $state<string>('');
  busy = $state(false);
  private sinceTrain = 0;
  private lastGiven = 0;
  private controller: AbortController | null = null;

  constructor(
    private readonly engine: Engine,
    private readonly session: LabelSession,
    private readonly context: () => { models: ModelSummary[]; runs: RunSummary[]; weights: WeightsSummary[] },
    private readonly onModel: (model: ModelSummary) => void,
  ) {}

  /** The dataset's curve, as the engine stores it with the labels. */
  get curve(): CurvePoint[] {
    return this.session.summary?.curve ?? [];
  }

  /** Ranks the queue by the chosen model. */
  async rank(): Promise<void> {
    if (!this.modelId) return;
    this.busy = true;
    this.status = 'Ranking the unlabelled images…';
    try {
      await this.session.rank(this.modelId, this.measure);
      this.status = `Ranked ${this.session.queue.length} unlabelled images by ${this.measure}.`;
    } finally {
      this.busy = false;
    }
  }

  /** Called after labels are given: retrains once N new ones have come in since the last time. */
  noteLabels(): void {
    const given = this.session.given;
    this.sinceTrain += given - this.lastGiven;
    this.lastGiven = given;
    if (this.every > 0 && this.sinceTrain >= this.every && !this.busy && this.modelId) void this.retrain();
  }

  async retrain(): Promise<void> {
    const { models, runs, weights } = this.context();
    const model = models.find((m) => m.id === this.modelId);
    const summary = this.session.summary;
    if (!model || !summary) return;
    const weightsId = weightsFor(model, runs, weights);
    if (!weightsId) {
      this.status = `Retraining needs the ${model.arch} weights: import a .pth on the Weights screen.`;
      return;
    }
    const labels = summary.imageCount - summary.unlabelled;
    this.sinceTrain = 0;
    this.busy = true;
    this.controller = new AbortController();
    this.status = `Retraining the head on ${labels} labels in the background…`;
    try {
      const outcome = await this.engine.train(retrainConfig(summary.datasetId, model, weightsId, labels), { signal: this.controller.signal });
      if (!outcome.model) {
        this.status = 'Retraining stopped.';
        return;
      }
      // The new point is stored with the dataset; the summary brings it.
      await this.session.refreshSummary();
      this.onModel(outcome.model);
      this.modelId = outcome.model.id;
      this.status = 'Re-ranking by the new model…';
      await this.session.rank(outcome.model.id, this.measure);
      const acc = outcome.model.metrics?.accuracy;
      this.status = `Retrained on ${labels} labels${acc === undefined ? '' : ` (validation accuracy ${(acc * 100).toFixed(0)}%)`}; queue re-ranked.`;
    } catch (e) {
      this.status = `Retraining failed: ${(e as Error).message}`;
    } finally {
      this.busy = false;
      this.controller = null;
    }
  }

  /** Keeps the current assist model: the next retrain no longer replaces it. */
  async keep(): Promise<void> {
    if (!this.modelId) return;
    const kept = await this.engine.keepModel(this.modelId);
    this.onModel(kept);
    this.status = `Kept "${kept.name}": later retrains leave it in place.`;
  }

  stop(): void {
    this.controller?.abort();
  }
}
