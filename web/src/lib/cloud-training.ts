/**
 * *Train in the cloud* from the app: the dataset and the starting weights go to the server's
 * bucket (through signed URLs, as any upload), the server submits the run to Vertex AI and
 * follows it, and the finished run comes back from the bucket into the Models screen.
 */
import type { RunConfig } from '../../../model/run/config';
import { BucketClient, safeName } from '../api/bucket-client';
import { isEnded, TrainingClient, type CloudJob } from '../api/training-client';
import type { DatasetSummary, Engine, ModelSummary, Progress } from '../engine/types';
import { bucketClient, uploadDataset } from './bucket';

export const trainingClient = new TrainingClient();

export interface CloudRunRequest {
  name: string;
  dataset: DatasetSummary;
  weightsId: string | null;
  config: RunConfig;
}

/** Uploads what the run needs (the dataset once, the weights each time) and submits it. */
export async function submitCloudRun(
  engine: Engine,
  request: CloudRunRequest,
  options: { signal?: AbortSignal; onProgress?: (p: Progress) => void; bucket?: BucketClient; training?: TrainingClient } = {},
): Promise<CloudJob> {
  const bucket = options.bucket ?? bucketClient;
  const training = options.training ?? trainingClient;
  const folder = `datasets/${safeName(request.dataset.name)}-${request.dataset.id.slice(0, 8)}/`;
  // Objects are never overwritten: a dataset uploaded before is used as it is.
  const already = await bucket.list(folder, options.signal);
  if (already.length < request.dataset.imageCount) {
    await uploadDataset(engine, request.dataset, { client: bucket, ...(options.signal && { signal: options.signal }), ...(options.onProgress && { onProgress: options.onProgress }) });
  }
  let weights: string | null = null;
  if (request.weightsId) {
    weights = `runs/${safeName(request.name)}-${Date.now().toString(36)}/weights.pth`;
    const bytes = await engine.exportWeights(request.weightsId);
    await bucket.upload(weights, new Blob([bytes as Uint8Array<ArrayBuffer>], { type: 'application/zip' }), options.signal);
  }
  return training.submit({ name: request.name, dataset: folder, weights, config: request.config });
}

/** Polls a job until it ends, reporting every change. */
export async function followCloudRun(id: string, onUpdate: (job: CloudJob) => void, options: { intervalMs?: number; signal?: AbortSignal; training?: TrainingClient } = {}): Promise<CloudJob> {
  const training = options.training ?? trainingClient;
  for (;;) {
    options.signal?.throwIfAborted();
    const job = await training.job(id);
    onUpdate(job);
    if (isEnded(job.state)) return job;
    await new Promise((r) => setTimeout(r, options.intervalMs ?? 5000));
  }
}

/** Brings a finished run from the bucket into the app's models. */
export async function importCloudRun(engine: Engine, job: CloudJob, options: { bucket?: BucketClient } = {}): Promise<ModelSummary> {
  if (job.state !== 'succeeded' || !job.model) throw new Error(`the cloud run ${job.name} has no model to import (${job.state}${job.error ? `: ${job.error}` : ''})`);
  const blob = await (options.bucket ?? bucketClient).download({ name: job.model, size: 0, updated: '' });
  return engine.importModel(`${job.name} (cloud)`, blob);
}
