/**
 * What the engine's hyperparameter search takes and gives: a study's configuration (data,
 * weights, which parameters to search and how), its stored summary, and the progress events
 * of a search as it runs. The study itself is model/tune's plain-JSON {@link Study}.
 */
import type { ArchName } from '../../../model/arch/types';
import type { PreprocessingChoice } from '../../../model/run/preprocessing';
import type { TrainEvent } from '../../../model/train';
import type { Budget, RunObjectiveName, StopReason, Study, TuneEvent } from '../../../model/tune';

export type StudySamplerName = 'tpe' | 'random';
export type StudyPrunerName = 'median' | 'halving' | 'none';
/** The metric a study optimises: validation accuracy (maximised) or validation loss (minimised). */
export type StudyObjective = RunObjectiveName;

/**
 * Which values each training option may take. A list with one entry, or a range whose ends
 * are equal, fixes the option for every trial; anything wider is searched (learning rate and
 * weight decay on a log scale).
 */
export interface StudySpaceChoices {
  arch: ArchName[];
  /** `[true]`: head-only trials on the frozen backbone; `[false]`: fine-tune all layers. */
  freeze: boolean[];
  learningRate: { low: number; high: number };
  batchSize: number[];
  epochs: { low: number; high: number };
  optimizer: Array<'adam' | 'sgd'>;
  /** Search weight decay (a switch, then 1e-6…1e-2 on a log scale) rather than train without it. */
  weightDecay: boolean;
  hflip: boolean[];
}

/** A new study: where its trials train and what they search. */
export interface StudyConfig {
  name?: string;
  datasetId: string;
  weightsId: string | null;
  space: StudySpaceChoices;
  sampler: StudySamplerName;
  pruner: StudyPrunerName;
  objective: StudyObjective;
  /** When a search stops: a number of trials in the study, seconds per session, or both. */
  budget: Budget;
  /** Seeds the sampler and every trial's training. */
  seed: number;
  /** Default `auto` (what the weights expect). */
  preprocessing?: PreprocessingChoice;
  /** Held out for validation when the dataset has no validation split; default 0.2. */
  valSplit?: number;
}

/**
 * `running`: a search runs it now; `interrupted`: stored as running but nothing runs it (the
 * tab was closed), so continuing re-queues the trial that was cut off; `stopped`: stopped by
 * the user; `done`: the budget is spent; `failed`: trials kept failing.
 */
export type StudyStatus = 'created' | 'running' | 'interrupted' | 'stopped' | 'done' | 'failed';

export interface StudySummary {
  id: string;
  name: string;
  datasetId: string;
  config: StudyConfig;
  status: StudyStatus;
  /** The search itself: trials, their intermediate values, the queue. */
  study: Study;
  /** Why the last search stopped, in words, or null. */
  note: string | null;
  createdAt: number;
  updatedAt: number;
  /** The trial whose trained model is kept to become a model without training again. */
  keptTrial: number | null;
  /** The model made from the best trial, when one was made. */
  modelId: string | null;
}

/** Continues (or starts) a study's search; `budget` replaces the stored one for this and later searches. */
export interface RunStudyRequest {
  studyId: string;
  budget?: Budget;
}

export interface StudyOutcome {
  study: StudySummary;
  reason: StopReason;
  trialsRun: number;
}

/**
 * Progress of a search: model/tune's events, each trial's training events, and the stored
 * study after every change of a trial's state (so a view never has to ask for it).
 */
export type StudyProgress = TuneEvent | { type: 'trial-train'; trial: number; event: TrainEvent } | { type: 'saved'; study: StudySummary };
