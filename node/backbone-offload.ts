/**
 * Frozen-backbone features on a second core. tfjs-wasm runs one thread per Node process, so a
 * head-only run's feature pass — nearly all of its time — would leave the other cores idle.
 * This starts a worker thread with its own wasm backend and the same model, and
 * model/feature-cache's extraction hands it batches while the main thread computes the rest.
 * Same weights, same kernels: the features, and so the run, are bit for bit the same.
 */
import { availableParallelism } from 'node:os';
import { Worker } from 'node:worker_threads';
import type { ClosableOffload } from '../model/feature-cache';
import type { ClassifierModel, ModelConfig } from '../model/model';
import type { StateDict } from '../model/tensor-data';

/** What the worker builds its model from. */
export interface BackboneSetup {
  config: ModelConfig;
  state: StateDict;
}

export type BackboneRequest = { id: number; pixels: Float32Array; shape: readonly number[]; plain: boolean; flip: boolean };
export type BackboneResponse =
  | { type: 'ready' }
  | { type: 'features'; id: number; shape: number[]; plain: Float32Array | null; flipped: Float32Array | null }
  | { type: 'error'; id: number; message: string };

type Features = { shape: number[]; plain: Float32Array | null; flipped: Float32Array | null };

/** Batches a worker holds at once: one computing, one waiting, so it never idles between them. */
const QUEUE = 2;

/** Threads a frozen run's feature pass uses by default: the cores there are, at most 4. */
export function backboneThreads(): number {
  return Math.max(1, Math.min(4, availableParallelism()));
}

/** One worker thread with its own model, and the batches it holds. */
interface BackboneWorker {
  readonly pending: number;
  readonly failure: Error | null;
  run(pixels: Float32Array, shape: readonly number[], plain: boolean, flip: boolean): Promise<Features>;
  close(): void;
}

async function startWorker(setup: BackboneSetup): Promise<BackboneWorker> {
  const worker = new Worker(new URL('./backbone-worker-entry.mjs', import.meta.url), { workerData: setup });
  const pending = new Map<number, { resolve: (f: Features) => void; reject: (e: Error) => void }>();
  let next = 0;
  let failure: Error | null = null;
  const fail = (e: Error): void => {
    failure ??= e;
    for (const p of pending.values()) p.reject(failure);
    pending.clear();
  };
  await new Promise<void>((resolve, reject) => {
    worker.on('message', (m: BackboneResponse) => {
      if (m.type === 'ready') return resolve();
      if (m.type === 'error' && m.id === -1) return reject(new Error(`a backbone thread could not start: ${m.message}`));
      const p = pending.get(m.id);
      pending.delete(m.id);
      if (m.type === 'error') p?.reject(new Error(`a backbone thread failed: ${m.message}`));
      else p?.resolve({ shape: m.shape, plain: m.plain, flipped: m.flipped });
    });
    worker.on('error', (e) => {
      fail(new Error(`a backbone thread failed: ${e.message}`));
      reject(failure!);
    });
    worker.on('exit', (code) => fail(new Error(`a backbone thread stopped (exit code ${code})`)));
  }).catch(async (e: unknown) => {
    await worker.terminate();
    throw e;
  });
  return {
    get pending() {
      return pending.size;
    },
    get failure() {
      return failure;
    },
    run(pixels, shape, plain, flip) {
      if (failure) return Promise.reject(failure);
      const id = next++;
      return new Promise<Features>((resolve, reject) => {
        pending.set(id, { resolve, reject });
        worker.postMessage({ id, pixels, shape, plain, flip } satisfies BackboneRequest, [pixels.buffer as ArrayBuffer]);
      });
    },
    close() {
      failure ??= new Error('the backbone thread was closed');
      void worker.terminate();
    },
  };
}

/**
 * The `backboneOffload` hook of a run using `threads` threads in all: `threads - 1` worker
 * threads compute features beside the main one (none below 2). A worker that fails makes the
 * run fail with its reason; `batches` counts what the workers computed.
 */
export function nodeBackboneOffload(threads: number): ((model: ClassifierModel) => Promise<ClosableOffload | null>) | undefined {
  if (!Number.isInteger(threads) || threads < 1) throw new RangeError(`threads must be a whole number ≥ 1, got ${threads}`);
  if (threads < 2) return undefined;
  return async (model) => {
    const setup: BackboneSetup = {
      config: { arch: model.archName, numClasses: model.numClasses, labels: model.labels, preprocessing: model.preprocessing },
      state: await model.stateDict(),
    };
    const started = await Promise.allSettled(Array.from({ length: threads - 1 }, () => startWorker(setup)));
    const workers = started.flatMap((r) => (r.status === 'fulfilled' ? [r.value] : []));
    const refused = started.find((r): r is PromiseRejectedResult => r.status === 'rejected');
    if (refused) {
      for (const w of workers) w.close();
      throw refused.reason as Error;
    }
    const idlest = (): BackboneWorker | undefined => workers.filter((w) => !w.failure && w.pending < QUEUE).sort((a, b) => a.pending - b.pending)[0];
    return {
      get ready() {
        return idlest() !== undefined;
      },
      run(pixels, shape, plain, flip) {
        const w = idlest() ?? workers[0]!;
        offloadedBatches++;
        return w.run(pixels, shape, plain, flip);
      },
      close() {
        for (const w of workers) w.close();
      },
    };
  };
}

let offloadedBatches = 0;

/** Batches worker threads have computed in this process (for tests and logs). */
export function backboneBatchesOffloaded(): number {
  return offloadedBatches;
}
