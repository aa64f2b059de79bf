/**
 * The browser's side of the server's Vertex AI training: whether the server offers it, submit a
 * run of a dataset already in the bucket, follow its jobs. The server holds the credentials.
 */
import type { RunConfig } from '../../../model/run/config';
import { BucketError, type BucketClientOptions } from './bucket-client';

export interface TrainingAvailability {
  available: boolean;
  reason?: string;
  region?: string;
  machineType?: string;
  accelerator?: string | null;
  replicas?: number;
}

export type CloudJobState = 'submitted' | 'queued' | 'pending' | 'running' | 'downloading' | 'succeeded' | 'failed' | 'cancelled';

export interface CloudEpoch {
  epoch: number;
  epochs: number;
  trainLoss: number;
  valAccuracy: number | null;
  imagesPerSecond: number;
  etaSeconds: number;
}

/** A training job as the server reports it. */
export interface CloudJob {
  id: string;
  name: string;
  jobName: string;
  state: CloudJobState;
  createdAt: string;
  updatedAt: string;
  epochs: CloudEpoch[];
  error: string | null;
  /** `models/NAME.zip` in the bucket once the run is there. */
  model: string | null;
}

export const isEnded = (state: CloudJobState): boolean => state === 'succeeded' || state === 'failed' || state === 'cancelled';

export class TrainingClient {
  private readonly baseUrl: string;
  private readonly fetchImpl: typeof fetch;

  constructor(private readonly options: BucketClientOptions = {}) {
    this.baseUrl = (options.baseUrl ?? '').replace(/\/+$/, '');
    this.fetchImpl = options.fetch ?? ((...a) => fetch(...a));
  }

  private async api<T>(path: string, init: RequestInit = {}): Promise<T> {
    const token = typeof this.options.token === 'function' ? this.options.token() : this.options.token;
    let res: Response;
    try {
      res = await this.fetchImpl(`${this.baseUrl}${path}`, { ...init, headers: { ...(init.body ? { 'content-type': 'application/json' } : {}), ...(token && { authorization: `Bearer ${token}` }) } });
    } catch (e) {
      if ((e as Error).name === 'AbortError') throw e;
      throw new BucketError('the SceneLab server cannot be reached (offline?)', 0);
    }
    const body = (await res.json().catch(() => null)) as { message?: string } | null;
    if (!res.ok) throw new BucketError(body?.message ?? `the server answered ${res.status}`, res.status);
    return body as T;
  }

  /** Whether the server trains on Vertex AI; an unreachable or older server counts as no. */
  async availability(): Promise<TrainingAvailability> {
    try {
      return await this.api<TrainingAvailability>('/api/training');
    } catch (e) {
      return { available: false, reason: (e as Error).message };
    }
  }

  submit(request: { name: string; dataset: string; weights: string | null; config: RunConfig }): Promise<CloudJob> {
    return this.api<CloudJob>('/api/training/jobs', { method: 'POST', body: JSON.stringify(request) });
  }

  async jobs(): Promise<CloudJob[]> {
    return (await this.api<{ jobs: CloudJob[] }>('/api/training/jobs')).jobs;
  }

  job(id: string): Promise<CloudJob> {
    return this.api<CloudJob>(`/api/training/jobs/${encodeURIComponent(id)}`);
  }

  cancel(id: string): Promise<CloudJob> {
    return this.api<CloudJob>(`/api/training/jobs/${encodeURIComponent(id)}/cancel`, { method: 'POST', body: '{}' });
  }
}
