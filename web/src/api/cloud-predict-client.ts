/**
 * The browser's client for the server's prediction broker (`POST /api/predict`), free of any
 * framework so the Classify screen, a worker or a test can use it. It sends images in the
 * TorchServe/Vertex body, times out, queues while the device is offline and retries
 * transient failures with backoff; `classifyWithFallback` adds the on-device/cloud policy.
 *
 * It runs in browsers and in Node 20 (fetch, Blob, btoa are globals in both) and imports
 * nothing, so web/ can bundle it as is.
 */

/** Who answered: the device itself, or the server's local predictor or Vertex AI. */
export type AnswerSource = 'device' | 'local' | 'vertex';

/** One image's answer from the server. */
export interface CloudPrediction {
  label: string;
  probabilities: Record<string, number>;
  /** Probability of `label`; `null` when the source names a class without scores (a TorchServe handler). */
  confidence: number | null;
}

/** What `/api/predict` answered. */
export interface CloudResult {
  predictions: CloudPrediction[];
  source: 'local' | 'vertex';
  /** The model or endpoint that answered, as the server describes it. */
  model: { id: string; arch?: string; classes?: number; deployedModelId?: string };
}

/** Why a cloud prediction failed. `message` is written for the user. */
export type CloudErrorCode =
  | 'offline'
  | 'timeout'
  | 'aborted'
  | 'too_large'
  | 'queue_full'
  | 'bad_response'
  /** The server's own error code (`vertex_timeout`, `no_model`, `rate_limited`…). */
  | (string & {});

/** A cloud prediction that failed; `retryable` says whether trying later may help. */
export class CloudPredictError extends Error {
  constructor(
    readonly code: CloudErrorCode,
    message: string,
    readonly status: number | null = null,
    readonly retryable = false,
    /** From a `Retry-After` header. */
    readonly retryAfterMs: number | null = null,
  ) {
    super(message);
    this.name = 'CloudPredictError';
  }
}

/** Whether the device is online, and a way to hear when it comes back. */
export interface Connectivity {
  isOnline(): boolean;
  /** Registers a listener; returns its removal. */
  onOnline(listener: () => void): () => void;
}

/** `navigator.onLine` and the window's `online` event; always online where they do not exist. */
export function browserConnectivity(): Connectivity {
  const g = globalThis as unknown as {
    navigator?: { onLine?: boolean };
    addEventListener?: (type: string, listener: () => void) => void;
    removeEventListener?: (type: string, listener: () => void) => void;
  };
  return {
    isOnline: () => g.navigator?.onLine !== false,
    onOnline: (listener) => {
      g.addEventListener?.('online', listener);
      return () => g.removeEventListener?.('online', listener);
    },
  };
}

export interface CloudPredictOptions {
  /** Origin of the server; '' (the default) for the page's own origin. */
  baseUrl?: string;
  /** Bearer token (`SCENELAB_TOKEN`), or a function returning the current one. */
  token?: string | (() => string | undefined);
  /** Per attempt. Default 20 s (the server's Vertex timeout is 10 s). */
  timeoutMs?: number;
  /** Attempts for retryable failures (429, 502, 503, 504, timeouts) while online. Default 3. */
  maxAttempts?: number;
  /** First backoff delay; doubles per attempt up to `maxRetryDelayMs`. Default 1 s and 30 s. */
  retryDelayMs?: number;
  maxRetryDelayMs?: number;
  /** Most requests waiting for the network at once. Default 20. */
  maxQueued?: number;
  /** Largest JSON body sent (the server and Vertex AI refuse more than 1.5 MB). */
  maxBodyBytes?: number;
  fetch?: typeof fetch;
  connectivity?: Connectivity;
  /** Hears the number of requests waiting for the network, for a "queued" badge. */
  onQueueChange?: (queued: number) => void;
}

/** Per call. */
export interface PredictCallOptions {
  signal?: AbortSignal;
  /** When offline, wait (queued) for the network instead of failing at once. Default true. */
  queueWhenOffline?: boolean;
  /** Retry transient server failures. Default true. */
  retry?: boolean;
}

/** An image as the app holds it. */
export type ImageInput = Blob | ArrayBuffer | Uint8Array;

/** 1.5 MB: the body limit of the server and of Vertex AI online prediction. */
export const MAX_BODY_BYTES = 1.5 * 1024 * 1024;

