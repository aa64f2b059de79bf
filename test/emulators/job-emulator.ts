import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import * as grpc from '@grpc/grpc-js';
import { Rng } from '../../model/rng';
import { aiplatformService } from './protos';

/** A call as the emulator received it (proto-loader form, camelCase fields). */
export interface JobCall {
  method: 'CreateCustomJob' | 'GetCustomJob' | 'CancelCustomJob' | 'CreateHyperparameterTuningJob' | 'GetHyperparameterTuningJob';
  request: Record<string, unknown>;
}

/** What running a job did: success, or a failure with its message (as Vertex AI reports in `job.error`). */
export type JobOutcome = { ok: true } | { ok: false; message: string };

/** Runs a job's workload when it reaches RUNNING: the test's stand-in for Vertex AI's machines. `env` is what Vertex AI adds for a tuning trial. */
export type JobRunner = (job: Record<string, unknown>, signal: AbortSignal, env?: Record<string, string>) => Promise<JobOutcome>;

interface Held {
  tuning?: boolean;
  job: Record<string, unknown>;
  controller: AbortController;
  outcome: Promise<JobOutcome> | null;
  polls: number;
}

const grpcError = (code: grpc.status, details: string): grpc.ServiceError => Object.assign(new Error(details), { code, details, metadata: new grpc.Metadata() });

/**
 * A local gRPC emulator of `google.cloud.aiplatform.v1.JobService` (CreateCustomJob,
 * GetCustomJob, CancelCustomJob) from the protos `@google-cloud/aiplatform` ships. A job walks
 * QUEUED → PENDING → RUNNING on successive polls, runs its workload through the injected
 * runner while RUNNING, and ends SUCCEEDED or FAILED with the runner's message. Every request
 * is recorded so tests can assert the exact `CreateCustomJob` body; `unavailable` makes the
 * next N calls fail as a dropped network would.
 */
export class JobEmulator {
  readonly calls: JobCall[] = [];
  readonly jobs = new Map<string, Held>();
  /** The next this many calls fail with UNAVAILABLE. */
  unavailable = 0;
  /** Refuses the next CreateCustomJob with this error (a quota, a bad region). */
  refuseCreate: { code: grpc.status; details: string } | null = null;
  private nextId = 7000;

  private constructor(
    private readonly server: grpc.Server,
    readonly port: number,
    private readonly runner: JobRunner,
  ) {}

  get address(): string {
    return `http://127.0.0.1:${this.port}`;
  }

  static async start(runner: JobRunner): Promise<JobEmulator> {
    const server = new grpc.Server();
    const port = await new Promise<number>((resolve, reject) =>
      server.bindAsync('127.0.0.1:0', grpc.ServerCredentials.createInsecure(), (err, p) => (err ? reject(err) : resolve(p))),
    );
    const emulator = new JobEmulator(server, port, runner);
    emulator.register();
    return emulator;
  }

  private dropped(): grpc.ServiceError | null {
    if (this.unavailable <= 0) return null;
    this.unavailable--;
    return grpcError(grpc.status.UNAVAILABLE, 'connection reset by peer');
  }

  /** Moves a job one step on each poll; RUNNING lasts until its workload ends. */
  private advance(held: Held): void {
    const job = held.job;
    const state = job.state as string;
    const now = new Date();
    const stamp = { seconds: String(Math.floor(now.getTime() / 1000)), nanos: 0 };
    if (state === 'JOB_STATE_QUEUED') job.state = 'JOB_STATE_PENDING';
    else if (state === 'JOB_STATE_PENDING') {
      job.state = 'JOB_STATE_RUNNING';
      job.startTime = stamp;
      held.outcome = (held.tuning ? this.runTrials(held) : this.runner(job, held.controller.signal)).catch((e: unknown) => ({ ok: false as const, message: String(e) }));
      void held.outcome.then((o) => {
        if (job.state === 'JOB_STATE_CANCELLING') job.state = 'JOB_STATE_CANCELLED';
        else if (o.ok) job.state = 'JOB_STATE_SUCCEEDED';
        else {
          job.state = 'JOB_STATE_FAILED';
          job.error = { code: 3, message: o.message };
        }
        job.endTime = { seconds: String(Math.floor(Date.now() / 1000)), nanos: 0 };
      });
    }
  }

