/**
 * Replicas of a run's model on worker threads. tfjs-wasm runs one thread per Node process, so
 * without them a run would leave the other cores idle: a frozen run hands them backbone
 * batches, a full fine-tuning run splits each batch across them (model/train-step). Each
 * worker has its own wasm backend and the same kernels.
 */
import { availableParallelism } from 'node:os';
import { Worker } from 'node:worker_threads';
import type { ReplicaEndpoint } from '../model/replicas/protocol';
import { startReplicaPool, type ReplicaWork, type StartReplicas } from '../model/replicas/pool';

/** Threads a run uses by default: the cores there are, at most 4. */
export function trainingThreads(): number {
  return Math.max(1, Math.min(4, availableParallelism()));
}

function workerEndpoint(): ReplicaEndpoint {
  const worker = new Worker(new URL('./replica-worker-entry.mjs', import.meta.url));
  return {
    post: (message, transfer) => worker.postMessage(message, transfer),
    listen(onMessage, onFailure) {
      worker.on('message', onMessage);
      worker.on('error', onFailure);
      worker.on('exit', (code) => onFailure(new Error(`it stopped (exit code ${code})`)));
    },
    terminate: () => void worker.terminate(),
  };
}

const work: Record<ReplicaWork, number> = { features: 0, gradients: 0 };

/** Batches (features) and step parts (gradients) worker threads have computed in this process, for tests and logs. */
export function replicaWork(): Readonly<Record<ReplicaWork, number>> {
  return { ...work };
}

/**
 * The `replicas` hook of a run using `threads` threads in all: `threads - 1` worker threads
 * beside the main one (none below 2). A worker that fails makes the run fail with its reason.
 */
export function nodeReplicas(threads: number): StartReplicas | undefined {
  if (!Number.isInteger(threads) || threads < 1) throw new RangeError(`threads must be a whole number ≥ 1, got ${threads}`);
  if (threads < 2) return undefined;
  return (model) => startReplicaPool(model, threads - 1, workerEndpoint, (kind) => void work[kind]++);
}
