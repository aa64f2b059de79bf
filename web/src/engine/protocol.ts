/**
 * The one message protocol between the page and the engine worker, generated from one method
 * table ({@link ENGINE_METHODS}): every `Engine` method is a `call` with its arguments, answered
 * by a `result` or an `error` with the same `id`, with `progress`, `train-progress` or `study-progress` events in
 * between for the long ones; `cancel` aborts a call. `serveEngine` dispatches from the table and
 * `connectEngine` builds the proxy from it, so a method added to `Engine` fails to compile until
 * the table says how it crosses.
 */
import { isTransferableImage } from './images';
import { engineErrorFrom, EngineRestartedError, type WireError } from './errors';
import type { StudyProgress } from './study-types';
import type { CallOptions, Engine, Progress, TrainProgress } from './types';

/** How a method reports progress: not at all, as `Progress`, as training events or as a study's search events. */
type ProgressKind = 'none' | 'progress' | 'train' | 'study';

/**
 * Every engine method: how it reports progress and how many arguments it takes before its
 * `CallOptions`. `satisfies` makes a missing or unknown method a compile error.
 */
export const ENGINE_METHODS = {
  init: { progress: 'none', args: 1 },
  backend: { progress: 'none', args: 0 },
  importDataset: { progress: 'progress', args: 1 },
  listDatasets: { progress: 'none', args: 0 },
  images: { progress: 'none', args: 1 },
  resplit: { progress: 'none', args: 1 },
  deleteDataset: { progress: 'none', args: 1 },
  importWeights: { progress: 'none', args: 2 },
  listWeights: { progress: 'none', args: 0 },
  deleteWeights: { progress: 'none', args: 1 },
  exportWeights: { progress: 'none', args: 1 },
  train: { progress: 'train', args: 1 },
  resume: { progress: 'train', args: 1 },
  listRuns: { progress: 'none', args: 0 },
  deleteRun: { progress: 'none', args: 1 },
  evaluate: { progress: 'progress', args: 1 },
  classify: { progress: 'progress', args: 1 },
  listModels: { progress: 'none', args: 0 },
  exportModel: { progress: 'none', args: 1 },
  importModel: { progress: 'none', args: 2 },
  exportModelAs: { progress: 'none', args: 2 },
  compressModel: { progress: 'progress', args: 1 },
  deleteModel: { progress: 'none', args: 1 },
  keepModel: { progress: 'none', args: 1 },
  createStudy: { progress: 'none', args: 1 },
  runStudy: { progress: 'study', args: 1 },
  listStudies: { progress: 'none', args: 0 },
  getStudy: { progress: 'none', args: 1 },
  deleteStudy: { progress: 'none', args: 1 },
  modelFromBestTrial: { progress: 'train', args: 1 },
  storage: { progress: 'none', args: 0 },
  labelSummary: { progress: 'none', args: 1 },
  labelEntries: { progress: 'none', args: 1 },
  labelImages: { progress: 'none', args: 1 },
  editClasses: { progress: 'none', args: 1 },
  undoLabel: { progress: 'none', args: 1 },
  redoLabel: { progress: 'none', args: 1 },
  predictLabels: { progress: 'progress', args: 1 },
  exportLabels: { progress: 'none', args: 1 },
  importLabels: { progress: 'none', args: 1 },
} as const satisfies Record<keyof Engine, { progress: ProgressKind; args: number }>;

export type Method = keyof typeof ENGINE_METHODS;

/** The arguments of a method as they cross: its parameters without the trailing `CallOptions`. */
type Args<K extends Method> = (typeof ENGINE_METHODS)[K]['progress'] extends 'none' ? Parameters<Engine[K]> : DropOptions<Parameters<Engine[K]>>;
type DropOptions<P extends unknown[]> = P extends [...infer Head, (infer _O)?] ? Head : P;

/** What each method resolves to. */
export type ResultOf = { [K in Method]: Awaited<ReturnType<Engine[K]>> };

/** What the page asks. `cancel` aborts the call with the same id. */
export type EngineRequest = { [K in Method]: { type: 'call'; id: number; method: K; args: Args<K> } }[Method] | { type: 'cancel'; id: number };

export type EngineResponse = { [K in Method]: { type: 'result'; id: number; method: K; value: ResultOf[K] } }[Method] | { type: 'error'; id: number; error: WireError };

export type EngineEvent =
  | { type: 'progress'; id: number; progress: Progress }
  | { type: 'train-progress'; id: number; progress: TrainProgress }
  | { type: 'study-progress'; id: number; progress: StudyProgress };

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

const isMethod = (m: unknown): m is Method => typeof m === 'string' && Object.hasOwn(ENGINE_METHODS, m);