  /** Vizier, locally: trials one after another with parameters drawn at random (seeded) from the study's specs. */
  private async runTrials(held: Held): Promise<JobOutcome> {
    const job = held.job;
    const study = job.studySpec as { metrics: Array<{ metricId: string; goal: string }>; parameters: Array<Record<string, unknown>> };
    const metricId = study.metrics[0]!.metricId;
    const trialSpec = job.trialJobSpec as { workerPoolSpecs: Array<{ pythonPackageSpec: { args?: string[] } }>; baseOutputDirectory: { outputUriPrefix: string } };
    const rng = new Rng(17);
    const trials: Array<Record<string, unknown>> = [];
    job.trials = trials;
    const count = Number(job.maxTrialCount ?? 1);
    for (let i = 1; i <= count && !held.controller.signal.aborted; i++) {
      const params = study.parameters.map((p) => ({ parameterId: String(p.parameterId), value: sample(p, rng) }));
      const id = String(i);
      const trial: Record<string, unknown> = { id, state: 'ACTIVE', parameters: params.map((p) => ({ parameterId: p.parameterId, value: typeof p.value === 'number' ? { numberValue: p.value } : { stringValue: p.value } })) };
      trials.push(trial);
      const metricDir = mkdtempSync(path.join(tmpdir(), 'scenelab-hptune-'));
      const metricFile = path.join(metricDir, 'output.metrics');
      const flags = params.map((p) => `--${p.parameterId}=${p.value}`);
      const trialJob = {
        name: `${String(job.name)}/trials/${id}`,
        jobSpec: {
          ...trialSpec,
          workerPoolSpecs: trialSpec.workerPoolSpecs.map((pool) => ({ ...pool, pythonPackageSpec: { ...pool.pythonPackageSpec, args: [...(pool.pythonPackageSpec.args ?? []), ...flags] } })),
          baseOutputDirectory: { outputUriPrefix: `${trialSpec.baseOutputDirectory.outputUriPrefix}/${id}` },
        },
      };
      const outcome = await this.runner(trialJob, held.controller.signal, { CLOUD_ML_TRIAL_ID: id, CLOUD_ML_HP_METRIC_FILE: metricFile });
      let values: number[] = [];
      try {
        values = readFileSync(metricFile, 'utf8').trim().split('\n').filter(Boolean).map((l) => Number((JSON.parse(l) as Record<string, string>)[metricId]));
      } catch {
        values = [];
      }
      rmSync(metricDir, { recursive: true, force: true });
      const better = study.metrics[0]!.goal === 'MINIMIZE' ? Math.min : Math.max;
      if (outcome.ok && values.length > 0) {
        trial.state = 'SUCCEEDED';
        trial.finalMeasurement = { stepCount: String(values.length), metrics: [{ metricId, value: better(...values) }] };
      } else {
        trial.state = 'INFEASIBLE';
        trial.infeasibleReason = outcome.ok ? `the trial reported no ${metricId}` : outcome.message;
      }
    }
    return trials.some((t) => t.state === 'SUCCEEDED') ? { ok: true } : { ok: false, message: `all ${trials.length} trials failed; the first: ${String(trials[0]?.infeasibleReason ?? '')}` };
  }

