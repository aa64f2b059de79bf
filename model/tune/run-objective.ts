/**
 * A trial as a SceneLab run: the trial's parameters on top of a base run, trained by the one
 * pipeline ({@link runTraining}), each epoch's validation value reported to the pruner, and a
 * pruned trial stopped between epochs. Frozen-backbone trials share one {@link FeatureStore},
 * so a head-only search extracts the backbone features once.
 */
import type { FeatureStore } from '../feature-cache';
import type { StartReplicas } from '../replicas/pool';
import { runTraining, type RunEvent, type RunInput, type RunOutcome } from '../run/pipeline';
import type { Params, SearchSpace } from './distributions';
import { TrialPruned, type Objective } from './runner';
import { trialRunOverrides } from './scenelab-space';
import type { Direction } from './study';

/** What a search over runs can optimise: the validation accuracy or loss of the weights the run ends with. */
export const RUN_OBJECTIVES = { valAccuracy: 'maximize', valLoss: 'minimize' } as const satisfies Record<string, Direction>;

export type RunObjectiveName = keyof typeof RUN_OBJECTIVES;

/** Whether a study's `objective` is one {@link runObjective} computes. */
export function isRunObjective(name: string): name is RunObjectiveName {
  return Object.hasOwn(RUN_OBJECTIVES, name);
}

/** The run a trial trains: the base run with the trial's architecture and training options. */
export function trialRunInput(base: RunInput, params: Params): RunInput {
  const { arch, options } = trialRunOverrides(params);
  return { ...base, config: { ...base.config, arch: arch ?? base.config.arch, options: { ...base.config.options, ...options } } };
}

export interface RunObjectiveOptions {
  /** Data, weights and the options no parameter sets. It must hold validation images (its own or a hold-out). */
  base: RunInput;
  objective: RunObjectiveName;
  /** Shared by every trial; frozen trials over the same images and weights reuse each other's features. */
  featureStore?: FeatureStore;
  featureCacheLimitBytes?: number;
  /** Replicas of each trial's model on other threads (see `TrainHooks.replicas`). */
  replicas?: StartReplicas;
  /** Every event of a trial's run (progress displays). */
  onRunEvent?: (trial: number, event: RunEvent) => void;
  /** A complete trial's run, with its value (e.g. to keep the best one's files). */
  onComplete?: (trial: number, outcome: RunOutcome, value: number) => void;
}

/**
 * The objective of a search over SceneLab runs. Its value is the validation metric of the
 * epoch whose weights the run ends with (the last, or the best one under early stopping).
 */
export function runObjective(o: RunObjectiveOptions): Objective<SearchSpace> {
  const key = o.objective;
  return async (params, trial) => {
    // The trial's own signal: aborted to prune it, or when the whole search is stopped.
    const stop = new AbortController();
    const onStop = (): void => stop.abort();
    if (trial.signal?.aborted) stop.abort();
    trial.signal?.addEventListener('abort', onStop, { once: true });
    let prunedAt: number | null = null;
    try {
      const outcome = await runTraining(trialRunInput(o.base, params), {
        signal: stop.signal,
        ...(o.featureStore && { featureStore: o.featureStore }),
        ...(o.featureCacheLimitBytes !== undefined && { featureCacheLimitBytes: o.featureCacheLimitBytes }),
        ...(o.replicas && { replicas: o.replicas }),
        onEvent: (e) => {
          o.onRunEvent?.(trial.number, e);
          if (e.type !== 'epoch' || prunedAt !== null) return;
          const value = e[key];
          if (value === null) return;
          trial.report(e.epoch, value);
          if (trial.shouldPrune()) {
            prunedAt = e.epoch;
            stop.abort();
          }
        },
      });
      if (prunedAt !== null) return new TrialPruned(`pruned after epoch ${prunedAt}`);
      const { history, bestEpoch } = outcome.result;
      if (outcome.split.validation === 0) throw new RangeError('the run has no validation images to score trials by');
      const value = history.find((h) => h.epoch === bestEpoch)?.[key];
      if (value === undefined || value === null) throw new Error(`the run ended without a ${key}`);
      if (!trial.signal?.aborted) o.onComplete?.(trial.number, outcome, value);
      return value;
    } finally {
      trial.signal?.removeEventListener('abort', onStop);
    }
  };
}
