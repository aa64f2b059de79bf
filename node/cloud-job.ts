/**
 * One SceneLab run planned as a Vertex AI CustomJob, for whoever submits it (the CLI, the
 * server for the app): the staging folder, the uploads it needs (trainer package, local data,
 * weights), the job spec, and the trainer's progress file while it runs.
 */
import type { Storage } from '@google-cloud/storage';
import type { RunConfig } from '../model/run/config';
import { fusePath, planData, planWeights, stage, uploadObject, type StagedInput } from './cloud-run';
import { runConfigToFlags } from './run-flags';
import { trainerSdist } from './trainer-package';
import { customJobSpec, type JobResources } from './vertex-training';

export interface CloudJobRequest {
  config: RunConfig;
  /** A local folder or import file (uploaded), or `gs://…` (read in place). */
  data: string;
  /** A local `.pth` (uploaded) or `gs://…`, or null. */
  weights: string | null;
  bucket: string;
  /** Folder under which the job gets its own folder `<root>/<name>/`. */
  root: string;
  name: string;
  resources: JobResources;
  /** More trainer flags (e.g. the tuning metric). */
  extraArgs?: string[];
  /** Have the trainer keep its progress lines in `<job folder>/output/progress.jsonl`. */
  progress?: boolean;
}

export interface CloudJobPlan {
  name: string;
  bucket: string;
  /** The job's folder in the bucket. */
  prefix: string;
  customJob: Record<string, unknown>;
  uploads: { sdist: { object: string; bytes: Uint8Array }; data: StagedInput; weights: StagedInput | null };
  /** The trainer's flags for the same run without the cloud, for a dry run's note. */
  trainerFlags: string[];
}

/** Where the trainer writes the model of a job (Vertex AI's `AIP_MODEL_DIR`). */
export const modelFolder = (plan: Pick<CloudJobPlan, 'prefix'>, trial?: string): string => `${plan.prefix}/output/${trial ? `${trial}/` : ''}model`;

/** Plans the job; nothing is uploaded or sent yet. */
export async function planCloudJob(req: CloudJobRequest): Promise<CloudJobPlan> {
  const prefix = [req.root.replace(/^\/+|\/+$/g, ''), req.name].filter(Boolean).join('/');
  const data = await planData(req.data, req.bucket, prefix);
  const weights = req.weights ? await planWeights(req.weights, req.bucket, prefix) : null;
  const sdist = await trainerSdist();
  const packageObject = `${prefix}/trainer/${sdist.name}`;
  const flags = [...runConfigToFlags(req.config), ...(req.extraArgs ?? [])];
  const progress = req.progress ? [`--progress=${fusePath(req.bucket, `${prefix}/output/progress.jsonl`)}`] : [];
  const args = [`--data=${data.trainerPath}`, ...(weights ? [`--weights=${weights.trainerPath}`] : []), ...flags, ...progress];
  const customJob = customJobSpec({
    displayName: req.name,
    packageUri: `gs://${req.bucket}/${packageObject}`,
    args,
    outputUriPrefix: `gs://${req.bucket}/${prefix}/output`,
    resources: req.resources,
    labels: { arch: req.config.arch.replace(/_/g, '-') },
  });
  return { name: req.name, bucket: req.bucket, prefix, customJob, uploads: { sdist: { object: packageObject, bytes: sdist.bytes }, data, weights }, trainerFlags: flags };
}

/** Uploads the trainer package, and the data and weights when they were local. */
export async function stageCloudJob(storage: Storage, plan: CloudJobPlan, log: (line: string) => void = () => undefined): Promise<void> {
  const { sdist, data, weights } = plan.uploads;
  await uploadObject(storage, plan.bucket, sdist.object, sdist.bytes, 'application/gzip');
  log(`staged gs://${plan.bucket}/${sdist.object}`);
  await stage(storage, plan.bucket, data, (done, total) => {
    if (done === total || done % 200 === 0) log(`staged data: ${done}/${total} files`);
  });
  if (weights) await stage(storage, plan.bucket, weights);
}

/** One epoch as the trainer reports it. */
export interface EpochProgress {
  epoch: number;
  epochs: number;
  trainLoss: number;
  valAccuracy: number | null;
  imagesPerSecond: number;
  etaSeconds: number;
}

/**
 * Reads the trainer's progress file and hands over the epochs after the first `seen` lines;
 * returns how many lines are now seen. A file not written yet (or a failed read) changes nothing.
 */
export async function readProgress(storage: Storage, plan: Pick<CloudJobPlan, 'bucket' | 'prefix'>, seen: number, onEpoch: (e: EpochProgress) => void): Promise<number> {
  let text: string;
  try {
    const [bytes] = await storage.bucket(plan.bucket).file(`${plan.prefix}/output/progress.jsonl`).download();
    text = bytes.toString('utf8');
  } catch {
    return seen;
  }
  const lines = text.split('\n').filter(Boolean);
  for (const line of lines.slice(seen)) {
    let e: { event?: string } & Partial<EpochProgress>;
    try {
      e = JSON.parse(line) as typeof e;
    } catch {
      return seen; // cut short by a write in progress: read again next time
    }
    if (e.event === 'epoch') onEpoch({ epoch: e.epoch ?? 0, epochs: e.epochs ?? 0, trainLoss: e.trainLoss ?? NaN, valAccuracy: e.valAccuracy ?? null, imagesPerSecond: e.imagesPerSecond ?? 0, etaSeconds: e.etaSeconds ?? 0 });
    seen++;
  }
  return seen;
}
