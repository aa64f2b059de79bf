import path from 'node:path';
import { ConfigError } from './errors';

/** The repository root: defaults for the data and web folders are relative to it, not to the working directory. */
export const REPO_ROOT = path.resolve(import.meta.dirname, '..');

/** Vertex AI's online-prediction request limit, which this server applies to every JSON body. */
export const VERTEX_BODY_LIMIT = 1.5 * 1024 * 1024;

/** Prefixes the app writes under. Clients cannot add to this list. */
export const WRITE_PREFIXES = ['datasets/', 'models/', 'runs/'] as const;

/** The seed pipeline kept its Intel scenes at the bucket root under these prefixes; they are readable by default. */
export const SEED_PREFIXES = ['seg_train/', 'seg_test/', 'seg_pred/'] as const;

/** The embedded bucket on disk, or a Cloud Storage bucket. */
export type StorageConfig =
  | { kind: 'local'; root: string; signingSecret: string | undefined }
  | { kind: 'gcs'; bucket: string; projectId: string | undefined };

/** The embedded tfjs predictor, or a Vertex AI endpoint. */
export type PredictConfig =
  | { kind: 'local'; model: string | undefined }
  | {
      kind: 'vertex';
      project: string;
      region: string;
      endpointId: string;
      /** `host[:port]`; `http://` means plaintext (an emulator). Defaults to `{region}-aiplatform.googleapis.com`. */
      apiEndpoint: string | undefined;
      timeoutMs: number;
      /** Class names for endpoints that answer with a class index (a TorchServe handler). */
      labels: string[] | undefined;
    };

/** Vertex AI custom training for the app's *Train in the cloud*; the data goes through the app's Cloud Storage bucket. */
export interface TrainingConfig {
  project: string;
  region: string;
  /** Where jobs get their folders: `gs://bucket/root/NAME/`. */
  bucket: string;
  root: string;
  machineType: string;
  /** `TYPE:COUNT`, e.g. NVIDIA_TESLA_T4:1. */
  accelerator: string | undefined;
  replicas: number;
  /** `host[:port]`; `http://` means plaintext (an emulator). */
  apiEndpoint: string | undefined;
  pollMs: number;
}

/** Set when the server runs as a Vertex AI custom serving container (`AIP_HTTP_PORT` is set). */
export interface ContainerConfig {
  predictRoute: string;
  healthRoute: string;
  /** Where Vertex copied the model artifacts (`gs://…`), or a local path. */
  storageUri: string | undefined;
}

/** Everything the server reads from the environment, validated once at start-up. */
export interface ServerConfig {
  host: string;
  port: number;
  /** Origin that local signed URLs point at; defaults to the address the server listens on. */
  publicUrl: string | undefined;
  token: string | undefined;
  corsOrigins: string[];
  trustProxy: boolean;
  dataDir: string;
  webDir: string;
  logLevel: string;
  bodyLimit: number;
  /** Requests per client per minute. */
  rateLimits: { sign: number; predict: number };
  storage: StorageConfig;
  /** Cloud Storage JSON-API endpoint for the bucket and for `AIP_STORAGE_URI` (an emulator in tests). */
  gcsApiEndpoint: string | undefined;
  readPrefixes: string[];
  limits: {
    maxImageBytes: number;
    maxArtifactBytes: number;
    maxImagePixels: number;
    maxInstances: number;
    /**
     * Images per tfjs batch in the local predictor. On wasm a batch costs about the same per
     * image (~12.5 ms for SqueezeNet at 150x150), so batching mostly saves per-call overhead:
     * 2-4 measured best under 50 concurrent clients (bench/server-load.ts).
     */
    maxBatch: number;
  };
  /** Lifetimes of signed URLs in seconds (capped at 15 min for writes, 1 h for reads). */
  expiry: { write: number; read: number };
  predict: PredictConfig;
  /** Run the local model in a worker thread (default), so inference never blocks the event loop. */
  predictWorker: boolean;
  container: ContainerConfig | undefined;
  training: TrainingConfig | undefined;
}

