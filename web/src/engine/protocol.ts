/**
 * The one message protocol between the page and the engine worker. Requests, responses and
 * progress events are unions keyed on `type`; every request carries an `id` that its
 * response and progress events repeat. `serveEngine` switches over requests exhaustively
 * (a new Engine method fails to compile until it is handled here), and `connectEngine`
 * turns a port back into an `Engine`.
 */
import type {
  BackendInfo,
  BackendPreference,
  ClassifyRequest,
  ClassifyResponse,
  DatasetSummary,
  Engine,
  EvaluateRequest,
  EvaluateResult,
  ImageQuery,
  ImageThumb,
  ImportRequest,
  ImportResult,
  ModelSummary,
  Progress,
  ResplitRequest,
  RunSummary,
  StorageInfo,
  TrainConfig,
  TrainOutcome,
  TrainProgress,
  WeightsSummary,
  BinaryFile,
  CallOptions,
} from './types';
import { isTransferableImage } from './images';

/** What the page asks. `cancel` aborts the call with the same id. */
export type EngineRequest =
  | { type: 'init'; id: number; preference: BackendPreference }
  | { type: 'backend'; id: number }
  | { type: 'importDataset'; id: number; request: ImportRequest }
  | { type: 'listDatasets'; id: number }
  | { type: 'images'; id: number; query: ImageQuery }
  | { type: 'resplit'; id: number; request: ResplitRequest }
  | { type: 'deleteDataset'; id: number; datasetId: string }
  | { type: 'importWeights'; id: number; name: string; file: BinaryFile }
  | { type: 'listWeights'; id: number }
  | { type: 'deleteWeights'; id: number; weightsId: string }
  | { type: 'train'; id: number; config: TrainConfig }
  | { type: 'resume'; id: number; runId: string }
  | { type: 'listRuns'; id: number }
  | { type: 'deleteRun'; id: number; runId: string }
  | { type: 'evaluate'; id: number; request: EvaluateRequest }
  | { type: 'classify'; id: number; request: ClassifyRequest }
  | { type: 'listModels'; id: number }
  | { type: 'exportModel'; id: number; modelId: string }
  | { type: 'importModel'; id: number; name: string; bundle: BinaryFile }
  | { type: 'deleteModel'; id: number; modelId: string }
  | { type: 'storage'; id: number }
  | { type: 'cancel'; id: number };

/** The value each request resolves to. */
export interface ResultOf {
  init: BackendInfo;
  backend: BackendInfo | null;
  importDataset: ImportResult;
  listDatasets: DatasetSummary[];
  images: { total: number; images: ImageThumb[] };
  resplit: DatasetSummary;
  deleteDataset: null;
  importWeights: WeightsSummary;
  listWeights: WeightsSummary[];
  deleteWeights: null;
  train: TrainOutcome;
  resume: TrainOutcome;
  listRuns: RunSummary[];
  deleteRun: null;
  evaluate: EvaluateResult;
  classify: ClassifyResponse;
  listModels: ModelSummary[];
  exportModel: Uint8Array;
  importModel: ModelSummary;
  deleteModel: null;
  storage: StorageInfo;
}

export type Method = keyof ResultOf;

/** An error as it crosses the boundary; `name` picks the class it is rebuilt as. */
export interface WireError {
  name: string;
  message: string;
}

export type EngineResponse =
  | { [K in Method]: { type: 'result'; id: number; method: K; value: ResultOf[K] } }[Method]
  | { type: 'error'; id: number; error: WireError };

export type EngineEvent = { type: 'progress'; id: number; progress: Progress } | { type: 'train-progress'; id: number; progress: TrainProgress };

export type EngineMessage = EngineResponse | EngineEvent;

/** The part of `MessagePort`/`Worker`/`DedicatedWorkerGlobalScope` the protocol uses. */
export interface Port<In, Out> {
  postMessage(message: Out, transfer: Transferable[]): void;
  addEventListener(type: 'message', listener: (event: MessageEvent<In>) => void): void;
}

