/**
 * Backbone features of a frozen run. Training only the head means the backbone's output for an
 * image never changes, so it is computed once and the head trains on it. A {@link FeatureStore}
 * keeps them past one run: the trials of a head-only search share one extraction.
 */
import * as tf from '@tensorflow/tfjs-core';
import { prefetchBatches, type ImageSource } from './data/source';
import type { DataProblem } from './data/records';
import type { ClassifierModel } from './model';
import { preprocessImages } from './preprocess';

/**
 * The backbone features of a source's images, one typed array per image, off the backend, so
 * the store grows with the dataset but never as one huge allocation or as GPU memory.
 */
export interface SourceFeatures {
  shape: number[];
  /** `features[i]` for image i, and `flipped[i]` for its mirror image when flips were computed. */
  features: Array<Float32Array | null>;
  flipped: Array<Float32Array | null> | null;
  labels: Int32Array;
  /** Indices whose features exist (failed decodes are skipped). */
  valid: number[];
  /** Images that could not be decoded, so a run that reuses the features still reports them. */
  skipped: DataProblem[];
}

/** Bytes the feature arrays hold. */
export function featuresBytes(f: SourceFeatures): number {
  const per = f.shape.reduce((a, b) => a * b, 1) * 4;
  return per * f.valid.length * (f.flipped ? 2 : 1);
}

export interface ExtractOptions {
  /** Compute the plain images' features (false: only the mirrored ones, to add flips to stored features). */
  plain: boolean;
  flip: boolean;
  batchSize: number;
  signal?: AbortSignal;
  onSkip: (file: string, reason: string) => void;
  /** Called after each batch with the number of images it held. */
  onBatch: (images: number) => void;
}

/** Computes backbone features of every image of `source`; null when aborted. */
export async function extractFeatures(model: ClassifierModel, source: ImageSource, o: ExtractOptions): Promise<SourceFeatures | null> {
  const out: SourceFeatures = {
    shape: [],
    features: new Array<Float32Array | null>(source.size).fill(null),
    flipped: o.flip ? new Array<Float32Array | null>(source.size).fill(null) : null,
    labels: Int32Array.from({ length: source.size }, (_, i) => source.label(i)),
    valid: [],
    skipped: [],
  };
  const onSkip = (file: string, reason: string): void => {
    out.skipped.push({ source: file, reason });
    o.onSkip(file, reason);
  };
  const batches: number[][] = [];
  for (let start = 0; start < source.size; start += o.batchSize) {
    batches.push(Array.from({ length: Math.min(o.batchSize, source.size - start) }, (_, k) => start + k));
  }
  for await (const { images, kept, indices } of prefetchBatches(source, batches, onSkip, o.signal)) {
    if (o.signal?.aborted) return null;
    if (kept.length > 0) {
      const x = preprocessImages(images, model.preprocessing);
      const f = o.plain ? model.backbone(x) : null;
      const ff = o.flip ? tf.tidy(() => model.backbone(tf.reverse(x, 2))) : null;
      x.dispose();
      out.shape = (f ?? ff)!.shape.slice(1);
      const per = out.shape.reduce((a, b) => a * b, 1);
      const data = f ? ((await f.data()) as Float32Array) : null;
      const flipData = ff ? ((await ff.data()) as Float32Array) : null;
      f?.dispose();
      ff?.dispose();
      kept.forEach((i, k) => {
        if (data) out.features[i] = data.slice(k * per, (k + 1) * per);
        if (flipData && out.flipped) out.flipped[i] = flipData.slice(k * per, (k + 1) * per);
        out.valid.push(i);
      });
    }
    o.onBatch(indices.length);
  }
  return o.signal?.aborted ? null : out;
}

/** A batch of features as one tensor, the mirrored image's where `flips[k]` is set. */
export function stackFeatures(cache: SourceFeatures, idx: readonly number[], flips: readonly boolean[] | null): tf.Tensor {
  const per = cache.shape.reduce((a, b) => a * b, 1);
  const buf = new Float32Array(idx.length * per);
  idx.forEach((i, k) => {
    const src = flips?.[k] && cache.flipped ? cache.flipped[i] : cache.features[i];
    buf.set(src!, k * per);
  });
  return tf.tensor(buf, [idx.length, ...cache.shape]);
}

/** 32-bit FNV-1a over a string, continuing from `h`. */
function fnv1a(s: string, h = 0x811c9dc5): number {
  for (let i = 0; i < s.length; i++) h = Math.imul(h ^ s.charCodeAt(i), 0x01000193) >>> 0;
  return h;
}

/**
 * What a source's features depend on: the architecture, the starting weights (`weights`, an
 * identity the caller vouches for), the preprocessing spec, and which images in which order
 * with which labels (names and labels hashed two ways). Flips are not part of the key: stored
 * features with flips serve runs without them, and flips are added to stored ones when needed.
 */
export function featureKey(model: ClassifierModel, weights: string, source: ImageSource): string {
  let a = 0x811c9dc5;
  let b = 0x01234567;
  for (let i = 0; i < source.size; i++) {
    const item = `${source.name(i)}\u0000${source.label(i)}\u0001`;
    a = fnv1a(item, a);
    b = fnv1a(item, b ^ i);
  }
  return JSON.stringify([model.archName, weights, model.preprocessing, source.size, a, b]);
}

/**
 * Features kept across runs, least recently used dropped first once they pass `limitBytes`.
 * Features bigger than the whole limit are not kept (the run that computed them still uses them).
 */
export class FeatureStore {
  private readonly entries = new Map<string, SourceFeatures>();
  /** Lookups that found features, and that did not. */
  hits = 0;
  misses = 0;

  constructor(readonly limitBytes = Infinity) {}

  /** Stored features for `key`, or undefined; a hit makes them the most recently used. */
  get(key: string): SourceFeatures | undefined {
    const f = this.entries.get(key);
    if (f) {
      this.entries.delete(key);
      this.entries.set(key, f);
      this.hits++;
    } else this.misses++;
    return f;
  }

  /** Keeps features under `key`, dropping the least recently used ones to stay within the limit. */
  set(key: string, features: SourceFeatures): void {
    this.entries.delete(key);
    const size = featuresBytes(features);
    if (size > this.limitBytes) return;
    while (this.entries.size > 0 && this.bytes + size > this.limitBytes) this.entries.delete(this.entries.keys().next().value!);
    this.entries.set(key, features);
  }

  /** Bytes held. */
  get bytes(): number {
    let n = 0;
    for (const f of this.entries.values()) n += featuresBytes(f);
    return n;
  }

  get size(): number {
    return this.entries.size;
  }

  clear(): void {
    this.entries.clear();
  }
}