/** Base64 of bytes, in chunks (String.fromCharCode takes a bounded number of arguments). */
export function toBase64(bytes: Uint8Array): string {
  let s = '';
  for (let i = 0; i < bytes.length; i += 0x8000) s += String.fromCharCode(...bytes.subarray(i, i + 0x8000));
  return btoa(s);
}

async function bytesOf(image: ImageInput): Promise<Uint8Array> {
  if (image instanceof Uint8Array) return image;
  if (image instanceof ArrayBuffer) return new Uint8Array(image);
  return new Uint8Array(await image.arrayBuffer());
}

const isRecord = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);

/** Checks the server's answer rather than trusting its shape. */
function parseResult(body: unknown, expected: number): CloudResult {
  const bad = (what: string): CloudPredictError => new CloudPredictError('bad_response', `the server's answer is malformed (${what})`);
  if (!isRecord(body) || !Array.isArray(body.predictions)) throw bad('no predictions');
  if (body.source !== 'local' && body.source !== 'vertex') throw bad('unknown source');
  if (body.predictions.length !== expected) throw bad(`${body.predictions.length} predictions for ${expected} images`);
  const predictions = body.predictions.map((p: unknown): CloudPrediction => {
    if (!isRecord(p) || typeof p.label !== 'string' || !isRecord(p.probabilities)) throw bad('a prediction lacks label or probabilities');
    const probabilities: Record<string, number> = {};
    for (const [k, v] of Object.entries(p.probabilities)) {
      if (typeof v !== 'number' || !Number.isFinite(v)) throw bad(`probability of ${k} is not a number`);
      probabilities[k] = v;
    }
    return { label: p.label, probabilities, confidence: probabilities[p.label] ?? null };
  });
  const m = isRecord(body.model) ? body.model : {};
  const model: CloudResult['model'] = { id: typeof m.id === 'string' ? m.id : '' };
  if (typeof m.arch === 'string') model.arch = m.arch;
  if (typeof m.classes === 'number') model.classes = m.classes;
  if (typeof m.deployedModelId === 'string') model.deployedModelId = m.deployedModelId;
  return { predictions, source: body.source, model };
}

function retryAfter(header: string | null): number | null {
  if (!header) return null;
  const s = Number(header);
  if (Number.isFinite(s)) return Math.max(0, s * 1000);
  const at = Date.parse(header);
  return Number.isNaN(at) ? null : Math.max(0, at - Date.now());
}

/** Waits `ms`, or less if the signal aborts (then rejects) or `wake` fires. */
function sleep(ms: number, signal: AbortSignal | undefined, wake?: (resume: () => void) => () => void): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal?.aborted) return reject(abortError(signal));
    let unwake = (): void => undefined;
    const done = (): void => {
      clearTimeout(timer);
      signal?.removeEventListener('abort', onAbort);
      unwake();
      resolve();
    };
    const onAbort = (): void => {
      clearTimeout(timer);
      unwake();
      reject(abortError(signal!));
    };
    const timer = setTimeout(done, ms);
    signal?.addEventListener('abort', onAbort, { once: true });
    if (wake) unwake = wake(done);
  });
}

const abortError = (signal: AbortSignal): CloudPredictError =>
  signal.reason instanceof CloudPredictError ? signal.reason : new CloudPredictError('aborted', 'the cloud prediction was cancelled');

/**
 * Calls `/api/predict`. One instance per app; its offline queue is shared by all calls.
 */
export class CloudPredictClient {
  private readonly fetch: typeof fetch;
  private readonly connectivity: Connectivity;
  private queued = 0;

  constructor(private readonly options: CloudPredictOptions = {}) {
    // Bound: a bare `fetch` taken off `window` throws "Illegal invocation" in Chrome.
    this.fetch = options.fetch ?? ((input, init) => globalThis.fetch(input, init));
    this.connectivity = options.connectivity ?? browserConnectivity();
  }

  /** Requests waiting for the network now. */
  get queuedCount(): number {
    return this.queued;
  }

