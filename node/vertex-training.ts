/**
 * A SceneLab run as a Vertex AI CustomJob: the job spec (the prebuilt PyTorch container running
 * the staged trainer with `scenelab train`'s flags), and following it to the end. The CLI and
 * the server build and follow jobs through this module.
 */
import type { JobServiceClient } from '@google-cloud/aiplatform';
import { status as GrpcStatus } from '@grpc/grpc-js';
import { InputError } from './errors';

/** Prebuilt PyTorch training containers (Vertex AI's `pytorch-xla` images run on CPU, `pytorch-gpu` on GPUs). */
export const PYTORCH_CPU_IMAGE = 'us-docker.pkg.dev/vertex-ai/training/pytorch-xla.1-13.py310:latest';
export const PYTORCH_GPU_IMAGE = 'us-docker.pkg.dev/vertex-ai/training/pytorch-gpu.1-13.py310:latest';

export interface JobResources {
  machineType: string;
  /** e.g. `NVIDIA_TESLA_T4`, with a count. */
  accelerator: { type: string; count: number } | null;
  /** Machines in all: one chief plus `replicas - 1` workers (data-parallel). */
  replicas: number;
  /** Container override; by default the PyTorch image that fits the accelerator. */
  executorImageUri?: string;
}

export interface CustomJobInput {
  displayName: string;
  /** `gs://` URI of the trainer's source distribution. */
  packageUri: string;
  /** The trainer's flags (data, weights and the run's options). */
  args: string[];
  /** Where Vertex AI points `AIP_MODEL_DIR` (`<prefix>/model/`). */
  outputUriPrefix: string;
  resources: JobResources;
  labels?: Record<string, string>;
}

/** Parses `TYPE:COUNT` (e.g. `NVIDIA_TESLA_T4:1`). */
export function parseAccelerator(value: string | undefined): JobResources['accelerator'] {
  if (value === undefined) return null;
  const m = /^([A-Z][A-Z0-9_]+):([1-9][0-9]*)$/.exec(value);
  if (!m) throw new InputError(`--accelerator must be TYPE:COUNT such as NVIDIA_TESLA_T4:1, got "${value}"`);
  return { type: m[1]!, count: Number(m[2]) };
}

/** The `CustomJob` message exactly as it is sent (proto3 JSON field names, as the client library takes them). */
export function customJobSpec(input: CustomJobInput): Record<string, unknown> {
  const { resources: r } = input;
  if (!Number.isInteger(r.replicas) || r.replicas < 1 || r.replicas > 64) throw new InputError(`--replicas must be an integer from 1 to 64, got ${r.replicas}`);
  const machineSpec = {
    machineType: r.machineType,
    ...(r.accelerator && { acceleratorType: r.accelerator.type, acceleratorCount: r.accelerator.count }),
  };
  const pythonPackageSpec = {
    executorImageUri: r.executorImageUri ?? (r.accelerator ? PYTORCH_GPU_IMAGE : PYTORCH_CPU_IMAGE),
    packageUris: [input.packageUri],
    pythonModule: 'trainer.task',
    args: input.args,
  };
  // Vertex AI's first pool is the chief (rank 0); the second holds the other workers. Both run the same trainer.
  const workerPoolSpecs = [{ machineSpec, replicaCount: '1', pythonPackageSpec }];
  if (r.replicas > 1) workerPoolSpecs.push({ machineSpec, replicaCount: String(r.replicas - 1), pythonPackageSpec });
  return {
    displayName: input.displayName,
    jobSpec: { workerPoolSpecs, baseOutputDirectory: { outputUriPrefix: input.outputUriPrefix } },
    labels: { 'created-by': 'scenelab', ...input.labels },
  };
}

/** A job's state as Vertex AI names it (`JOB_STATE_RUNNING`, …). */
export type JobState = string;
const DONE_STATES = new Set(['JOB_STATE_SUCCEEDED', 'JOB_STATE_FAILED', 'JOB_STATE_CANCELLED', 'JOB_STATE_EXPIRED', 'JOB_STATE_PARTIALLY_SUCCEEDED']);

/** A job that ended without success; the message says how and why. */
export class JobFailedError extends Error {
  constructor(
    message: string,
    readonly state: JobState,
  ) {
    super(message);
    this.name = 'JobFailedError';
  }
}

