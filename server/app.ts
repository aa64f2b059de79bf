import type { AddressInfo } from 'node:net';
import fastifyCors from '@fastify/cors';
import fastifyRateLimit from '@fastify/rate-limit';
import type { Storage } from '@google-cloud/storage';
import Fastify, { type FastifyBaseLogger, type FastifyError, type FastifyInstance, type FastifyReply, type FastifyRequest } from 'fastify';
import type { ServerConfig } from './config';
import { HttpError, type ErrorBody } from './errors';
import { ServerMetrics } from './metrics';
import { WorkerRunner } from './predict/runner';
import { LocalPredictor } from './predict/local';
import { newestBundle, readBundle, readModelFrom } from './predict/model-source';
import { predictRoutes } from './predict/routes';
import type { Predictor } from './predict/types';
import { VertexPredictor } from './predict/vertex';
import { bearerTokenHook, originHook, securityHeaders } from './security';
import { bucketRoutes } from './storage/bucket-routes';
import { createStorageClient, GcsStore } from './storage/gcs';
import { TrainingJobs } from './training/jobs';
import { trainingRoutes } from './training/routes';
import { LocalBucket } from './storage/local-bucket';
import { storageRoutes } from './storage/routes';
import type { ObjectStore } from './storage/types';
import { webAppRoutes } from './web-app';

/** What the app is built from; tests pass their own store, predictor or clock. */
export interface AppParts {
  config: ServerConfig;
  store: ObjectStore;
  predictor: Predictor;
  metrics: ServerMetrics;
  /** Vertex AI training jobs, when the server is configured for them. */
  training?: TrainingJobs | null;
  /** `false` for silence (tests); otherwise pino options are derived from the config. */
  logger?: boolean;
}

const REASONS: Record<number, string> = {
  400: 'Bad Request',
  401: 'Unauthorized',
  403: 'Forbidden',
  404: 'Not Found',
  409: 'Conflict',
  412: 'Precondition Failed',
  413: 'Payload Too Large',
  415: 'Unsupported Media Type',
  422: 'Unprocessable Entity',
  429: 'Too Many Requests',
  500: 'Internal Server Error',
  502: 'Bad Gateway',
  503: 'Service Unavailable',
  504: 'Gateway Timeout',
};

interface AjvIssue {
  instancePath?: string;
  keyword?: string;
  message?: string;
  params?: Record<string, unknown>;
}

/** One sentence from Fastify's schema-validation error: where, and what was expected. */
function describeValidation(context: string | undefined, issues: readonly AjvIssue[]): string {
  const issue = issues[0] ?? {};
  const where = `${context ?? 'request'}${issue.instancePath ?? ''}`;
  const p = issue.params ?? {};
  switch (issue.keyword) {
    case 'required':
      return `${where} is missing the required field "${String(p.missingProperty)}"`;
    case 'additionalProperties':
      return `${where} has an unknown field "${String(p.additionalProperty)}"`;
    case 'enum':
      return `${where} must be one of: ${Array.isArray(p.allowedValues) ? p.allowedValues.join(', ') : ''}`;
    case 'type':
      return `${where} must be of type ${String(p.type)}`;
    default:
      return `${where} ${issue.message ?? 'is invalid'}`;
  }
}

/** The error as the client sees it. */
function toHttpError(error: FastifyError | HttpError | Error, bodyLimit: number): HttpError {
  if (error instanceof HttpError) return error;
  const e = error as FastifyError & { validation?: AjvIssue[]; validationContext?: string };
  if (e.validation) return new HttpError(400, 'invalid_request', describeValidation(e.validationContext, e.validation));
  switch (e.code) {
    case 'FST_ERR_CTP_BODY_TOO_LARGE':
      return new HttpError(413, 'body_too_large', `request body is larger than ${(bodyLimit / 1024 / 1024).toFixed(1)} MB (the Vertex AI limit): send fewer or smaller images`);
    case 'FST_ERR_CTP_INVALID_MEDIA_TYPE':
      return new HttpError(415, 'unsupported_media_type', 'send the body as JSON with Content-Type: application/json');
    case 'FST_ERR_CTP_EMPTY_JSON_BODY':
      return new HttpError(400, 'empty_body', 'the request body is empty: send a JSON object');
    case 'FST_ERR_CTP_INVALID_JSON_BODY':
      return new HttpError(400, 'invalid_json', `the request body is not valid JSON (${e.message})`);
    case 'FST_ERR_CTP_INVALID_CONTENT_LENGTH':
      return new HttpError(400, 'invalid_content_length', 'Content-Length does not match the body');
  }
  if (e instanceof SyntaxError || (/JSON/.test(e.message) && e.statusCode === 400)) return new HttpError(400, 'invalid_json', `the request body is not valid JSON (${e.message})`);
  if (typeof e.statusCode === 'number' && e.statusCode >= 400 && e.statusCode < 500) return new HttpError(e.statusCode, 'bad_request', e.message);
  return new HttpError(500, 'internal', 'internal server error; the server log has the details');
}