  /** Classifies images on the server; resolves with its answer, or rejects with a `CloudPredictError`. */
  async predict(images: readonly ImageInput[], call: PredictCallOptions = {}): Promise<CloudResult> {
    if (images.length === 0) throw new CloudPredictError('bad_request', 'no images to classify');
    const instances = await Promise.all(images.map(async (img) => ({ data: { b64: toBase64(await bytesOf(img)) } })));
    const body = JSON.stringify({ instances });
    const limit = this.options.maxBodyBytes ?? MAX_BODY_BYTES;
    if (body.length > limit) {
      throw new CloudPredictError('too_large', `the images are too large to send (${(body.length / 1048576).toFixed(1)} MB encoded; the limit is ${(limit / 1048576).toFixed(1)} MB): send fewer or smaller images`);
    }
    const maxAttempts = call.retry === false ? 1 : (this.options.maxAttempts ?? 3);
    const queue = call.queueWhenOffline ?? true;
    let attempt = 0;
    for (;;) {
      call.signal?.throwIfAborted();
      if (!this.connectivity.isOnline()) {
        if (!queue) throw new CloudPredictError('offline', 'the device is offline', null, true);
        await this.waitForNetwork(call.signal);
        continue;
      }
      try {
        return await this.once(body, images.length, call.signal);
      } catch (e) {
        if (!(e instanceof CloudPredictError) || !e.retryable) throw e;
        if (e.code === 'offline') {
          // The request never reached the server: the network or the server is down.
          if (!queue) throw e;
          await this.waitForNetwork(call.signal, this.delay(attempt++));
          continue;
        }
        if (++attempt >= maxAttempts) throw e;
        await sleep(e.retryAfterMs ?? this.delay(attempt - 1), call.signal);
      }
    }
  }

  private delay(attempt: number): number {
    const base = this.options.retryDelayMs ?? 1000;
    return Math.min(this.options.maxRetryDelayMs ?? 30_000, base * 2 ** attempt);
  }

  /** Waits in the queue until the device is back online (or `probeMs` passes, to try again). */
  private async waitForNetwork(signal: AbortSignal | undefined, probeMs = this.options.maxRetryDelayMs ?? 30_000): Promise<void> {
    if (this.queued >= (this.options.maxQueued ?? 20)) {
      throw new CloudPredictError('queue_full', 'too many cloud predictions are waiting for the network; try again when online');
    }
    this.queued++;
    this.options.onQueueChange?.(this.queued);
    try {
      await sleep(probeMs, signal, (resume) => this.connectivity.onOnline(resume));
    } finally {
      this.queued--;
      this.options.onQueueChange?.(this.queued);
    }
  }

  private async once(body: string, expected: number, signal: AbortSignal | undefined): Promise<CloudResult> {
    const timeoutMs = this.options.timeoutMs ?? 20_000;
    const controller = new AbortController();
    const timer = setTimeout(() => controller.abort(new CloudPredictError('timeout', `the server did not answer within ${timeoutMs / 1000} s`, null, true)), timeoutMs);
    const onAbort = (): void => controller.abort(signal?.reason);
    signal?.addEventListener('abort', onAbort, { once: true });
    const token = typeof this.options.token === 'function' ? this.options.token() : this.options.token;
    let res: Response;
    try {
      res = await this.fetch(`${this.options.baseUrl ?? ''}/api/predict`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', ...(token ? { authorization: `Bearer ${token}` } : {}) },
        body,
        signal: controller.signal,
      });
    } catch (e) {
      if (controller.signal.aborted) {
        const reason: unknown = controller.signal.reason;
        throw reason instanceof CloudPredictError ? reason : new CloudPredictError('aborted', 'the cloud prediction was cancelled');
      }
      throw new CloudPredictError('offline', `cannot reach the server (${(e as Error).message})`, null, true);
    } finally {
      clearTimeout(timer);
      signal?.removeEventListener('abort', onAbort);
    }
    let json: unknown;
    try {
      json = await res.json();
    } catch {
      json = undefined;
    }
    if (!res.ok) {
      const err = isRecord(json) ? json : {};
      const code = typeof err.code === 'string' ? err.code : `http_${res.status}`;
      const message = typeof err.message === 'string' ? err.message : `the server answered ${res.status}`;
      const retryable = res.status === 429 || res.status === 502 || res.status === 503 || res.status === 504;
      throw new CloudPredictError(code, message, res.status, retryable, retryAfter(res.headers.get('retry-after')));
    }
    return parseResult(json, expected);
  }
}

/** An answer from the on-device model (the app's own classify). */
export interface DeviceAnswer {
  label: string;
  probabilities: Record<string, number>;
}

/** Where the Classify screen should get its answer. */
export type ClassifyMode = 'device' | 'cloud' | 'auto';