/** Buffers and bitmaps inside a message, moved rather than copied. */
function transfersOf(value: unknown): Transferable[] {
  if (value instanceof Uint8Array) return value.byteLength === value.buffer.byteLength && value.buffer instanceof ArrayBuffer ? [value.buffer] : [];
  if (isTransferableImage(value)) return [value];
  if (typeof value === 'object' && value !== null && 'images' in value && Array.isArray(value.images)) {
    return value.images.flatMap((img: unknown): Transferable[] => {
      if (isTransferableImage(img)) return [img];
      if (typeof img === 'object' && img !== null && 'data' in img && img.data instanceof Uint8Array) return [img.data.buffer as ArrayBuffer];
      return [];
    });
  }
  return [];
}

function toWire(e: unknown): WireError {
  if (e instanceof Error || (typeof e === 'object' && e !== null && 'message' in e)) {
    const err = e as { name?: unknown; message?: unknown };
    return { name: typeof err.name === 'string' ? err.name : 'Error', message: String(err.message) };
  }
  return { name: 'Error', message: String(e) };
}

/**
 * Answers requests arriving on `port` with `engine`. Every call gets its own AbortController,
 * aborted by a `cancel` request with the same id.
 */
export function serveEngine(port: Port<EngineRequest, EngineMessage>, engine: Engine): void {
  const calls = new Map<number, AbortController>();
  const reply = (message: EngineMessage, transfer: Transferable[] = []): void => port.postMessage(message, transfer);

  port.addEventListener('message', (event) => {
    const req = event.data;
    if (req.type === 'cancel') {
      calls.get(req.id)?.abort(new DOMException('cancelled', 'AbortError'));
      return;
    }
    const controller = new AbortController();
    calls.set(req.id, controller);
    const opts: CallOptions = { signal: controller.signal, onProgress: (progress) => reply({ type: 'progress', id: req.id, progress }) };
    const trainOpts: CallOptions<TrainProgress> = {
      signal: controller.signal,
      onProgress: (progress) => reply({ type: 'train-progress', id: req.id, progress }),
    };
    const answer = <K extends Method>(method: K, work: Promise<ResultOf[K]>): void => {
      work.then(
        (value) => reply({ type: 'result', id: req.id, method, value } as EngineResponse, transfersOf(value)),
        (e: unknown) => reply({ type: 'error', id: req.id, error: toWire(e) }),
      ).finally(() => calls.delete(req.id));
    };
    switch (req.type) {
      case 'init':
        return answer('init', engine.init(req.preference));
      case 'backend':
        return answer('backend', engine.backend());
      case 'importDataset':
        return answer('importDataset', engine.importDataset(req.request, opts));
      case 'listDatasets':
        return answer('listDatasets', engine.listDatasets());
      case 'images':
        return answer('images', engine.images(req.query));
      case 'resplit':
        return answer('resplit', engine.resplit(req.request));
      case 'deleteDataset':
        return answer('deleteDataset', engine.deleteDataset(req.datasetId).then(() => null));
      case 'importWeights':
        return answer('importWeights', engine.importWeights(req.name, req.file));
      case 'listWeights':
        return answer('listWeights', engine.listWeights());
      case 'deleteWeights':
        return answer('deleteWeights', engine.deleteWeights(req.weightsId).then(() => null));
      case 'train':
        return answer('train', engine.train(req.config, trainOpts));
      case 'resume':
        return answer('resume', engine.resume(req.runId, trainOpts));
      case 'listRuns':
        return answer('listRuns', engine.listRuns());
      case 'deleteRun':
        return answer('deleteRun', engine.deleteRun(req.runId).then(() => null));
      case 'evaluate':
        return answer('evaluate', engine.evaluate(req.request, opts));
      case 'classify':
        return answer('classify', engine.classify(req.request, opts));
      case 'listModels':
        return answer('listModels', engine.listModels());
      case 'exportModel':
        return answer('exportModel', engine.exportModel(req.modelId));
      case 'importModel':
        return answer('importModel', engine.importModel(req.name, req.bundle));
      case 'deleteModel':
        return answer('deleteModel', engine.deleteModel(req.modelId).then(() => null));
      case 'storage':
        return answer('storage', engine.storage());
      default: {
        const unhandled: never = req;
        throw new Error(`unknown engine request ${JSON.stringify(unhandled)}`);
      }
    }
  });
}

/** Rebuilds errors by name so the UI can tell them apart (`instanceof`). */
export type ErrorFactory = (wire: WireError) => Error;