/**
 * Answers requests arriving on `port` with `engine`. Every call gets its own AbortController,
 * aborted by a `cancel` request with the same id. A call naming no engine method is refused.
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
    const method: unknown = req.method;
    if (req.type !== 'call' || !isMethod(method)) {
      reply({ type: 'error', id: req.id, error: { name: 'TypeError', message: `the engine has no method ${String(method)}` } });
      return;
    }
    const controller = new AbortController();
    calls.set(req.id, controller);
    const kind = ENGINE_METHODS[method].progress as ProgressKind;
    const options = callOptions(kind, controller.signal, req.id, (event) => reply(event));
    const fn = engine[method] as (...args: unknown[]) => Promise<unknown>;
    const args: unknown[] = [...(req.args as unknown[]), ...(options ? [options] : [])];
    Promise.resolve()
      .then(() => fn.apply(engine, args))
      .then(
        (value) => reply({ type: 'result', id: req.id, method, value } as EngineResponse, transfersOf(value)),
        (e: unknown) => reply({ type: 'error', id: req.id, error: toWire(e) }),
      )
      .finally(() => calls.delete(req.id));
  });
}

/** The `CallOptions` a served call gets: its signal, and progress sent back as the event its kind names. */
function callOptions(kind: ProgressKind, signal: AbortSignal, id: number, send: (event: EngineEvent) => void): CallOptions<never> | undefined {
  switch (kind) {
    case 'none':
      return undefined;
    case 'progress':
      return { signal, onProgress: (progress: Progress) => send({ type: 'progress', id, progress }) } as CallOptions<never>;
    case 'train':
      return { signal, onProgress: (progress: TrainProgress) => send({ type: 'train-progress', id, progress }) } as CallOptions<never>;
    case 'study':
      return { signal, onProgress: (progress: StudyProgress) => send({ type: 'study-progress', id, progress }) } as CallOptions<never>;
    default: {
      const unhandled: never = kind;
      throw new Error(`unknown progress kind ${String(unhandled)}`);
    }
  }
}

/** Rebuilds errors by name so the UI can tell them apart (`instanceof`). */
export type ErrorFactory = (wire: WireError) => Error;

interface Pending {
  settle: (message: EngineResponse) => void;
  fail: (error: Error) => void;
  progress?: ((p: Progress) => void) | undefined;
  trainProgress?: ((p: TrainProgress) => void) | undefined;
  studyProgress?: ((p: StudyProgress) => void) | undefined;
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

/**
 * An `Engine` that forwards every call over `port` (a Worker), built from {@link ENGINE_METHODS}.
 * Aborting a call's signal sends `cancel`; the call still settles with what the engine answers
 * (training returns what it learnt, other calls reject with an AbortError) — or, when the engine
 * does not answer within `cancelGraceMs`, with an AbortError while `onUnresponsive` replaces the worker.
 */
export function connectEngine(port: Port<EngineMessage, EngineRequest>, options: ConnectOptions = {}): Engine {
  const makeError = options.makeError ?? engineErrorFrom;
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
      case 'study-progress':
        p.studyProgress?.(msg.progress);
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

  function call(method: Method, callArgs: unknown[]): Promise<unknown> {
    const spec = ENGINE_METHODS[method];
    const args = callArgs.slice(0, spec.args);
    const o = (spec.progress === 'none' ? {} : (callArgs[spec.args] ?? {})) as CallOptions<never>;
    const id = nextId++;
    return new Promise((resolve, reject) => {
      if (o.signal?.aborted) return reject(new DOMException('cancelled', 'AbortError'));
      if (dead) return reject(new EngineRestartedError());
      let watchdog: ReturnType<typeof setTimeout> | undefined;
      const onAbort = (): void => {
        port.postMessage({ type: 'cancel', id }, []);
        watchdog = setTimeout(() => abandon(id), cancelGraceMs);
      };
      o.signal?.addEventListener('abort', onAbort, { once: true });
      const done = (): void => {
        clearTimeout(watchdog);
        o.signal?.removeEventListener('abort', onAbort);
      };
      const onProgress = o.onProgress as ((p: unknown) => void) | undefined;
      pending.set(id, {
        ...(spec.progress === 'progress' && { progress: onProgress }),
        ...(spec.progress === 'train' && { trainProgress: onProgress }),
        ...(spec.progress === 'study' && { studyProgress: onProgress }),
        fail: (error) => {
          done();
          reject(error);
        },
        settle: (msg) => {
          done();
          if (msg.type === 'error') return reject(makeError(msg.error));
          if (msg.method !== method) return reject(new Error(`engine answered ${method} with ${msg.method}`));
          resolve(msg.value);
        },
      });
      port.postMessage({ type: 'call', id, method, args } as EngineRequest, args.flatMap(transfersOf));
    });
  }

  return Object.fromEntries((Object.keys(ENGINE_METHODS) as Method[]).map((m) => [m, (...a: unknown[]) => call(m, a)])) as unknown as Engine;
}
