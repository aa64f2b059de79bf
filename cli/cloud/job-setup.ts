/**
 * What `scenelab cloud train` and `scenelab cloud tune` share: the flags, the checks, the staging
 * plan (trainer package, data, weights under a new prefix), the CustomJob a trial or a run
 * runs, and the upload, following and bringing back of the trained run.
 */
import { mkdir, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { JobServiceClient } from '@google-cloud/aiplatform';
import { Storage } from '@google-cloud/storage';
import type { RunConfig } from '../../model/run/config';
import { initNodeBackend } from '../../node/backend';
import { planCloudJob, readProgress, stageCloudJob, type CloudJobPlan } from '../../node/cloud-job';
import { downloadFolder, parseGs, writeRunFromTrainer } from '../../node/cloud-run';
import { vertexClientOptions } from '../../node/google-cloud';
import { copyTrainer } from '../../node/trainer-package';
import { parseAccelerator, type JobState } from '../../node/vertex-training';
import { numberOption } from '../args';
import { UsageError } from '../errors';
import { RUN_FLAGS, RUN_FLAGS_HELP, runConfigFromFlags } from '../run-options';

export const CLOUD_FLAGS = {
  ...RUN_FLAGS,
  out: { type: 'string' },
  project: { type: 'string' },
  region: { type: 'string' },
  staging: { type: 'string' },
  replicas: { type: 'string' },
  'machine-type': { type: 'string' },
  accelerator: { type: 'string' },
  'executor-image': { type: 'string' },
  name: { type: 'string' },
  'dry-run': { type: 'string' },
  'poll-seconds': { type: 'string' },
  'vertex-api-endpoint': { type: 'string' },
  'gcs-api-endpoint': { type: 'string' },
  json: { type: 'boolean' },
  help: { type: 'boolean', short: 'h' },
} as const;

export const CLOUD_FLAGS_HELP = `  --data DIR|FILE|gs://…  as for scenelab train; a local folder or import file is uploaded to the staging prefix,
                          gs:// data is read where it is (through Cloud Storage FUSE, /gcs/…)
  --out RUN_DIR           where the trained run comes back (model.json, weights.bin, model.pth, metrics, curves)
${RUN_FLAGS_HELP}
  --project P, --region R the Google Cloud project and Vertex AI region (e.g. europe-west4)
  --staging gs://B/P      where the trainer package, data, weights and outputs go (a new folder per job)
  --replicas N            machines per run (1): more run torch.distributed data-parallel training
  --machine-type T        (n1-standard-4)   --accelerator TYPE:COUNT  e.g. NVIDIA_TESLA_T4:1
  --executor-image URI    another training container (default: Vertex AI's prebuilt PyTorch image)
  --name NAME             job name (default scenelab-ARCH-TIMESTAMP)
  --dry-run DIR           write DIR/job.json (the request as it would be sent) and DIR/trainer/, submit nothing
  --poll-seconds N        how often to ask for the job's state (10)
  --vertex-api-endpoint URL, --gcs-api-endpoint URL   other endpoints (http://host:port for local emulators)
  --json                  print the result as one JSON object`;

type Values = { [K in keyof typeof CLOUD_FLAGS]?: (typeof CLOUD_FLAGS)[K]['type'] extends 'boolean' ? boolean : string };

/** A checked job, ready to stage: nothing has been uploaded yet. */
export interface JobSetup extends CloudJobPlan {
  config: RunConfig;
  parent: string;
  project: string;
  region: string;
  dryRun: string | undefined;
  out: string | undefined;
  pollMs: number;
  /** The trainer command that runs the same run without the cloud, for a dry run's note. */
  localCommand: string;
}

export const log = (line: string): void => void process.stderr.write(`${line}\n`);

/** Reads and checks the flags and plans the job; `extraArgs` go to the trainer (e.g. the tuning metric). */
export async function setUpJob(v: Values, command: string, extraArgs: string[] = [], options: { progress?: boolean } = {}): Promise<JobSetup> {
  if (!v.data) throw new UsageError('--data is required (a folder, an import file or gs://…)');
  const config = runConfigFromFlags(v);
  for (const flag of ['project', 'region', 'staging'] as const) if (!v[flag]) throw new UsageError(`--${flag} is required (see scenelab ${command} --help)`);
  if (!v['dry-run'] && !v.out) throw new UsageError('--out is required (where the trained run comes back)');
  const project = v.project!;
  const region = v.region!;
  if (!/^[a-z]+-[a-z]+\d+$/.test(region)) throw new UsageError(`--region ${region}: expected a region such as europe-west4`);
  if (!/^[a-z][a-z0-9-]{4,28}[a-z0-9]$/.test(project)) throw new UsageError(`--project ${project}: not a project id`);
  const staging = parseGs(v.staging!, '--staging');
  const resources = {
    machineType: v['machine-type'] ?? 'n1-standard-4',
    accelerator: parseAccelerator(v.accelerator),
    replicas: numberOption('replicas', v.replicas, 1, true),
    ...(v['executor-image'] && { executorImageUri: v['executor-image'] }),
  };
  const name = v.name ?? `scenelab-${config.arch.replace(/_/g, '-')}-${new Date().toISOString().replace(/[-:T]/g, '').slice(0, 14)}`;
  if (!/^[a-z0-9][a-z0-9-]{0,62}$/.test(name)) throw new UsageError(`--name ${name}: use lower-case letters, digits and "-"`);
  const plan = await planCloudJob({ config, data: v.data, weights: v.weights ?? null, bucket: staging.bucket, root: staging.path, name, resources, extraArgs, ...options });
  return {
    ...plan,
    config,
    parent: `projects/${project}/locations/${region}`,
    project,
    region,
    dryRun: v['dry-run'],
    out: v.out,
    pollMs: numberOption('poll-seconds', v['poll-seconds'], 10) * 1000,
    localCommand: `python3 -m trainer.task --data ${v.data} ${v.weights ? `--weights ${v.weights} ` : ''}${plan.trainerFlags.join(' ')} --out RUN_DIR`,
  };
}

/** A dry run: the request and the trainer on disk, nothing sent. */
export async function writeDryRun(setup: JobSetup, request: Record<string, unknown>): Promise<void> {
  const dir = setup.dryRun!;
  await mkdir(dir, { recursive: true });
  await writeFile(path.join(dir, 'job.json'), JSON.stringify({ parent: setup.parent, ...request }, null, 2) + '\n');
  await copyTrainer(dir);
  log(`wrote ${path.join(dir, 'job.json')} and ${path.join(dir, 'trainer')}/; nothing submitted`);
  log(`run it here: cd ${dir} && ${setup.localCommand}`);
}

/** The clients a job needs, pointed at the regional endpoints or at emulators. */
export function cloudClients(setup: JobSetup, v: Values): { storage: Storage; jobs: JobServiceClient } {
  return {
    storage: new Storage({ projectId: setup.project, ...(v['gcs-api-endpoint'] ? { apiEndpoint: v['gcs-api-endpoint'] } : {}) }),
    jobs: new JobServiceClient(vertexClientOptions(setup.region, v['vertex-api-endpoint'])),
  };
}

/** Uploads the trainer, the data and the weights. */
export const stageJob = (storage: Storage, setup: JobSetup): Promise<void> => stageCloudJob(storage, setup, log);

/** Prints each new state of a followed job. */
export const logState = (state: JobState): void => log(`${new Date().toISOString().slice(11, 19)} ${state.replace('JOB_STATE_', '').toLowerCase()}`);

/** Follows a job until it ends, with Ctrl-C stopping the following (never the job). */
export async function withSigint<T>(jobName: string, fn: (signal: AbortSignal) => Promise<T>): Promise<T> {
  const controller = new AbortController();
  const onSigint = (): void => controller.abort(new UsageError(`stopped following ${jobName}; the job goes on`));
  process.once('SIGINT', onSigint);
  try {
    return await fn(controller.signal);
  } finally {
    process.off('SIGINT', onSigint);
  }
}

/** Prints the epochs of the trainer's progress file not shown yet; returns how many lines it has seen. */
export const showProgress = (storage: Storage, setup: JobSetup, seen: number): Promise<number> =>
  readProgress(storage, setup, seen, (e) =>
    log(`epoch ${e.epoch}/${e.epochs} loss ${e.trainLoss.toFixed(4)}${e.valAccuracy !== null ? ` val acc ${e.valAccuracy.toFixed(4)}` : ''} (${e.imagesPerSecond.toFixed(1)} images/s, ${Math.round(e.etaSeconds)} s left)`),
  );

/** Downloads a model folder the trainer wrote and writes it as a complete run directory. */
export async function bringBack(storage: Storage, setup: JobSetup, folder: string): Promise<{ valAccuracy: number | null }> {
  const files = await downloadFolder(storage, setup.bucket, folder);
  await initNodeBackend('wasm');
  await writeRunFromTrainer(files, setup.out!);
  const metrics = files.get('metrics.json') ? (JSON.parse(new TextDecoder().decode(files.get('metrics.json'))) as { accuracy?: number }) : null;
  return { valAccuracy: metrics?.accuracy ?? null };
}
