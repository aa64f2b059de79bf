import type { ImageType } from '../storage/content';

/** One image's answer, the same from every source. */
export interface PredictionResult {
  label: string;
  /** Class name → probability. Empty when the source only names a class (a TorchServe handler). */
  probabilities: Record<string, number>;
}

/** Which model answered. */
export interface ModelRef {
  /** The run directory, bundle or object the local model came from, or the Vertex endpoint resource name. */
  id: string;
  arch?: string;
  classes?: number;
  /** Vertex: the deployed model that served the request. */
  deployedModelId?: string;
}

/** Where an answer came from. */
export type PredictionSource = 'local' | 'vertex';

/** A checked image of a request: the original base64 text (forwarded as is) and its bytes. */
export interface ImageInstance {
  b64: string;
  bytes: Uint8Array;
  type: ImageType;
  width: number;
  height: number;
}

/** What `/api/predict` answers. */
export interface PredictOutcome {
  predictions: PredictionResult[];
  source: PredictionSource;
  model: ModelRef;
}

/** The embedded tfjs predictor or the Vertex AI broker; the routes do not care which. */
export interface Predictor {
  readonly source: PredictionSource;
  /** One line for the start-up message. */
  describe(): string;
  /** Whether a prediction can be served now (the container's health route reports this). */
  ready(): boolean;
  /** Details for `/healthz`. */
  status(): Record<string, unknown>;
  predict(instances: readonly ImageInstance[]): Promise<PredictOutcome>;
  close(): Promise<void>;
}
