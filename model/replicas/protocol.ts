/**
 * What a run says to its replicas — other threads (Node worker threads, browser workers), each
 * holding a copy of the model on its own backend — and what they answer. Plain data only:
 * every message crosses a thread by structured clone.
 */
import type { ModelConfig } from '../model';
import type { RawImage } from '../preprocess';
import type { StateDict } from '../tensor-data';

/** What a replica builds its model from. */
export interface ReplicaSetup {
  config: ModelConfig;
  state: StateDict;
}

/** A part of a full fine-tuning step: the model's trainable weights now, and the part's rows. */
export interface GradientPart {
  /** Aligned with `trainableVariables(false)`. */
  weights: Float32Array[];
  images: RawImage[];
  labels: number[];
  flips: boolean[] | null;
  rows: { start: number; total: number };
  dropoutSeed: number;
}

/** A part's gradients (aligned with the weights; null where the loss does not reach), its share of the batch's mean loss, correct predictions. */
export interface PartResult {
  grads: Array<Float32Array | null>;
  loss: number;
  hits: number;
}

/** Backbone features of a batch: plain and/or of the mirrored images. */
export interface Features {
  shape: number[];
  plain: Float32Array | null;
  flipped: Float32Array | null;
}

export type ReplicaRequest =
  | { type: 'setup'; setup: ReplicaSetup }
  | { type: 'features'; id: number; images: RawImage[]; plain: boolean; flip: boolean }
  | ({ type: 'gradients'; id: number } & GradientPart);

/** `id` -1: the setup failed. */
export type ReplicaResponse =
  | { type: 'ready' }
  | ({ type: 'features'; id: number } & Features)
  | ({ type: 'gradients'; id: number } & PartResult)
  | { type: 'error'; id: number; message: string };

/** One replica thread, as the run sees it: Node's `Worker` and the browser's both fit in a few lines. */
export interface ReplicaEndpoint {
  post(message: ReplicaRequest, transfer: ArrayBuffer[]): void;
  /** Messages, and a failure (an uncaught error, the thread gone). */
  listen(onMessage: (message: ReplicaResponse) => void, onFailure: (error: Error) => void): void;
  terminate(): void;
}

/** The replica's side of an endpoint. */
export interface ReplicaPort {
  post(message: ReplicaResponse, transfer: ArrayBuffer[]): void;
  listen(onMessage: (message: ReplicaRequest) => void): void;
}