const defaultErrorFactory: ErrorFactory = (wire) => {
  if (wire.name === 'AbortError') return new DOMException(wire.message, 'AbortError');
  const e = new Error(wire.message);
  e.name = wire.name;
  return e;
};

interface Pending {
  settle: (message: EngineResponse) => void;
  fail: (error: Error) => void;
  progress?: ((p: Progress) => void) | undefined;
  trainProgress?: ((p: TrainProgress) => void) | undefined;
}

/** What a caller may ask of the connection beyond the `Engine` calls. */
export interface ConnectOptions {
  makeError?: ErrorFactory;
  /**
   * How long an aborted call may go on before the engine counts as stuck (a kernel that never
   * returns, a decoder that hangs): the call then rejects with an AbortError, every other
   * pending call with an `EngineRestartedError`, and `onUnresponsive` runs — the page
   * terminates the worker and starts a new one. Training stops between batches, so a healthy
   * engine answers well within this.
   */
  cancelGraceMs?: number;
  onUnresponsive?: () => void;
}

/** The worker was replaced while this call was in flight; trying again is safe. */
export class EngineRestartedError extends Error {
  constructor() {
    super('The engine stopped responding and was restarted; try again.');
    this.name = 'EngineRestartedError';
  }
}

/**
 * An `Engine` that forwards every call over `port` (a Worker). Aborting a call's signal sends
 * `cancel`; the call still settles with what the engine answers (training returns what it
 * learnt, other calls reject with an AbortError) — or, when the engine does not answer within
 * `cancelGraceMs`, with an AbortError while `onUnresponsive` replaces the worker.
 */