/** Strips query strings from logged URLs: they may hold signatures. */
const pathOnly = (url: string | undefined): string => (url ?? '').split('?')[0]!;

/**
 * Builds the Fastify instance: security hooks, metrics, the storage and prediction brokers,
 * the embedded bucket's object routes, the health and metrics endpoints, and the app.
 */
export async function buildApp(parts: AppParts): Promise<FastifyInstance> {
  const { config, store, predictor, metrics } = parts;
  const app = Fastify({
    logger:
      parts.logger === false
        ? false
        : {
            level: config.logLevel,
            redact: ['req.headers.authorization'],
            serializers: {
              req: (req: { method?: string; url?: string; ip?: string }) => ({ method: req.method, url: pathOnly(req.url), ip: req.ip }),
            },
          },
    bodyLimit: config.bodyLimit,
    trustProxy: config.trustProxy,
    // Strict validation: unknown fields and wrong types are refused, never dropped or coerced.
    ajv: { customOptions: { removeAdditional: false, coerceTypes: false, useDefaults: false } },
    return503OnClosing: true,
    // Fastify answers malformed URLs itself unless told how; keep the one error format.
    frameworkErrors: (error: FastifyError, _req: FastifyRequest, reply: FastifyReply) => {
      const http = new HttpError(400, 'bad_url', `the request URL has invalid percent-encoding or characters (${error.message})`);
      void reply.code(400).send({ statusCode: 400, error: 'Bad Request', code: http.code, message: http.message } satisfies ErrorBody);
    },
  });
  // The API speaks JSON only; without this, text/plain bodies would be parsed as strings.
  app.removeContentTypeParser('text/plain');

  app.addHook('onSend', securityHeaders);
  app.addHook('onResponse', async (req, reply) => {
    const labels = { route: req.routeOptions.url ?? 'unmatched', method: req.method, status: String(reply.statusCode) };
    metrics.requests.inc(labels);
    metrics.latency.observe(labels, reply.elapsedTime / 1000);
  });

  await app.register(fastifyCors, {
    origin: (origin, cb) => cb(null, origin !== undefined && config.corsOrigins.includes(origin)),
    methods: ['GET', 'HEAD', 'POST', 'PUT', 'OPTIONS'],
    allowedHeaders: ['authorization', 'content-type', 'x-goog-content-length-range', 'x-goog-if-generation-match'],
    maxAge: 600,
  });
  app.addHook('onRequest', originHook(config.corsOrigins));
  app.addHook('onRequest', bearerTokenHook(config.token));
  await app.register(fastifyRateLimit, {
    global: false,
    errorResponseBuilder: (_req, ctx) => new HttpError(429, 'rate_limited', `rate limit of ${ctx.max} requests per minute reached; retry in ${ctx.after}`),
  });

  app.setErrorHandler((error: FastifyError | HttpError, req, reply) => {
    const http = toHttpError(error, config.bodyLimit);
    if (http.statusCode >= 500 && !(error instanceof HttpError)) req.log.error({ err: error }, http.message);
    else if (http.statusCode >= 500) req.log.warn({ code: http.code, status: http.statusCode }, http.message);
    else req.log.info({ code: http.code, status: http.statusCode }, http.message);
    for (const [k, v] of Object.entries(http.headers)) reply.header(k, v);
    const body: ErrorBody = { statusCode: http.statusCode, error: REASONS[http.statusCode] ?? 'Error', code: http.code, message: http.message };
    return reply.code(http.statusCode).send(body);
  });

  app.get('/healthz', async () => ({
    status: 'ok',
    storage: { kind: store.kind, detail: store.describe() },
    prediction: predictor.status(),
    auth: config.token ? 'bearer token' : 'none',
  }));
  app.get('/metrics', async (_req, reply) => reply.header('content-type', 'text/plain; version=0.0.4; charset=utf-8').send(metrics.render()));

  await app.register(storageRoutes, { config, store, metrics });
  if (store instanceof LocalBucket) await app.register(bucketRoutes, { bucket: store, metrics });
  await app.register(predictRoutes, { config, predictor, metrics });
  await app.register(trainingRoutes, { config, jobs: parts.training ?? null });
  await app.register(webAppRoutes, { webDir: config.webDir });
  return app;
}

/** A running server and what it is made of. */
export interface RunningServer {
  app: FastifyInstance;
  /** `http://host:port` the server listens on. */
  url: string;
  config: ServerConfig;
  store: ObjectStore;
  predictor: Predictor;
  metrics: ServerMetrics;
  /** Resolves when the first model load attempt (if any) has finished. */
  modelLoaded: Promise<void>;
  close(): Promise<void>;
}

