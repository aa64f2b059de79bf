/**
 * The app's *Train in the cloud*: the server submits the same CustomJob `scenelab cloud train`
 * would (the browser never holds cloud credentials), follows it — also across a server restart,
 * since jobs are kept in the data folder — and when it succeeds puts the trained run in the
 * bucket as `models/NAME.zip`, which the app imports like any bundle.
 */
import { mkdir, readFile, rename, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { JobServiceClient } from '@google-cloud/aiplatform';
import type { Storage } from '@google-cloud/storage';
import { zipSync } from 'fflate';
import { validateRunConfig, type RunConfig } from '../../model/run/config';
import { modelFolder, planCloudJob, readProgress, stageCloudJob, type EpochProgress } from '../../node/cloud-job';
import { downloadFolder, uploadObject } from '../../node/cloud-run';
import { vertexClientOptions } from '../../node/google-cloud';
import { explainJobError, followCustomJob, JobFailedError, parseAccelerator } from '../../node/vertex-training';
import type { TrainingConfig } from '../config';
import { HttpError } from '../errors';

/** What the app asks for: a run of a dataset it uploaded, from weights it uploaded. */
export interface TrainingRequest {
  name: string;
  /** `datasets/NAME/` in the app's bucket. */
  dataset: string;
  /** A `.pth` object in the app's bucket, or null. */
  weights: string | null;
  config: RunConfig;
}

/** `downloading`: Vertex AI has finished and the run is on its way into the bucket. */
export type TrainingState = 'submitted' | 'queued' | 'pending' | 'running' | 'downloading' | 'succeeded' | 'failed' | 'cancelled';

/** A job as the app sees it. */
export interface TrainingJob {
  id: string;
  name: string;
  /** Vertex AI's resource name. */
  jobName: string;
  state: TrainingState;
  createdAt: string;
  updatedAt: string;
  epochs: EpochProgress[];
  error: string | null;
  /** `models/NAME.zip` once the run is in the bucket. */
  model: string | null;
  /** The job's folder in the staging bucket. */
  prefix: string;
  stagingBucket: string;
}

const ENDED: ReadonlySet<TrainingState> = new Set(['succeeded', 'failed', 'cancelled']);

export class TrainingJobs {
  private readonly jobs = new Map<string, TrainingJob>();
  private readonly followers = new Map<string, AbortController>();
  private client: JobServiceClient | null = null;
  private saving: Promise<void> = Promise.resolve();

  private constructor(
    private readonly config: TrainingConfig,
    private readonly storage: () => Storage,
    /** The app's bucket, where datasets, weights and models are. */
    private readonly appBucket: string,
    private readonly file: string,
    private readonly log: (msg: string) => void,
  ) {}

  /** Opens the job list kept in `dataDir` and resumes following every job that had not ended. */
  static async open(config: TrainingConfig, options: { storage: () => Storage; appBucket: string; dataDir: string; log?: (msg: string) => void }): Promise<TrainingJobs> {
    const jobs = new TrainingJobs(config, options.storage, options.appBucket, path.join(options.dataDir, 'training-jobs.json'), options.log ?? (() => undefined));
    try {
      for (const j of JSON.parse(await readFile(jobs.file, 'utf8')) as TrainingJob[]) jobs.jobs.set(j.id, j);
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'ENOENT') throw e;
    }
    for (const j of jobs.jobs.values()) if (!ENDED.has(j.state)) jobs.follow(j);
    return jobs;
  }

  private jobsClient(): JobServiceClient {
    return (this.client ??= new JobServiceClient(vertexClientOptions(this.config.region, this.config.apiEndpoint)));
  }

  list(): TrainingJob[] {
    return [...this.jobs.values()].sort((a, b) => b.createdAt.localeCompare(a.createdAt));
  }

  get(id: string): TrainingJob {
    const j = this.jobs.get(id);
    if (!j) throw new HttpError(404, 'no_such_job', `no training job ${id}`);
    return j;
  }

  /** Plans, stages and submits a job, then follows it in the background. */
  async submit(req: TrainingRequest): Promise<TrainingJob> {
    if (!/^datasets\/[A-Za-z0-9._-]+\/$/.test(req.dataset)) throw new HttpError(400, 'bad_dataset', `dataset must be a folder datasets/NAME/ the app uploaded, got "${req.dataset}"`);
    if (req.weights !== null && !/^(runs|models)\/[A-Za-z0-9._/-]+\.pth$/.test(req.weights)) throw new HttpError(400, 'bad_weights', `weights must be a .pth object under runs/ or models/, got "${req.weights}"`);
    let config: RunConfig;
    try {
      config = validateRunConfig(req.config);
    } catch (e) {
      throw new HttpError(400, 'bad_config', (e as Error).message);
    }
    if (typeof config.preprocessing === 'object') throw new HttpError(400, 'bad_config', 'a custom preprocessing spec cannot be trained in the cloud; use auto, caffe-bgr or torchvision');
    const [objects] = await this.storage().bucket(this.appBucket).getFiles({ prefix: req.dataset, maxResults: 1 });
    if (objects.length === 0) throw new HttpError(404, 'no_dataset', `nothing under gs://${this.appBucket}/${req.dataset}: upload the dataset to the bucket first`);
    const stamp = new Date().toISOString().replace(/[-:T]/g, '').slice(0, 14);
    const name = `${req.name.toLowerCase().replace(/[^a-z0-9-]+/g, '-').replace(/^-+|-+$/g, '').slice(0, 40) || 'run'}-${stamp}`;
    const plan = await planCloudJob({
      config,
      data: `gs://${this.appBucket}/${req.dataset}`,
      weights: req.weights === null ? null : `gs://${this.appBucket}/${req.weights}`,
      bucket: this.config.bucket,
      root: this.config.root,
      name,
      resources: { machineType: this.config.machineType, accelerator: parseAccelerator(this.config.accelerator), replicas: this.config.replicas },
      progress: true,
    });
    await stageCloudJob(this.storage(), plan, this.log);
    const parent = `projects/${this.config.project}/locations/${this.config.region}`;
    let created;
    try {
      [created] = await this.jobsClient().createCustomJob({ parent, customJob: plan.customJob });
    } catch (e) {
      throw new HttpError(502, 'vertex_refused', explainJobError(e, `Vertex AI refused the job in ${parent}`).message);
    }
    const now = new Date().toISOString();
    const job: TrainingJob = { id: name, name: req.name, jobName: created.name ?? '', state: 'submitted', createdAt: now, updatedAt: now, epochs: [], error: null, model: null, prefix: plan.prefix, stagingBucket: plan.bucket };
    this.jobs.set(job.id, job);
    await this.save();
    this.follow(job);
    return job;
  }

  /** Asks Vertex AI to cancel; following records the end. */
  async cancel(id: string): Promise<TrainingJob> {
    const job = this.get(id);
    if (ENDED.has(job.state)) throw new HttpError(409, 'job_ended', `the job has already ${job.state}`);
    try {
      await this.jobsClient().cancelCustomJob({ name: job.jobName });
    } catch (e) {
      throw new HttpError(502, 'vertex_refused', explainJobError(e, `cancelling ${job.jobName}`).message);
    }
    return job;
  }

  private update(job: TrainingJob, change: Partial<TrainingJob>): void {
    Object.assign(job, change, { updatedAt: new Date().toISOString() });
    void this.save();
  }

  private follow(job: TrainingJob): void {
    const controller = new AbortController();
    this.followers.set(job.id, controller);
    const storage = this.storage();
    const plan = { bucket: job.stagingBucket, prefix: job.prefix };
    let lines = 0;
    const progress = async (): Promise<void> => {
      lines = await readProgress(storage, plan, lines, (e) => {
        if (!job.epochs.some((x) => x.epoch === e.epoch)) this.update(job, { epochs: [...job.epochs, e] });
      });
    };
    void (async () => {
      try {
        await followCustomJob(this.jobsClient(), job.jobName, {
          intervalMs: this.config.pollMs,
          signal: controller.signal,
          onState: (state) => this.update(job, { state: state === 'JOB_STATE_SUCCEEDED' ? 'downloading' : (state.replace('JOB_STATE_', '').toLowerCase() as TrainingState) }),
          onPoll: progress,
          onRetry: (e) => this.log(`training job ${job.id}: cannot reach Vertex AI (${e.message.split('\n')[0]}); retrying`),
        });
        await progress();
        // The trainer's run, as a bundle the app imports (it completes the tfjs files itself).
        const files = await downloadFolder(storage, job.stagingBucket, modelFolder(plan));
        if (!files.has('model.pth')) throw new Error(`the job wrote no model.pth under gs://${job.stagingBucket}/${modelFolder(plan)}/`);
        const model = `models/${job.id}.zip`;
        await uploadObject(storage, this.appBucket, model, zipSync(Object.fromEntries(files), { level: 6 }), 'application/zip');
        this.update(job, { state: 'succeeded', model });
      } catch (e) {
        if (controller.signal.aborted) return; // the server is closing: following resumes when it starts again
        const state: TrainingState = e instanceof JobFailedError && e.state === 'JOB_STATE_CANCELLED' ? 'cancelled' : 'failed';
        this.update(job, { state, error: (e as Error).message });
      } finally {
        this.followers.delete(job.id);
      }
    })();
  }

  /** Writes the job list whole (a temporary file renamed into place), one write at a time. */
  private save(): Promise<void> {
    const text = JSON.stringify(this.list(), null, 2);
    this.saving = this.saving.then(async () => {
      await mkdir(path.dirname(this.file), { recursive: true });
      await writeFile(`${this.file}.tmp`, text);
      await rename(`${this.file}.tmp`, this.file);
    });
    return this.saving;
  }

  async close(): Promise<void> {
    for (const c of this.followers.values()) c.abort();
    await this.saving;
    await this.client?.close();
  }
}