export function connectEngine(port: Port<EngineMessage, EngineRequest>, options: ConnectOptions = {}): Engine {
  const makeError = options.makeError ?? defaultErrorFactory;
  const cancelGraceMs = options.cancelGraceMs ?? 30_000;
  let nextId = 1;
  const pending = new Map<number, Pending>();
  let dead = false;
  /** Gives up on the worker: every pending call settles now, and the owner replaces it. */
  const abandon = (stuckId: number): void => {
    if (dead) return;
    dead = true;
    for (const [id, p] of pending) p.fail(id === stuckId ? new DOMException('cancelled', 'AbortError') : new EngineRestartedError());
    pending.clear();
    options.onUnresponsive?.();
  };
  port.addEventListener('message', (event) => {
    const msg = event.data;
    const p = pending.get(msg.id);
    if (!p) return;
    switch (msg.type) {
      case 'progress':
        p.progress?.(msg.progress);
        return;
      case 'train-progress':
        p.trainProgress?.(msg.progress);
        return;
      case 'result':
      case 'error':
        pending.delete(msg.id);
        p.settle(msg);
        return;
      default: {
        const unhandled: never = msg;
        throw new Error(`unknown engine message ${JSON.stringify(unhandled)}`);
      }
    }
  });

  /** Sends one request and resolves with the value `pick` finds in the answer for `method`. */
  function call<K extends Method>(
    method: K,
    build: (id: number) => EngineRequest,
    pick: (r: Extract<EngineResponse, { type: 'result' }>) => ResultOf[K] | undefined,
    options: { signal?: AbortSignal | undefined; progress?: (p: Progress) => void; trainProgress?: (p: TrainProgress) => void } = {},
    transfer: Transferable[] = [],
  ): Promise<ResultOf[K]> {
    const id = nextId++;
    return new Promise<ResultOf[K]>((resolve, reject) => {
      if (options.signal?.aborted) {
        reject(new DOMException('cancelled', 'AbortError'));
        return;
      }
      if (dead) {
        reject(new EngineRestartedError());
        return;
      }
      let watchdog: ReturnType<typeof setTimeout> | undefined;
      const onAbort = (): void => {
        port.postMessage({ type: 'cancel', id }, []);
        watchdog = setTimeout(() => abandon(id), cancelGraceMs);
      };
      options.signal?.addEventListener('abort', onAbort, { once: true });
      const done = (): void => {
        clearTimeout(watchdog);
        options.signal?.removeEventListener('abort', onAbort);
      };
      pending.set(id, {
        progress: options.progress,
        trainProgress: options.trainProgress,
        fail: (error) => {
          done();
          reject(error);
        },
        settle: (msg) => {
          done();
          if (msg.type === 'error') return reject(makeError(msg.error));
          const value = msg.method === method ? pick(msg) : undefined;
          if (value === undefined) reject(new Error(`engine answered ${method} with ${msg.method}`));
          else resolve(value);
        },
      });
      port.postMessage(build(id), transfer);
    });
  }

  return {
    init: (preference) => call('init', (id) => ({ type: 'init', id, preference }), (r) => (r.method === 'init' ? r.value : undefined)),
    backend: () => call('backend', (id) => ({ type: 'backend', id }), (r) => (r.method === 'backend' ? r.value : undefined)),
    importDataset: (request, o = {}) =>
      call('importDataset', (id) => ({ type: 'importDataset', id, request }), (r) => (r.method === 'importDataset' ? r.value : undefined), {
        signal: o.signal,
        ...(o.onProgress && { progress: o.onProgress }),
      }),
    listDatasets: () => call('listDatasets', (id) => ({ type: 'listDatasets', id }), (r) => (r.method === 'listDatasets' ? r.value : undefined)),
    images: (query) => call('images', (id) => ({ type: 'images', id, query }), (r) => (r.method === 'images' ? r.value : undefined)),
    resplit: (request) => call('resplit', (id) => ({ type: 'resplit', id, request }), (r) => (r.method === 'resplit' ? r.value : undefined)),
    deleteDataset: async (datasetId) => {
      await call('deleteDataset', (id) => ({ type: 'deleteDataset', id, datasetId }), (r) => (r.method === 'deleteDataset' ? r.value : undefined));
    },
    importWeights: (name, file) => call('importWeights', (id) => ({ type: 'importWeights', id, name, file }), (r) => (r.method === 'importWeights' ? r.value : undefined)),
    listWeights: () => call('listWeights', (id) => ({ type: 'listWeights', id }), (r) => (r.method === 'listWeights' ? r.value : undefined)),
    deleteWeights: async (weightsId) => {
      await call('deleteWeights', (id) => ({ type: 'deleteWeights', id, weightsId }), (r) => (r.method === 'deleteWeights' ? r.value : undefined));
    },
    train: (config, o = {}) =>
      call('train', (id) => ({ type: 'train', id, config }), (r) => (r.method === 'train' ? r.value : undefined), {
        signal: o.signal,
        ...(o.onProgress && { trainProgress: o.onProgress }),
      }),
    resume: (runId, o = {}) =>
      call('resume', (id) => ({ type: 'resume', id, runId }), (r) => (r.method === 'resume' ? r.value : undefined), {
        signal: o.signal,
        ...(o.onProgress && { trainProgress: o.onProgress }),
      }),
    listRuns: () => call('listRuns', (id) => ({ type: 'listRuns', id }), (r) => (r.method === 'listRuns' ? r.value : undefined)),
    deleteRun: async (runId) => {
      await call('deleteRun', (id) => ({ type: 'deleteRun', id, runId }), (r) => (r.method === 'deleteRun' ? r.value : undefined));
    },
    evaluate: (request, o = {}) =>
      call('evaluate', (id) => ({ type: 'evaluate', id, request }), (r) => (r.method === 'evaluate' ? r.value : undefined), {
        signal: o.signal,
        ...(o.onProgress && { progress: o.onProgress }),
      }),
    classify: (request, o = {}) =>
      call(
        'classify',
        (id) => ({ type: 'classify', id, request }),
        (r) => (r.method === 'classify' ? r.value : undefined),
        { signal: o.signal, ...(o.onProgress && { progress: o.onProgress }) },
        transfersOf(request),
      ),
    listModels: () => call('listModels', (id) => ({ type: 'listModels', id }), (r) => (r.method === 'listModels' ? r.value : undefined)),
    exportModel: (modelId) => call('exportModel', (id) => ({ type: 'exportModel', id, modelId }), (r) => (r.method === 'exportModel' ? r.value : undefined)),
    importModel: (name, bundle) => call('importModel', (id) => ({ type: 'importModel', id, name, bundle }), (r) => (r.method === 'importModel' ? r.value : undefined)),
    deleteModel: async (modelId) => {
      await call('deleteModel', (id) => ({ type: 'deleteModel', id, modelId }), (r) => (r.method === 'deleteModel' ? r.value : undefined));
    },
    storage: () => call('storage', (id) => ({ type: 'storage', id }), (r) => (r.method === 'storage' ? r.value : undefined)),
  };
}