export interface StartOptions {
  logger?: boolean;
  /** Replaces the store or predictor the configuration implies. */
  store?: ObjectStore;
  predictor?: Predictor;
  /** Cloud Storage client for `AIP_STORAGE_URI` and the GCS store (tests point it at an emulator). */
  storage?: Storage;
  /** Clock for signed URLs. */
  now?: () => number;
  /** Called when an explicitly configured model cannot be loaded (main.ts exits). */
  onFatal?: (error: Error) => void;
}

function originOf(address: AddressInfo | string | null): string {
  if (address === null || typeof address === 'string') return 'http://127.0.0.1';
  const host = address.address === '0.0.0.0' ? '127.0.0.1' : address.address === '::' ? '::1' : address.address;
  return `http://${host.includes(':') ? `[${host}]` : host}:${address.port}`;
}

/**
 * Builds the store and predictor the configuration asks for, starts listening (so health
 * checks answer at once), then loads the model: `AIP_STORAGE_URI`, `SCENELAB_MODEL`, or the
 * newest bundle under `models/` of the embedded bucket, reloading when a new one is uploaded.
 */
export async function startServer(config: ServerConfig, options: StartOptions = {}): Promise<RunningServer> {
  let origin = config.publicUrl ?? '';
  let storageClient = options.storage;
  const storage = (): Storage =>
    (storageClient ??= createStorageClient({ projectId: config.storage.kind === 'gcs' ? config.storage.projectId : undefined, apiEndpoint: config.gcsApiEndpoint }));

  const store: ObjectStore =
    options.store ??
    (config.storage.kind === 'gcs'
      ? new GcsStore({ bucket: config.storage.bucket, storage: storage(), expiry: config.expiry, ...(options.now ? { now: options.now } : {}) })
      : await LocalBucket.open({
          root: config.storage.root,
          ...(config.storage.signingSecret ? { secret: config.storage.signingSecret } : {}),
          publicUrl: () => origin,
          expiry: config.expiry,
          ...(options.now ? { now: options.now } : {}),
        }));

  let predictor: Predictor;
  if (options.predictor) predictor = options.predictor;
  else if (config.predict.kind === 'vertex') predictor = new VertexPredictor(config.predict);
  else {
    // tfjs loads only where the model runs: in the worker, or here when asked to.
    const runner = config.predictWorker ? new WorkerRunner() : new (await import('./predict/runner-core')).InProcessRunner();
    predictor = new LocalPredictor({ maxBatch: config.limits.maxBatch, runner });
  }

  const metrics = new ServerMetrics();
  let log: ((msg: string) => void) | null = null;
  const training =
    config.training && config.storage.kind === 'gcs'
      ? await TrainingJobs.open(config.training, { storage, appBucket: config.storage.bucket, dataDir: config.dataDir, log: (m) => log?.(m) })
      : null;
  const app = await buildApp({ config, store, predictor, metrics, training, ...(options.logger === false ? { logger: false } : {}) });
  log = (m) => app.log.info(m);
  await app.listen({ host: config.host, port: config.port });
  const url = originOf(app.server.address());
  if (!config.publicUrl) origin = url;

  const modelLoaded = predictor instanceof LocalPredictor ? loadModels(config, store, predictor, storage, app.log, options.onFatal) : Promise.resolve();
  return {
    app,
    url,
    config,
    store,
    predictor,
    metrics,
    modelLoaded,
    close: async () => {
      await app.close();
      await training?.close();
      await predictor.close();
    },
  };
}

async function loadModels(
  config: ServerConfig,
  store: ObjectStore,
  predictor: LocalPredictor,
  storage: () => Storage,
  log: FastifyBaseLogger,
  onFatal: ((error: Error) => void) | undefined,
): Promise<void> {
  const explicit = config.container?.storageUri ?? (config.predict.kind === 'local' ? config.predict.model : undefined);
  if (explicit) {
    try {
      const ref = await predictor.load(await readModelFrom(explicit, storage), explicit);
      log.info({ model: ref }, `model loaded from ${explicit}`);
    } catch (e) {
      const err = new Error(`cannot load the model from ${explicit}: ${(e as Error).message}`);
      predictor.reportLoadError(err.message);
      log.error(err.message);
      onFatal?.(err);
    }
    return;
  }
  if (!(store instanceof LocalBucket)) return;
  // Loads run one after another, so the last upload is the one that ends up active.
  let chain = Promise.resolve();
  const loadObject = (object: string, file: string): Promise<void> =>
    (chain = chain.then(async () => {
      try {
        const ref = await predictor.load(await readBundle(file), object);
        log.info({ model: ref }, `model ${object} is now active`);
      } catch (e) {
        log.warn(`model bundle ${object} was not loaded: ${(e as Error).message}`);
      }
    }));
  store.onObjectWritten((o) => {
    if (o.name.startsWith('models/') && o.name.endsWith('.zip')) void loadObject(o.name, `${store.objectsDir}/${o.name}`);
  });
  const newest = await newestBundle(store);
  if (newest) await loadObject(newest.object, newest.file);
}

