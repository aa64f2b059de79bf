import { PredictionServiceClient } from '@google-cloud/aiplatform';
import { status as GrpcStatus } from '@grpc/grpc-js';
import { endpointName, vertexClientOptions } from '../../node/google-cloud';
import { HttpError } from '../errors';
import { fromProtoValue, toProtoValue, type Json, type ProtoValue } from './proto-value';
import type { ImageInstance, PredictionResult, PredictOutcome, Predictor } from './types';

const KEYS_FOR_CLASS = ['label', 'class', 'predicted_class', 'predicted_label', 'prediction', 'class_name'] as const;

function byLabels(scores: readonly number[], labels: readonly string[] | undefined): PredictionResult {
  const names = scores.map((_, i) => labels?.[i] ?? String(i));
  let best = 0;
  scores.forEach((s, i) => {
    if (s > scores[best]!) best = i;
  });
  return { label: names[best]!, probabilities: Object.fromEntries(names.map((n, i) => [n, scores[i]!])) };
}

/**
 * Reads one prediction whatever the serving stack: this server's own container
 * (`{label, probabilities}`), a TorchServe handler that returns a class per instance (a name
 * or an index, possibly wrapped in a one-element list or `{"class": …}`), TorchServe's image
 * classifier (`{"forest": 0.91, …}`), or a bare score vector.
 */
export function normalizePrediction(p: Json, labels: readonly string[] | undefined): PredictionResult | null {
  const className = (v: Json | undefined): string | null =>
    typeof v === 'string' ? v : typeof v === 'number' && Number.isInteger(v) && v >= 0 ? (labels?.[v] ?? String(v)) : null;
  const direct = className(p);
  if (direct !== null) return { label: direct, probabilities: {} };
  if (Array.isArray(p)) {
    if (p.length === 1) return normalizePrediction(p[0]!, labels);
    if (p.length > 1 && p.every((x): x is number => typeof x === 'number')) return byLabels(p, labels);
    return null;
  }
  if (p === null || typeof p !== 'object') return null;
  const numeric = (o: { [k: string]: Json }): Record<string, number> | null =>
    Object.values(o).length > 0 && Object.values(o).every((x) => typeof x === 'number') ? (o as Record<string, number>) : null;
  const probs = p.probabilities;
  const probabilities = Array.isArray(probs) && probs.every((x): x is number => typeof x === 'number') ? byLabels(probs, labels).probabilities : probs && typeof probs === 'object' && !Array.isArray(probs) ? (numeric(probs) ?? {}) : {};
  for (const key of KEYS_FOR_CLASS) {
    const name = className(p[key]);
    if (name !== null) return { label: name, probabilities };
  }
  if (Object.keys(probabilities).length > 0) return byLabels(Object.values(probabilities), Object.keys(probabilities));
  const scores = numeric(p);
  return scores ? byLabels(Object.values(scores), Object.keys(scores)) : null;
}

interface GrpcLikeError {
  code?: unknown;
  details?: unknown;
  message?: unknown;
}

/** Maps a Vertex AI call failure to an HTTP error that says what happened and what to check. */
export function vertexError(e: unknown, timeoutMs: number, endpoint: string): HttpError {
  const err = (typeof e === 'object' && e !== null ? e : {}) as GrpcLikeError;
  const code = typeof err.code === 'number' ? err.code : undefined;
  const detail = String(err.details || err.message || e).split('\n')[0] ?? '';
  switch (code) {
    case GrpcStatus.DEADLINE_EXCEEDED:
      return new HttpError(504, 'vertex_timeout', `Vertex AI endpoint did not answer within ${timeoutMs} ms`);
    case GrpcStatus.UNAVAILABLE:
      return new HttpError(503, 'vertex_unavailable', `Vertex AI endpoint is unavailable (${detail}); try again shortly`);
    case GrpcStatus.RESOURCE_EXHAUSTED:
      return new HttpError(429, 'vertex_quota', `Vertex AI quota exhausted (${detail}); try again later`);
    case GrpcStatus.NOT_FOUND:
      return new HttpError(502, 'vertex_not_found', `Vertex AI endpoint ${endpoint} was not found: check SCENELAB_VERTEX_PROJECT, _REGION and _ENDPOINT_ID`);
    case GrpcStatus.FAILED_PRECONDITION:
      return new HttpError(503, 'vertex_not_ready', `Vertex AI endpoint cannot serve yet (${detail}): is a model deployed to it?`);
    case GrpcStatus.PERMISSION_DENIED:
    case GrpcStatus.UNAUTHENTICATED:
      return new HttpError(502, 'vertex_auth', `Vertex AI refused the server's credentials (${detail}): grant its service account roles/aiplatform.user`);
    case GrpcStatus.INVALID_ARGUMENT:
      return new HttpError(400, 'vertex_rejected', `the Vertex AI model rejected the request: ${detail}`);
    default:
      if (/default credentials/i.test(detail)) {
        return new HttpError(502, 'vertex_auth', `no Google Cloud credentials for Vertex AI (${detail}): set GOOGLE_APPLICATION_CREDENTIALS or run on Google Cloud`);
      }
      return new HttpError(502, 'vertex_error', `Vertex AI endpoint failed: ${detail}`);
  }
}

