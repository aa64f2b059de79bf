import * as grpc from '@grpc/grpc-js';
import { aiplatformService } from './protos';

/** A call as the emulator received it (proto-loader form, camelCase fields). */
export interface JobCall {
  method: 'CreateCustomJob' | 'GetCustomJob' | 'CancelCustomJob';
  request: Record<string, unknown>;
}

/** What running a job did: success, or a failure with its message (as Vertex AI reports in `job.error`). */
export type JobOutcome = { ok: true } | { ok: false; message: string };

/** Runs a job's workload when it reaches RUNNING: the test's stand-in for Vertex AI's machines. */
export type JobRunner = (job: Record<string, unknown>, signal: AbortSignal) => Promise<JobOutcome>;

interface Held {
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
      held.outcome = this.runner(job, held.controller.signal).catch((e: unknown) => ({ ok: false as const, message: String(e) }));
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
    this.server.addService(aiplatformService('JobService'), { createCustomJob, getCustomJob, cancelCustomJob });
  }

  async stop(): Promise<void> {
    for (const h of this.jobs.values()) h.controller.abort();
    await Promise.allSettled([...this.jobs.values()].map((h) => h.outcome));
    await new Promise<void>((resolve) => this.server.tryShutdown(() => resolve()));
  }
}
