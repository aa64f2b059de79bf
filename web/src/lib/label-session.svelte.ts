/**
 * The Label screen's state for one dataset, as one rune class: the class list with its counts,
 * every image's label and source, the model's predictions, and the queue the single-image view
 * walks. Every change goes to the engine first; the screen shows what the engine answered.
 */
import { uncertaintyQueue, type LabelSource, type UncertaintyMeasure } from '../../../model/labels';
import { onLabelsChanged } from '../engine/label-channel';
import type { ClassEdit, LabelEntry, LabelSummary, PredictResult } from '../engine/label-types';
import type { Engine } from '../engine/types';
import { ImagePrefetcher } from './prefetch';

/** The model's view of one image: its most likely class and that probability. */
export interface Guess {
  label: string;
  probability: number;
}

/** Images decoded ahead of the one shown. */
const PREFETCH_AHEAD = 8;

export class LabelSession {
  summary = $state.raw<LabelSummary | null>(null);
  entries = $state.raw<LabelEntry[]>([]);
  /** The model's best guess per image id, from the last prediction. */
  guesses = $state.raw<Map<number, Guess>>(new Map());
  guessModelId = $state<string | null>(null);
  /** Image ids in the order the single view shows them, and where it stands. */
  queue = $state.raw<number[]>([]);
  position = $state(0);
  /** Labels given in this session (the retraining counter reads it). */
  given = $state(0);
  readonly prefetcher: ImagePrefetcher;
  private readonly stopListening: () => void;

  constructor(
    readonly engine: Engine,
    readonly datasetId: string,
  ) {
    this.prefetcher = new ImagePrefetcher(engine, datasetId);
    // Another tab labelled this dataset: show its labels. The announcement of this tab's own
    // step usually finds its version shown already.
    this.stopListening = onLabelsChanged((id, version) => {
      if (id === datasetId && version !== this.summary?.version) void this.catchUp().catch(() => undefined);
    });
  }

  /** Reads summary and labels again when the dataset changed since this session last saw it. */
  async catchUp(): Promise<void> {
    const summary = await this.engine.labelSummary(this.datasetId);
    if (summary.version === this.summary?.version) return;
    this.summary = summary;
    this.entries = await this.engine.labelEntries(this.datasetId);
  }

  /** The summary again (the curve changes when a retrain lands). */
  async refreshSummary(): Promise<void> {
    this.summary = await this.engine.labelSummary(this.datasetId);
  }

  byId = $derived(new Map(this.entries.map((e) => [e.id, e])));
  current = $derived(this.byId.get(this.queue[this.position] ?? -1) ?? null);
  /** The suggestion for the image on screen: the model's guess when it names one of the classes, or one it can add. */
  suggestion = $derived(this.current ? (this.guesses.get(this.current.id) ?? null) : null);

  async load(): Promise<void> {
    const [summary, entries] = await Promise.all([this.engine.labelSummary(this.datasetId), this.engine.labelEntries(this.datasetId)]);
    this.summary = summary;
    this.entries = entries;
    if (this.queue.length === 0) this.queue = entries.filter((e) => e.label === null).map((e) => e.id);
    this.prefetch();
  }

  /** Entries again after a step (labels of many images may have changed: class deletes, undo). */
  private async reloadEntries(summary: LabelSummary): Promise<void> {
    this.summary = summary;
    this.entries = await this.engine.labelEntries(this.datasetId);
  }

  /** Labels images (one step, one undo) and, from the single view, moves on. */
  async label(ids: number[], label: string | null, source: LabelSource = 'person'): Promise<void> {
    if (label !== null && this.summary && !this.summary.classes.includes(label)) await this.editClasses({ op: 'add', datasetId: this.datasetId, name: label });
    const summary = await this.engine.labelImages({ datasetId: this.datasetId, images: ids, label, source });
    this.summary = summary;
    const changed = new Set(ids);
    this.entries = this.entries.map((e) => (changed.has(e.id) ? { ...e, label, source: label === null ? e.source : source } : e));
    if (label !== null) this.given += ids.length;
  }

  /** The single view's step: label the image on screen and show the next one at once. */
  labelCurrent(label: string, source: LabelSource = 'person'): Promise<void> {
    const cur = this.current;
    if (!cur) return Promise.resolve();
    this.move(1);
    return this.label([cur.id], label, source);
  }

  move(delta: number): void {
    this.position = Math.max(0, Math.min(this.queue.length, this.position + delta));
    this.prefetch();
  }

  prefetch(): void {
    const ahead = this.queue.slice(Math.max(0, this.position - 1), this.position + PREFETCH_AHEAD);
    void this.prefetcher.want(ahead).catch(() => undefined);
  }

  async undo(): Promise<void> {
    await this.reloadEntries(await this.engine.undoLabel(this.datasetId));
  }

  async redo(): Promise<void> {
    await this.reloadEntries(await this.engine.redoLabel(this.datasetId));
  }

  async editClasses(edit: ClassEdit): Promise<void> {
    const summary = await this.engine.editClasses(edit);
    if (edit.op === 'add') this.summary = summary;
    else await this.reloadEntries(summary);
  }

  /** The model's guesses for every image, and the unlabelled ones queued least-sure first. */
  async rank(modelId: string, measure: UncertaintyMeasure, options: { signal?: AbortSignal } = {}): Promise<void> {
    const all: PredictResult = await this.engine.predictLabels({ datasetId: this.datasetId, modelId, which: 'all' }, options);
    const c = all.labels.length;
    const rows = all.ids.map((_, i) => all.probabilities.subarray(i * c, (i + 1) * c));
    const guesses = new Map<number, Guess>();
    const unlabelled: number[] = [];
    const unlabelledRows: Float32Array[] = [];
    all.ids.forEach((id, i) => {
      const row = rows[i]!;
      let best = 0;
      for (let k = 1; k < c; k++) if (row[k]! > row[best]!) best = k;
      guesses.set(id, { label: all.labels[best]!, probability: row[best]! });
      if (this.byId.get(id)?.label === null) {
        unlabelled.push(id);
        unlabelledRows.push(row);
      }
    });
    this.guesses = guesses;
    this.guessModelId = modelId;
    this.queue = unlabelledRows.length > 0 ? uncertaintyQueue(unlabelledRows, measure).map((q) => unlabelled[q.index]!) : [];
    this.position = 0;
    this.prefetch();
  }

  dispose(): void {
    this.stopListening();
    this.prefetcher.dispose();
  }
}
