import { Worker } from 'node:worker_threads';
import { ModelFormatError, type ModelFiles } from '../../model/artifacts';
import type { RawImage } from '../../model/preprocess';
import { HttpError } from '../errors';
import type { RunnerRequest, RunnerResponse } from './runner-protocol';
import type { ModelRef, PredictionResult } from './types';

/** A batch's answers and the model that gave them. */
export interface RunnerAnswer {
  predictions: PredictionResult[];
  ref: ModelRef;
}

/**
 * Runs the active model on batches of decoded images. The same interface lives in two homes:
 * in this thread (`InProcessRunner` in runner-core.ts, for tests and tools) and in a worker
 * thread (`WorkerRunner`, the server's default), so wasm inference never blocks the event loop
 * that accepts connections and answers health checks. This file does not load tfjs.
 */
export interface ClassifierRunner {
  readonly home: 'in-process' | 'worker';
  /** Builds the model from its files, warms up batch sizes 1…warmBatches, and makes it active. */
  load(files: ModelFiles, modelId: string, warmBatches: number): Promise<ModelRef>;
  classify(images: RawImage[]): Promise<RunnerAnswer>;
  /** Live tfjs tensors where the model runs (leak tests). */
  numTensors(): Promise<number>;
  close(): Promise<void>;
}

type Pending = { resolve: (r: RunnerResponse) => void; reject: (e: unknown) => void };

/** Rebuilds a worker's error on this side, keeping the classes callers test for. */
function reviveError(r: { name: string; message: string }): Error {
  if (r.name === 'ModelFormatError') return new ModelFormatError(r.message);
  if (r.name === 'HttpError') return new HttpError(503, 'no_model', r.message);
  const e = new Error(r.message);
  e.name = r.name;
  return e;
}

/**
 * The runner in a worker thread. Images cross as transferred buffers. If the worker dies,
 * pending calls fail with 503 and the next call starts a new worker with the last model.
 */
export class WorkerRunner implements ClassifierRunner {
  readonly home = 'worker' as const;
  private worker: Worker | undefined;
  private readonly pending = new Map<number, Pending>();
  private nextId = 1;
  private lastModel: { files: Array<[string, Uint8Array]>; modelId: string; warmBatches: number } | undefined;
  private closed = false;

  private spawn(): Worker {
    // A JavaScript entry registers tsx in the worker, which then loads the TypeScript handler.
    const worker = new Worker(new URL('./runner-worker-entry.mjs', import.meta.url));
    worker.on('message', (r: RunnerResponse) => {
      const p = this.pending.get(r.id);
      if (!p) return;
      this.pending.delete(r.id);
      if (r.type === 'error') p.reject(reviveError(r));
      else p.resolve(r);
    });
    const fail = (why: string): void => {
      if (this.worker === worker) this.worker = undefined;
      for (const p of this.pending.values()) p.reject(new HttpError(503, 'classifier_failed', `the classifier stopped (${why}); the request can be retried`));
      this.pending.clear();
    };
    worker.on('error', (e) => fail(e.message));
    worker.on('exit', (code) => fail(`exit code ${code}`));
    return worker;
  }

  private async call(request: RunnerRequest, transfer: ArrayBuffer[] = []): Promise<RunnerResponse> {
    if (this.closed) throw new HttpError(503, 'shutting_down', 'the server is shutting down');
    if (!this.worker) {
      this.worker = this.spawn();
      // A restarted worker gets the model back before anything else.
      if (this.lastModel && request.type !== 'load') {
        const { files, modelId, warmBatches } = this.lastModel;
        await this.send({ type: 'load', id: this.nextId++, files, modelId, warmBatches });
      }
    }
    return this.send(request, transfer);
  }

  private send(request: RunnerRequest, transfer: ArrayBuffer[] = []): Promise<RunnerResponse> {
    const worker = this.worker!;
    return new Promise((resolve, reject) => {
      this.pending.set(request.id, { resolve, reject });
      worker.postMessage(request, transfer);
    });
  }

  async load(files: ModelFiles, modelId: string, warmBatches: number): Promise<ModelRef> {
    const list = [...files];
    const r = await this.call({ type: 'load', id: this.nextId++, modelId, files: list, warmBatches });
    if (r.type !== 'loaded') throw new Error(`runner answered ${r.type} to load`);
    this.lastModel = { files: list, modelId, warmBatches };
    return r.ref;
  }

  async classify(images: RawImage[]): Promise<RunnerAnswer> {
    // Own, unshared buffers, so they can be transferred rather than copied.
    const owned = images.map((img) => ({ ...img, data: new Uint8Array(img.data) }));
    const r = await this.call({ type: 'classify', id: this.nextId++, images: owned }, owned.map((i) => i.data.buffer as ArrayBuffer));
    if (r.type !== 'classified') throw new Error(`runner answered ${r.type} to classify`);
    return { predictions: r.predictions, ref: r.ref };
  }

  async numTensors(): Promise<number> {
    const r = await this.call({ type: 'memory', id: this.nextId++ });
    if (r.type !== 'memory') throw new Error(`runner answered ${r.type} to memory`);
    return r.numTensors;
  }

  /** Stops the worker (tests use this to check recovery). */
  async kill(): Promise<void> {
    await this.worker?.terminate();
  }

  async close(): Promise<void> {
    this.closed = true;
    await this.worker?.terminate();
    this.worker = undefined;
  }
}