/** The answer to show, and who gave it. */
export interface ClassifyOutcome {
  label: string;
  probabilities: Record<string, number>;
  confidence: number | null;
  source: AnswerSource;
  /** The server's model description, when the server answered. */
  model?: CloudResult['model'];
  /** The device answer, when the cloud was asked as well (for comparison). */
  device?: DeviceAnswer;
  /** Why the cloud did not answer, when the device answer is shown instead. */
  cloudError?: CloudPredictError;
  /** Offline with a device answer: the cloud answer, when the queued request completes. */
  later?: Promise<ClassifyOutcome>;
}

/** No on-device model and no cloud answer either. */
export class NoAnswerError extends Error {
  constructor(
    message: string,
    readonly cloudError?: CloudPredictError,
  ) {
    super(message);
    this.name = 'NoAnswerError';
  }
}

const confidenceOf = (a: DeviceAnswer): number => a.probabilities[a.label] ?? Math.max(0, ...Object.values(a.probabilities));

/**
 * The Classify screen's policy. `device`: the on-device model only. `cloud`: the server,
 * falling back to the device when the server fails. `auto`: the device first, and the server
 * when there is no model on the device or its confidence is below `threshold`; a server
 * failure then shows the device answer with `cloudError`. Offline with a device answer, the
 * device answer comes at once and the queued cloud answer arrives through `later`. With no
 * device model the cloud is the only answer, so it is retried and queued while offline.
 *
 * `onDevice` returns `null` when no model is on the device; in `cloud` mode it runs only
 * after the server failed.
 */
export async function classifyWithFallback(
  image: ImageInput,
  options: { mode: ClassifyMode; threshold: number; client: CloudPredictClient; onDevice: () => Promise<DeviceAnswer | null>; signal?: AbortSignal },
): Promise<ClassifyOutcome> {
  const signal = options.signal ? { signal: options.signal } : {};
  let device: DeviceAnswer | null = null;
  const fromDevice = (d: DeviceAnswer, extra: Partial<ClassifyOutcome> = {}): ClassifyOutcome => ({ label: d.label, probabilities: d.probabilities, confidence: confidenceOf(d), source: 'device', ...extra });
  const fromCloud = (r: CloudResult): ClassifyOutcome => {
    const p = r.predictions[0]!;
    return { label: p.label, probabilities: p.probabilities, confidence: p.confidence, source: r.source, model: r.model, ...(device ? { device } : {}) };
  };
  const asCloudError = (e: unknown): CloudPredictError => (e instanceof CloudPredictError ? e : new CloudPredictError('bad_response', (e as Error).message));

  if (options.mode !== 'cloud') {
    device = await options.onDevice();
    if (options.mode === 'device') {
      if (!device) throw new NoAnswerError('no model on this device: train or import one, or switch to the cloud');
      return fromDevice(device);
    }
    if (device && confidenceOf(device) >= options.threshold) return fromDevice(device);
  }

  // One quick attempt first: no retries and no queueing, so a device answer is never kept waiting.
  let firstError: CloudPredictError;
  try {
    return fromCloud(await options.client.predict([image], { ...signal, retry: false, queueWhenOffline: false }));
  } catch (e) {
    firstError = asCloudError(e);
    if (firstError.code === 'aborted') throw firstError;
  }
  // Cloud mode asks the device only now, as the fallback.
  if (options.mode === 'cloud') device = await options.onDevice().catch(() => null);
  const patient = (): Promise<ClassifyOutcome> => options.client.predict([image], signal).then(fromCloud);
  if (device) {
    const later = firstError.code === 'offline' ? patient() : undefined;
    // The caller may ignore `later`; keep its rejection from surfacing as unhandled.
    later?.catch(() => undefined);
    return fromDevice(device, { cloudError: firstError, ...(later ? { later } : {}) });
  }
  // Nothing on the device: the cloud is the only answer, so wait for it (retries, offline queue).
  if (!firstError.retryable) throw new NoAnswerError(`no model on this device and the cloud did not answer: ${firstError.message}`, firstError);
  try {
    return await patient();
  } catch (e) {
    const cloudError = asCloudError(e);
    if (cloudError.code === 'aborted') throw cloudError;
    throw new NoAnswerError(`no model on this device and the cloud did not answer: ${cloudError.message}`, cloudError);
  }
}
