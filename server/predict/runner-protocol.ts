import type { RawImage } from '../../model/preprocess';
import type { ModelRef, PredictionResult } from './types';

/**
 * Messages between the server's main thread and the classifier worker. Every request has an
 * `id` its response repeats; the worker's handler is a `switch` ending in a `never` check.
 */
export type RunnerRequest =
  | { type: 'load'; id: number; modelId: string; files: Array<[string, Uint8Array]>; warmBatches: number }
  | { type: 'classify'; id: number; images: RawImage[] }
  | { type: 'memory'; id: number };

export type RunnerResponse =
  | { type: 'loaded'; id: number; ref: ModelRef }
  | { type: 'classified'; id: number; predictions: PredictionResult[]; ref: ModelRef }
  | { type: 'memory'; id: number; numTensors: number }
  | { type: 'error'; id: number; name: string; message: string };