/** Errors worth waiting out while following a job: the network or the service, not the request. */
function isTransient(e: unknown): boolean {
  const code = (e as { code?: unknown }).code;
  return code === GrpcStatus.UNAVAILABLE || code === GrpcStatus.DEADLINE_EXCEEDED || code === GrpcStatus.INTERNAL || code === GrpcStatus.RESOURCE_EXHAUSTED || code === 'ECONNRESET' || code === 'ECONNREFUSED';
}

/** A refusal from the service as a message that says what to do. */
export function explainJobError(e: unknown, what: string): Error {
  const err = e as { code?: unknown; details?: unknown; message?: unknown };
  const detail = String(err.details ?? err.message ?? e);
  switch (err.code) {
    case GrpcStatus.RESOURCE_EXHAUSTED:
      return new InputError(`${what}: quota exceeded (${detail}); ask for more quota in this region or use fewer or smaller machines`);
    case GrpcStatus.NOT_FOUND:
      return new InputError(`${what}: not found (${detail}); check --project and --region`);
    case GrpcStatus.INVALID_ARGUMENT:
      return new InputError(`${what}: refused (${detail})`);
    case GrpcStatus.PERMISSION_DENIED:
    case GrpcStatus.UNAUTHENTICATED:
      return new InputError(`${what}: not allowed (${detail}); the credentials need roles/aiplatform.user on the project`);
    default:
      return e instanceof Error ? e : new Error(detail);
  }
}

export interface FollowOptions {
  /** Milliseconds between polls (default 10 s). */
  intervalMs?: number;
  /** How long the service may stay unreachable before following gives up (default 30 min). */
  outageMs?: number;
  signal?: AbortSignal;
  onState?: (state: JobState, job: Record<string, unknown>) => void;
  /** Called after every poll while the job runs, e.g. to read the progress the trainer writes. */
  onPoll?: () => Promise<void>;
  /** Called when a poll fails and following goes on. */
  onRetry?: (error: Error, attempt: number) => void;
}

const sleep = (ms: number, signal?: AbortSignal): Promise<void> =>
  new Promise((resolve, reject) => {
    const t = setTimeout(resolve, ms);
    signal?.addEventListener('abort', () => (clearTimeout(t), reject(signal.reason as Error)), { once: true });
  });

/**
 * Polls `getCustomJob` until the job ends. A network or service outage does not end following:
 * it retries (with back-off) for up to `outageMs`, so a laptop that loses Wi-Fi picks the job up
 * again. Resolves with the succeeded job; rejects with {@link JobFailedError} otherwise.
 */
export async function followCustomJob(client: Pick<JobServiceClient, 'getCustomJob'>, name: string, options: FollowOptions = {}): Promise<Record<string, unknown>> {
  return followJob(async () => ((await client.getCustomJob({ name })) as unknown as [Record<string, unknown>])[0], name, options);
}

/** Follows any Vertex AI job (custom or tuning: the same states) through `poll`, as {@link followCustomJob} does. */
export async function followJob(poll: () => Promise<Record<string, unknown>>, name: string, options: FollowOptions = {}): Promise<Record<string, unknown>> {
  const interval = options.intervalMs ?? 10_000;
  const outage = options.outageMs ?? 30 * 60_000;
  let last: string | null = null;
  let failingSince: number | null = null;
  let attempt = 0;
  for (;;) {
    options.signal?.throwIfAborted();
    let job: Record<string, unknown>;
    try {
      job = await poll();
      failingSince = null;
      attempt = 0;
    } catch (e) {
      if (!isTransient(e)) throw explainJobError(e, `following ${name}`);
      failingSince ??= Date.now();
      if (Date.now() - failingSince > outage) throw new Error(`lost touch with Vertex AI for ${Math.round(outage / 60_000)} min while following ${name}; the job goes on: follow it again later`);
      options.onRetry?.(e as Error, ++attempt);
      await sleep(Math.min(interval * 2 ** Math.min(attempt, 5), 5 * 60_000), options.signal);
      continue;
    }
    const state = String(job.state ?? 'JOB_STATE_UNSPECIFIED');
    if (state !== last) options.onState?.(state, job);
    last = state;
    if (state === 'JOB_STATE_SUCCEEDED') return job;
    if (DONE_STATES.has(state)) {
      const error = job.error as { message?: string } | undefined;
      const why = state === 'JOB_STATE_CANCELLED' ? 'it was cancelled' : (error?.message ?? state.replace('JOB_STATE_', '').toLowerCase());
      throw new JobFailedError(`${name} ended ${state.replace('JOB_STATE_', '').toLowerCase()}: ${why}`, state);
    }
    await options.onPoll?.();
    await sleep(interval, options.signal);
  }
}
