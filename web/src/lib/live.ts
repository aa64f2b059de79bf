/** The live view of a training run, folded from the engine's progress events. */
import type { TrainProgress } from '../engine/types';
import type { EpochRecord } from '../../../model/train';

/** Live numbers of the run in progress. */
export interface LiveRun {
  runId: string | null;
  stage: string;
  done: number;
  total: number;
  epoch: number;
  epochs: number;
  loss: number | null;
  accuracy: number | null;
  imagesPerSecond: number | null;
  etaSeconds: number | null;
  history: EpochRecord[];
  resumedFromEpoch: number;
  note: string | null;
  /** Threads the run computes on, once it has replicas. */
  threads: number | null;
}

export function emptyLive(epochs: number): LiveRun {
  return { runId: null, stage: 'starting', done: 0, total: 0, epoch: 0, epochs, loss: null, accuracy: null, imagesPerSecond: null, etaSeconds: null, history: [], resumedFromEpoch: 0, note: null, threads: null };
}

/** Folds one progress event into the live view. */
export function applyTrainProgress(live: LiveRun, p: TrainProgress): LiveRun {
  switch (p.type) {
    case 'run':
      return { ...live, runId: p.runId, resumedFromEpoch: p.resumedFromEpoch, epoch: p.resumedFromEpoch };
    case 'stage':
      return { ...live, stage: p.stage === 'features' ? 'computing backbone features' : 'training', done: p.done, total: p.total };
    case 'batch':
      return {
        ...live,
        stage: `epoch ${p.epoch}/${live.epochs}`,
        epoch: p.epoch,
        done: (p.epoch - 1) * p.batches + p.batch,
        total: live.epochs * p.batches,
        loss: p.loss,
        accuracy: p.accuracy,
        imagesPerSecond: p.imagesPerSecond,
        etaSeconds: p.etaSeconds,
      };
    case 'epoch': {
      const { type: _t, epochs: _e, etaSeconds, ...record } = p;
      return { ...live, history: [...live.history.filter((h) => h.epoch !== record.epoch), record], etaSeconds };
    }
    case 'checkpoint':
      return { ...live, note: `checkpoint saved after epoch ${p.epoch}` };
    case 'early-stop':
      return { ...live, note: `stopped early at epoch ${p.epoch}; keeping epoch ${p.bestEpoch}` };
    case 'skipped':
      return { ...live, note: `skipped ${p.file}: ${p.reason}` };
    case 'backend':
      return { ...live, note: p.reason };
    case 'threads':
      return { ...live, threads: p.threads };
    default: {
      const unhandled: never = p;
      return unhandled;
    }
  }
}

