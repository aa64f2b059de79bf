/**
 * The run's side of its replicas: started with the model's config and weights, they take
 * backbone batches (a frozen run's feature pass, as a {@link BackboneOffload}) and parts of
 * full fine-tuning steps (model/train-step's `splitStep`). How a replica thread is made —
 * Node worker thread, browser worker — is the caller's `spawn`.
 */
import type { BackboneOffload } from '../feature-cache';
import type { ClassifierModel } from '../model';
import type { Features, GradientPart, PartResult, ReplicaEndpoint, ReplicaResponse, ReplicaSetup } from './protocol';

/** Backbone batches a replica holds at once: one computing, one waiting, so it never idles between them. */
const QUEUE = 2;

export interface ReplicaPool extends BackboneOffload {
  /** Replicas in the pool (threads besides the run's own). */
  readonly size: number;
  /** Part of a step on replica `index`. */
  gradients(index: number, part: GradientPart): Promise<PartResult>;
  close(): void;
}

/** How a run gets replicas of its model: a pool, or null where there are none to have. */
export type StartReplicas = (model: ClassifierModel) => Promise<ReplicaPool | null>;

/**
 * A run's replicas, started on first use (a run whose features are all stored starts none);
 * `onStart` hears the threads the run then has (the replicas and its own).
 */
export function lazyReplicas(
  model: ClassifierModel,
  start: StartReplicas | undefined,
  onStart?: (threads: number) => void,
): { get: () => Promise<ReplicaPool | null>; close: () => Promise<void> } {
  let started: Promise<ReplicaPool | null> | null = null;
  return {
    get: () =>
      (started ??= (start ? start(model) : Promise.resolve(null)).then((pool) => {
        if (pool) onStart?.(pool.size + 1);
        return pool;
      })),
    close: async () => {
      const pool = await started?.catch(() => null);
      pool?.close();
    },
  };
}

/** What replicas computed, for tests and logs. */
export type ReplicaWork = 'features' | 'gradients';

interface Replica {
  readonly pending: number;
  readonly failure: Error | null;
  ask<T>(message: { type: 'features' | 'gradients' } & Record<string, unknown>, transfer: ArrayBuffer[]): Promise<T>;
  close(): void;
}

async function startReplica(setup: ReplicaSetup, spawn: () => ReplicaEndpoint): Promise<Replica> {
  const endpoint = spawn();
  const pending = new Map<number, { resolve: (m: ReplicaResponse) => void; reject: (e: Error) => void }>();
  let next = 0;
  let failure: Error | null = null;
  const fail = (e: Error): void => {
    failure ??= e;
    for (const p of pending.values()) p.reject(failure);
    pending.clear();
  };
  await new Promise<void>((resolve, reject) => {
    endpoint.listen(
      (m) => {
        if (m.type === 'ready') return resolve();
        if (m.type === 'error' && m.id === -1) return reject(new Error(`a replica thread could not start: ${m.message}`));
        const p = pending.get(m.id);
        pending.delete(m.id);
        if (m.type === 'error') p?.reject(new Error(`a replica thread failed: ${m.message}`));
        else p?.resolve(m);
      },
      (e) => {
        fail(new Error(`a replica thread failed: ${e.message}`));
        reject(failure!);
      },
    );
    endpoint.post({ type: 'setup', setup }, []);
  }).catch((e: unknown) => {
    endpoint.terminate();
    throw e;
  });
  return {
    get pending() {
      return pending.size;
    },
    get failure() {
      return failure;
    },
    ask<T>(message: { type: 'features' | 'gradients' } & Record<string, unknown>, transfer: ArrayBuffer[]): Promise<T> {
      if (failure) return Promise.reject(failure);
      const id = next++;
      return new Promise<T>((resolve, reject) => {
        pending.set(id, { resolve: resolve as (m: ReplicaResponse) => void, reject });
        endpoint.post({ ...message, id } as Parameters<ReplicaEndpoint['post']>[0], transfer);
      });
    },
    close() {
      failure ??= new Error('the replica thread was closed');
      endpoint.terminate();
    },
  };
}

/**
 * Starts `count` replicas of `model` (its weights as they are now). A replica that cannot
 * start fails the whole pool with its reason; `onWork` hears of each batch they take.
 */
export async function startReplicaPool(model: ClassifierModel, count: number, spawn: () => ReplicaEndpoint, onWork?: (work: ReplicaWork) => void): Promise<ReplicaPool> {
  const setup: ReplicaSetup = {
    config: { arch: model.archName, numClasses: model.numClasses, labels: model.labels, preprocessing: model.preprocessing },
    state: await model.stateDict(),
  };
  const started = await Promise.allSettled(Array.from({ length: count }, () => startReplica(setup, spawn)));
  const replicas = started.flatMap((r) => (r.status === 'fulfilled' ? [r.value] : []));
  const refused = started.find((r): r is PromiseRejectedResult => r.status === 'rejected');
  if (refused) {
    for (const r of replicas) r.close();
    throw refused.reason as Error;
  }
  const idlest = (): Replica | undefined => replicas.filter((r) => !r.failure && r.pending < QUEUE).sort((a, b) => a.pending - b.pending)[0];
  return {
    size: replicas.length,
    get ready() {
      return idlest() !== undefined;
    },
    async run(images, plain, flip) {
      onWork?.('features');
      // Copied, not moved: the images are a quarter of the normalised pixels' size, and their buffers may be shared.
      const m = await (idlest() ?? replicas[0]!).ask<Features>({ type: 'features', images: [...images], plain, flip }, []);
      return { shape: m.shape, plain: m.plain, flipped: m.flipped };
    },
    async gradients(index, part) {
      const replica = replicas[index];
      if (!replica) throw new RangeError(`no replica ${index} in a pool of ${replicas.length}`);
      onWork?.('gradients');
      const m = await replica.ask<PartResult>({ type: 'gradients', ...part }, []);
      return { grads: m.grads, loss: m.loss, hits: m.hits };
    },
    close() {
      for (const r of replicas) r.close();
    },
  };
}