  private register(): void {
    type Unary = grpc.handleUnaryCall<Record<string, unknown>, Record<string, unknown>>;
    const createCustomJob: Unary = (call, callback) => {
      this.calls.push({ method: 'CreateCustomJob', request: call.request });
      const err = this.dropped();
      if (err) return callback(err);
      if (this.refuseCreate) {
        const r = this.refuseCreate;
        this.refuseCreate = null;
        return callback(grpcError(r.code, r.details));
      }
      const parent = String(call.request.parent ?? '');
      const spec = (call.request.customJob ?? {}) as Record<string, unknown>;
      if (!spec.displayName) return callback(grpcError(grpc.status.INVALID_ARGUMENT, 'custom_job.display_name is required'));
      const job = { ...spec, name: `${parent}/customJobs/${this.nextId++}`, state: 'JOB_STATE_QUEUED', createTime: { seconds: String(Math.floor(Date.now() / 1000)), nanos: 0 } };
      this.jobs.set(job.name, { job, controller: new AbortController(), outcome: null, polls: 0 });
      callback(null, job);
    };
    const getCustomJob: Unary = (call, callback) => {
      this.calls.push({ method: 'GetCustomJob', request: call.request });
      const err = this.dropped();
      if (err) return callback(err);
      const held = this.jobs.get(String(call.request.name ?? ''));
      if (!held) return callback(grpcError(grpc.status.NOT_FOUND, `no job ${String(call.request.name)}`));
      held.polls++;
      this.advance(held);
      callback(null, held.job);
    };
    const cancelCustomJob: Unary = (call, callback) => {
      this.calls.push({ method: 'CancelCustomJob', request: call.request });
      const held = this.jobs.get(String(call.request.name ?? ''));
      if (!held) return callback(grpcError(grpc.status.NOT_FOUND, `no job ${String(call.request.name)}`));
      held.job.state = held.outcome ? 'JOB_STATE_CANCELLING' : 'JOB_STATE_CANCELLED';
      held.controller.abort();
      callback(null, {});
    };
    const createHyperparameterTuningJob: Unary = (call, callback) => {
      this.calls.push({ method: 'CreateHyperparameterTuningJob', request: call.request });
      const err = this.dropped();
      if (err) return callback(err);
      const parent = String(call.request.parent ?? '');
      const spec = (call.request.hyperparameterTuningJob ?? {}) as Record<string, unknown>;
      const study = spec.studySpec as { metrics?: unknown[]; parameters?: unknown[] } | undefined;
      if (!spec.displayName || !study?.metrics?.length || !study.parameters?.length || !spec.trialJobSpec) {
        return callback(grpcError(grpc.status.INVALID_ARGUMENT, 'display_name, study_spec.metrics, study_spec.parameters and trial_job_spec are required'));
      }
      const job = { ...spec, name: `${parent}/hyperparameterTuningJobs/${this.nextId++}`, state: 'JOB_STATE_QUEUED', trials: [] };
      const held: Held = { job, controller: new AbortController(), outcome: null, polls: 0, tuning: true };
      this.jobs.set(job.name, held);
      callback(null, job);
    };
    const getHyperparameterTuningJob: Unary = (call, callback) => {
      this.calls.push({ method: 'GetHyperparameterTuningJob', request: call.request });
      const err = this.dropped();
      if (err) return callback(err);
      const held = this.jobs.get(String(call.request.name ?? ''));
      if (!held?.tuning) return callback(grpcError(grpc.status.NOT_FOUND, `no tuning job ${String(call.request.name)}`));
      held.polls++;
      this.advance(held);
      callback(null, held.job);
    };
    this.server.addService(aiplatformService('JobService'), { createCustomJob, getCustomJob, cancelCustomJob, createHyperparameterTuningJob, getHyperparameterTuningJob });
  }

  async stop(): Promise<void> {
    for (const h of this.jobs.values()) h.controller.abort();
    await Promise.allSettled([...this.jobs.values()].map((h) => h.outcome));
    await new Promise<void>((resolve) => this.server.tryShutdown(() => resolve()));
  }
}

/** One value drawn from a StudySpec parameter (proto-loader form, as the emulator receives it). */
function sample(p: Record<string, unknown>, rng: Rng): number | string {
  const log = p.scaleType === 'UNIT_LOG_SCALE';
  const between = (min: number, max: number): number => (log ? Math.exp(Math.log(min) + rng.next() * (Math.log(max) - Math.log(min))) : min + rng.next() * (max - min));
  const d = p.doubleValueSpec as { minValue: number; maxValue: number } | undefined;
  if (d) return between(d.minValue, d.maxValue);
  const n = p.integerValueSpec as { minValue: string; maxValue: string } | undefined;
  if (n) return Math.round(between(Number(n.minValue), Number(n.maxValue)));
  const discrete = p.discreteValueSpec as { values: number[] } | undefined;
  if (discrete) return discrete.values[rng.int(discrete.values.length)]!;
  const cat = p.categoricalValueSpec as { values: string[] } | undefined;
  if (cat) return cat.values[rng.int(cat.values.length)]!;
  throw new Error(`parameter ${String(p.parameterId)} has no value spec`);
}
