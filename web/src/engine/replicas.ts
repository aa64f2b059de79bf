/**
 * Replicas of a run's model in workers beside the engine's: the app's way onto the other cores
 * (tfjs-wasm's own threads barely speed training up). A frozen run hands them backbone batches,
 * full fine-tuning splits its batches across them (model/replicas, model/train-step). Only on
 * wasm: a GPU backend has one device to share.
 */
import { startReplicaPool, type StartReplicas } from '../../../model/replicas/pool';
import type { ReplicaEndpoint } from '../../../model/replicas/protocol';
import type { BackendInfo } from './types';

/** Replicas the app starts: one per core besides the engine's, at most 3 (each holds a model and its activations). */
export function replicaCount(cores: number): number {
  return Math.max(0, Math.min(3, Math.floor(cores) - 1));
}

function workerEndpoint(): ReplicaEndpoint {
  const worker = new Worker(new URL('./replica-worker.ts', import.meta.url), { type: 'module', name: 'scenelab-replica' });
  return {
    post: (message, transfer) => worker.postMessage(message, transfer),
    listen(onMessage, onFailure) {
      worker.onmessage = (e: MessageEvent) => onMessage(e.data);
      worker.onmessageerror = () => onFailure(new Error('a message could not be read'));
      worker.onerror = (e: ErrorEvent) => {
        e.preventDefault();
        onFailure(new Error(e.message || 'its script could not load'));
      };
    },
    terminate: () => worker.terminate(),
  };
}

/** `count` replica workers (the benchmark page asks for its thread count). */
export function replicaWorkers(count: number): StartReplicas {
  return (model) => startReplicaPool(model, count, workerEndpoint);
}

/** The `replicas` hook of a run on `backend` here: none off wasm or on one core. */
export function browserReplicas(backend: BackendInfo | null): StartReplicas | undefined {
  const count = replicaCount(self.navigator.hardwareConcurrency || 1);
  return backend?.name === 'wasm' && count > 0 ? replicaWorkers(count) : undefined;
}