export interface VertexPredictorOptions {
  project: string;
  region: string;
  endpointId: string;
  timeoutMs: number;
  /** Class names for endpoints that answer with indices or bare score vectors. */
  labels?: readonly string[] | undefined;
  /** Operator override of the API endpoint (emulators), see `vertexClientOptions`. */
  apiEndpoint?: string | undefined;
  client?: PredictionServiceClient;
}

/**
 * Brokers predictions to a Vertex AI endpoint with `PredictionServiceClient` on the regional
 * API endpoint. The endpoint, region and project come from the configuration only; the
 * request's base64 images are forwarded as they arrived.
 */
export class VertexPredictor implements Predictor {
  readonly source = 'vertex' as const;
  readonly endpoint: string;
  private client: PredictionServiceClient | undefined;

  constructor(private readonly options: VertexPredictorOptions) {
    this.endpoint = endpointName(options.project, options.region, options.endpointId);
    this.client = options.client;
  }

  describe(): string {
    return `Vertex AI endpoint ${this.endpoint}${this.options.apiEndpoint ? ` via ${this.options.apiEndpoint}` : ''} (timeout ${this.options.timeoutMs} ms)`;
  }

  ready(): boolean {
    return true;
  }

  status(): Record<string, unknown> {
    return { source: 'vertex', ready: true, endpoint: this.endpoint, timeoutMs: this.options.timeoutMs };
  }

  private getClient(): PredictionServiceClient {
    // Made on first use: a missing credential then fails one request with a clear message
    // instead of stopping the server.
    this.client ??= new PredictionServiceClient(vertexClientOptions(this.options.region, this.options.apiEndpoint));
    return this.client;
  }

  async predict(instances: readonly ImageInstance[]): Promise<PredictOutcome> {
    let response;
    try {
      [response] = await this.getClient().predict(
        { endpoint: this.endpoint, instances: instances.map((i) => toProtoValue({ data: { b64: i.b64 } })) },
        { timeout: this.options.timeoutMs },
      );
    } catch (e) {
      throw vertexError(e, this.options.timeoutMs, this.endpoint);
    }
    const raw = (response.predictions ?? []) as ProtoValue[];
    if (raw.length !== instances.length) {
      throw new HttpError(502, 'vertex_bad_response', `Vertex AI answered ${raw.length} predictions for ${instances.length} instances`);
    }
    const predictions = raw.map((v, i) => {
      let json: Json;
      try {
        json = fromProtoValue(v);
      } catch {
        throw new HttpError(502, 'vertex_bad_response', `Vertex AI prediction ${i} is empty`);
      }
      const p = normalizePrediction(json, this.options.labels);
      if (!p) throw new HttpError(502, 'vertex_bad_response', `Vertex AI prediction ${i} has a shape this server does not understand: ${JSON.stringify(json).slice(0, 200)}`);
      return p;
    });
    return {
      predictions,
      source: 'vertex',
      model: { id: this.endpoint, ...(response.deployedModelId ? { deployedModelId: response.deployedModelId } : {}) },
    };
  }

  async close(): Promise<void> {
    await this.client?.close();
  }
}