type Env = Readonly<Record<string, string | undefined>>;

function str(env: Env, name: string): string | undefined {
  const v = env[name]?.trim();
  return v ? v : undefined;
}

function int(env: Env, name: string, fallback: number, min: number, max: number): number {
  const raw = str(env, name);
  if (raw === undefined) return fallback;
  const n = Number(raw);
  if (!Number.isInteger(n) || n < min || n > max) throw new ConfigError(`${name}="${raw}": expected an integer from ${min} to ${max}`);
  return n;
}

function bool(env: Env, name: string): boolean {
  const raw = str(env, name)?.toLowerCase();
  if (raw === undefined || raw === '0' || raw === 'false' || raw === 'no') return false;
  if (raw === '1' || raw === 'true' || raw === 'yes') return true;
  throw new ConfigError(`${name}="${raw}": expected true or false`);
}

function list(env: Env, name: string): string[] | undefined {
  const raw = str(env, name);
  return raw === undefined
    ? undefined
    : raw
        .split(',')
        .map((s) => s.trim())
        .filter(Boolean);
}

function route(env: Env, name: string, fallback: string): string {
  const r = str(env, name) ?? fallback;
  if (!/^\/[A-Za-z0-9._~!$&'()*+,;=:@%/-]*$/.test(r)) throw new ConfigError(`${name}="${r}": expected a URL path starting with /`);
  return r;
}

function origin(name: string, value: string): string {
  let u: URL;
  try {
    u = new URL(value);
  } catch {
    throw new ConfigError(`${name}: "${value}" is not a URL (expected e.g. https://scenelab.example.com)`);
  }
  if (u.protocol !== 'http:' && u.protocol !== 'https:') throw new ConfigError(`${name}: "${value}" must be http or https`);
  return u.origin;
}

/**
 * Reads the configuration from environment variables (documented in `.env.example`). With none
 * set, everything runs on this machine: the embedded bucket under `.scenelab/` and the embedded
 * predictor, on 127.0.0.1:8787.
 */
export function loadConfig(env: Env = process.env): ServerConfig {
  const aipPort = str(env, 'AIP_HTTP_PORT');
  const container: ContainerConfig | undefined =
    aipPort === undefined
      ? undefined
      : {
          predictRoute: route(env, 'AIP_PREDICT_ROUTE', '/predict'),
          healthRoute: route(env, 'AIP_HEALTH_ROUTE', '/health'),
          storageUri: str(env, 'AIP_STORAGE_URI'),
        };
  if (container && container.predictRoute === container.healthRoute) throw new ConfigError('AIP_PREDICT_ROUTE and AIP_HEALTH_ROUTE must differ');

  const dataDir = path.resolve(str(env, 'SCENELAB_DATA_DIR') ?? path.join(REPO_ROOT, '.scenelab'));
  const gcsBucket = str(env, 'SCENELAB_GCS_BUCKET');
  if (gcsBucket !== undefined && !/^[a-z0-9][a-z0-9._-]{1,220}[a-z0-9]$/.test(gcsBucket)) {
    throw new ConfigError(`SCENELAB_GCS_BUCKET="${gcsBucket}" is not a bucket name (lower-case letters, digits, -, _ and .; no gs:// prefix)`);
  }
  const storage: StorageConfig = gcsBucket
    ? { kind: 'gcs', bucket: gcsBucket, projectId: str(env, 'SCENELAB_GCS_PROJECT') }
    : { kind: 'local', root: path.join(dataDir, 'bucket'), signingSecret: str(env, 'SCENELAB_SIGNING_SECRET') };
  if (storage.kind === 'local' && storage.signingSecret !== undefined && storage.signingSecret.length < 32) {
    throw new ConfigError('SCENELAB_SIGNING_SECRET must be at least 32 characters (try: openssl rand -hex 32)');
  }

  const vertexVars = ['SCENELAB_VERTEX_PROJECT', 'SCENELAB_VERTEX_REGION', 'SCENELAB_VERTEX_ENDPOINT_ID'] as const;
  const setVertex = vertexVars.filter((n) => str(env, n) !== undefined);
  let predict: PredictConfig;
  if (setVertex.length > 0) {
    const missing = vertexVars.filter((n) => str(env, n) === undefined);
    if (missing.length > 0) throw new ConfigError(`Vertex AI prediction needs ${vertexVars.join(', ')}; missing ${missing.join(', ')}`);
    if (container) throw new ConfigError('SCENELAB_VERTEX_* is set inside a Vertex AI serving container (AIP_HTTP_PORT): the container must predict locally');
    const project = str(env, 'SCENELAB_VERTEX_PROJECT')!;
    const region = str(env, 'SCENELAB_VERTEX_REGION')!;
    const endpointId = str(env, 'SCENELAB_VERTEX_ENDPOINT_ID')!;
    if (!/^[a-z][a-z0-9-]{4,28}[a-z0-9]$/.test(project) && !/^\d+$/.test(project)) throw new ConfigError(`SCENELAB_VERTEX_PROJECT="${project}" is not a project id or number`);
    if (!/^[a-z]+-[a-z]+\d+$/.test(region)) throw new ConfigError(`SCENELAB_VERTEX_REGION="${region}" is not a region (e.g. europe-west4)`);
    if (!/^\d{1,32}$/.test(endpointId)) throw new ConfigError(`SCENELAB_VERTEX_ENDPOINT_ID="${endpointId}" must be the numeric endpoint id`);
    predict = {
      kind: 'vertex',
      project,
      region,
      endpointId,
      apiEndpoint: str(env, 'SCENELAB_VERTEX_API_ENDPOINT'),
      timeoutMs: int(env, 'SCENELAB_VERTEX_TIMEOUT_MS', 10_000, 100, 600_000),
      labels: list(env, 'SCENELAB_VERTEX_LABELS'),
    };
  } else {
    predict = { kind: 'local', model: str(env, 'SCENELAB_MODEL') };
  }

  const training = trainingConfig(env, storage);
  const publicUrl = str(env, 'SCENELAB_PUBLIC_URL');
  const readExtra = list(env, 'SCENELAB_READ_PREFIXES');
  const readPrefixes = [...new Set([...WRITE_PREFIXES, ...(readExtra ?? SEED_PREFIXES)])];
  for (const p of readPrefixes) {
    if (!/^[A-Za-z0-9._-]+(\/[A-Za-z0-9._-]+)*\/$/.test(p) || p.split('/').some((s) => s === '..' || s === '.')) {
      throw new ConfigError(`SCENELAB_READ_PREFIXES: "${p}" must be a relative folder ending in / (e.g. seg_train/)`);
    }
  }
  const writeExpiry = int(env, 'SCENELAB_WRITE_URL_TTL_S', 900, 10, 900);
  return {
    host: str(env, 'SCENELAB_HOST') ?? (container ? '0.0.0.0' : '127.0.0.1'),
    port: aipPort !== undefined ? int(env, 'AIP_HTTP_PORT', 8080, 1, 65535) : int(env, 'SCENELAB_PORT', 8787, 0, 65535),
    publicUrl: publicUrl === undefined ? undefined : origin('SCENELAB_PUBLIC_URL', publicUrl),
    token: str(env, 'SCENELAB_TOKEN'),
    corsOrigins: (list(env, 'SCENELAB_CORS_ORIGINS') ?? []).map((o) => origin('SCENELAB_CORS_ORIGINS', o)),
    trustProxy: bool(env, 'SCENELAB_TRUST_PROXY'),
    dataDir,
    webDir: path.resolve(str(env, 'SCENELAB_WEB_DIR') ?? path.join(REPO_ROOT, 'dist', 'web')),
    logLevel: str(env, 'SCENELAB_LOG_LEVEL') ?? 'info',
    bodyLimit: VERTEX_BODY_LIMIT,
    rateLimits: {
      sign: int(env, 'SCENELAB_RATE_LIMIT_SIGN', 600, 1, 1_000_000),
      predict: int(env, 'SCENELAB_RATE_LIMIT_PREDICT', 600, 1, 1_000_000),
    },
    storage,
    gcsApiEndpoint: str(env, 'SCENELAB_GCS_API_ENDPOINT'),
    readPrefixes,
    limits: {
      maxImageBytes: int(env, 'SCENELAB_MAX_IMAGE_BYTES', 20 * 1024 * 1024, 1024, 1024 ** 3),
      maxArtifactBytes: int(env, 'SCENELAB_MAX_ARTIFACT_BYTES', 256 * 1024 * 1024, 1024, 4 * 1024 ** 3),
      maxImagePixels: int(env, 'SCENELAB_MAX_IMAGE_PIXELS', 4096 * 4096, 1, 50_000_000),
      maxInstances: int(env, 'SCENELAB_MAX_INSTANCES', 32, 1, 1024),
      maxBatch: int(env, 'SCENELAB_MAX_BATCH', 4, 1, 256),
    },
    expiry: { write: writeExpiry, read: int(env, 'SCENELAB_READ_URL_TTL_S', 3600, 10, 3600) },
    predict,
    predictWorker: str(env, 'SCENELAB_PREDICT_WORKER') === undefined ? true : bool(env, 'SCENELAB_PREDICT_WORKER'),
    container,
    training,
  };
}

/** SCENELAB_TRAINING_* (see .env.example): Vertex AI training for the app, off unless a project is set. */
function trainingConfig(env: Env, storage: StorageConfig): TrainingConfig | undefined {
  const project = str(env, 'SCENELAB_TRAINING_PROJECT');
  if (project === undefined) return undefined;
  const region = str(env, 'SCENELAB_TRAINING_REGION');
  if (region === undefined) throw new ConfigError('SCENELAB_TRAINING_PROJECT is set: SCENELAB_TRAINING_REGION is needed too (e.g. europe-west4)');
  if (!/^[a-z][a-z0-9-]{4,28}[a-z0-9]$/.test(project)) throw new ConfigError(`SCENELAB_TRAINING_PROJECT="${project}" is not a project id`);
  if (!/^[a-z]+-[a-z]+\d+$/.test(region)) throw new ConfigError(`SCENELAB_TRAINING_REGION="${region}" is not a region (e.g. europe-west4)`);
  if (storage.kind !== 'gcs') throw new ConfigError('Vertex AI training reads the data from Cloud Storage: set SCENELAB_GCS_BUCKET as well as SCENELAB_TRAINING_PROJECT');
  const staging = str(env, 'SCENELAB_TRAINING_STAGING') ?? `gs://${storage.bucket}/training`;
  const m = /^gs:\/\/([a-z0-9][a-z0-9._-]{1,220}[a-z0-9])(?:\/(.*?))?\/*$/.exec(staging);
  if (!m) throw new ConfigError(`SCENELAB_TRAINING_STAGING="${staging}" is not gs://BUCKET/PATH`);
  const accelerator = str(env, 'SCENELAB_TRAINING_ACCELERATOR');
  if (accelerator !== undefined && !/^[A-Z][A-Z0-9_]+:[1-9][0-9]*$/.test(accelerator)) throw new ConfigError(`SCENELAB_TRAINING_ACCELERATOR="${accelerator}" must be TYPE:COUNT (e.g. NVIDIA_TESLA_T4:1)`);
  return {
    project,
    region,
    bucket: m[1]!,
    root: m[2] ?? '',
    machineType: str(env, 'SCENELAB_TRAINING_MACHINE_TYPE') ?? 'n1-standard-4',
    accelerator,
    replicas: int(env, 'SCENELAB_TRAINING_REPLICAS', 1, 1, 64),
    apiEndpoint: str(env, 'SCENELAB_TRAINING_API_ENDPOINT'),
    pollMs: int(env, 'SCENELAB_TRAINING_POLL_MS', 10_000, 50, 600_000),
  };
}
