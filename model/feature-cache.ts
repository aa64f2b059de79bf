/**
 * Backbone features of a frozen run. Training only the head means the backbone's output for an
 * image never changes, so it is computed once and the head trains on it. A {@link FeatureStore}
 * keeps them past one run, per image: the trials of a head-only search share one extraction,
 * and a retrain after N new labels computes the backbone for those N images only.
 */
import * as tf from '@tensorflow/tfjs-core';
import { prefetchBatches, type ImageSource } from './data/source';
import type { DataProblem } from './data/records';
import type { ClassifierModel } from './model';
import { preprocessImages, type RawImage } from './preprocess';
import { Scratch } from './scratch';

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

/**
 * The frozen backbone run somewhere else too — another thread on another core — on batches of
 * decoded images, preprocessed there. The same weights and kernels give the same features bit
 * for bit, so a run's results do not depend on which batches went where.
 */
export interface BackboneOffload {
  /** Whether it can take a batch now (a thread keeps at most a couple queued). */
  readonly ready: boolean;
  /** Features of `images`: plain and/or of the mirrored images. */
  run(images: readonly RawImage[], plain: boolean, flip: boolean): Promise<{ shape: number[]; plain: Float32Array | null; flipped: Float32Array | null }>;
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
  /** Takes batches whenever it is ready, while this thread computes the others. */
  offload?: BackboneOffload | null;
}

/** The backbone's output for `images` (plain) and for their mirror images (flipped), as asked. */
export function backboneFeatures(model: ClassifierModel, images: readonly RawImage[], plain: boolean, flip: boolean): { f: tf.Tensor | null; ff: tf.Tensor | null } {
  const run = (mirror: boolean): tf.Tensor => tf.tidy(() => model.backbone(preprocessImages(images, model.preprocessing, mirror)));
  return { f: plain ? run(false) : null, ff: flip ? run(true) : null };
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
  const keep = (kept: readonly number[], shape: number[], data: Float32Array | null, flipData: Float32Array | null): void => {
    out.shape = shape;
    const per = shape.reduce((a, b) => a * b, 1);
    kept.forEach((i, k) => {
      // Views into the batch's buffer, not copies: a second buffer of the batch's size per
      // batch cost more than the copy itself (fresh pages).
      if (data) out.features[i] = data.subarray(k * per, (k + 1) * per);
      if (flipData && out.flipped) out.flipped[i] = flipData.subarray(k * per, (k + 1) * per);
      out.valid.push(i);
    });
  };
  const elsewhere: Array<Promise<void>> = [];
  for await (const { images, kept, indices } of prefetchBatches(source, batches, onSkip, o.signal)) {
    if (o.signal?.aborted) break;
    if (kept.length === 0) {
      o.onBatch(indices.length);
      continue;
    }
    if (o.offload?.ready) {
      const done = o.offload.run(images, o.plain, o.flip).then((r) => {
        keep(kept, r.shape, r.plain, r.flipped);
        o.onBatch(indices.length);
      });
      // Awaited below; this only keeps a failure from going unhandled if this loop throws first.
      done.catch(() => undefined);
      elsewhere.push(done);
      continue;
    }
    const { f, ff } = backboneFeatures(model, images, o.plain, o.flip);
    const data = f ? ((await f.data()) as Float32Array) : null;
    const flipData = ff ? ((await ff.data()) as Float32Array) : null;
    const shape = (f ?? ff)!.shape.slice(1);
    f?.dispose();
    ff?.dispose();
    keep(kept, shape, data, flipData);
    o.onBatch(indices.length);
  }
  await Promise.all(elsewhere);
  // Batches finish out of order when some ran elsewhere; a run's order must not depend on it.
  out.valid.sort((a, b) => a - b);
  return o.signal?.aborted ? null : out;
}

const stackScratch = new Scratch();

/** A batch of features as one tensor, the mirrored image's where `flips[k]` is set. */
export function stackFeatures(cache: SourceFeatures, idx: readonly number[], flips: readonly boolean[] | null): tf.Tensor {
  const per = cache.shape.reduce((a, b) => a * b, 1);
  const buf = stackScratch.take(idx.length * per);
  idx.forEach((i, k) => {
    const src = flips?.[k] && cache.flipped ? cache.flipped[i] : cache.features[i];
    buf.set(src!, k * per);
  });
  return tf.tensor(buf, [idx.length, ...cache.shape]);
}

/**
 * What every feature of a namespace depends on besides the image: the architecture, the
 * starting weights (`weights`, an identity the caller vouches for) and the preprocessing spec
 * (which holds the input size). The augmentation variant (plain or mirrored) is a second part
 * of each entry's key, so stored plain features serve runs without flips and flips are added
 * to them when a run needs them.
 */
export function featureNamespace(model: ClassifierModel, weights: string): string {
  return JSON.stringify([model.archName, weights, model.preprocessing]);
}

/** One image's stored backbone output, or why it could not be decoded (so a later run reports it without decoding it again). */
export type StoredImage = { shape: number[]; data: Float32Array } | { failed: string };

export type FeatureVariant = 'plain' | 'flip';

const entryBytes = (e: StoredImage): number => ('data' in e ? e.data.byteLength : 0);

/**
 * Backbone features kept across runs, per image: an entry is keyed by namespace
 * ({@link featureNamespace}), variant and the image's name, so a set that grows by N images,
 * another split of the same images or a relabelled set computes only the images it has not
 * seen. Image names must identify pixels within a namespace (a path, a stored image's id).
 * Least recently used entries are dropped first once the store passes `limitBytes`.
 */
export class FeatureStore {
  private readonly entries = new Map<string, StoredImage>();
  private held = 0;
  /** Image lookups that found features, and that did not. */
  hits = 0;
  misses = 0;

  constructor(readonly limitBytes = Infinity) {}

  private static key(namespace: string, variant: FeatureVariant, image: string): string {
    return `${namespace}\u0000${variant}\u0000${image}`;
  }

  /** The stored entry of one image, or undefined; a hit makes it the most recently used. */
  get(namespace: string, variant: FeatureVariant, image: string): StoredImage | undefined {
    const key = FeatureStore.key(namespace, variant, image);
    const e = this.entries.get(key);
    if (e) {
      this.entries.delete(key);
      this.entries.set(key, e);
      this.hits++;
    } else this.misses++;
    return e;
  }

  /** Keeps one image's entry, dropping the least recently used ones to stay within the limit. */
  set(namespace: string, variant: FeatureVariant, image: string, entry: StoredImage): void {
    const key = FeatureStore.key(namespace, variant, image);
    this.remove(key);
    const size = entryBytes(entry);
    if (size > this.limitBytes) return;
    while (this.entries.size > 0 && this.held + size > this.limitBytes) this.remove(this.entries.keys().next().value!);
    this.entries.set(key, entry);
    this.held += size;
  }

  private remove(key: string): void {
    const e = this.entries.get(key);
    if (!e) return;
    this.entries.delete(key);
    this.held -= entryBytes(e);
  }

  /** Bytes held. */
  get bytes(): number {
    return this.held;
  }

  /** Entries held (an image's plain and mirrored features are two). */
  get size(): number {
    return this.entries.size;
  }

  clear(): void {
    this.entries.clear();
    this.held = 0;
  }
}

/** What the store holds of a source: the features found, and the images still to compute. */
export interface FeatureLookup {
  features: SourceFeatures;
  /** Images with no stored features at all (computed plain, and mirrored when flips are asked for). */
  missing: number[];
  /** Images whose plain features are stored but whose mirrored ones are not (flips asked for). */
  missingFlips: number[];
}

/** The stored features of a source's images, and which images are missing. */
export function lookupFeatures(store: FeatureStore, namespace: string, source: ImageSource, flip: boolean): FeatureLookup {
  const features: SourceFeatures = {
    shape: [],
    features: new Array<Float32Array | null>(source.size).fill(null),
    flipped: flip ? new Array<Float32Array | null>(source.size).fill(null) : null,
    labels: Int32Array.from({ length: source.size }, (_, i) => source.label(i)),
    valid: [],
    skipped: [],
  };
  const missing: number[] = [];
  const missingFlips: number[] = [];
  for (let i = 0; i < source.size; i++) {
    const name = source.name(i);
    const plain = store.get(namespace, 'plain', name);
    if (!plain) {
      missing.push(i);
      continue;
    }
    if ('failed' in plain) {
      features.skipped.push({ source: name, reason: plain.failed });
      continue;
    }
    features.shape = plain.shape;
    features.features[i] = plain.data;
    if (flip) {
      const mirrored = store.get(namespace, 'flip', name);
      if (mirrored && 'data' in mirrored) features.flipped![i] = mirrored.data;
      else missingFlips.push(i);
    }
  }
  for (let i = 0; i < source.size; i++) if (features.features[i]) features.valid.push(i);
  return { features, missing, missingFlips };
}

/**
 * Puts features computed for images `indices` of a source (`computed` indexes that subset) into
 * the store and into `into`, whose `valid` list is then rebuilt in index order.
 */
export function storeFeatures(store: FeatureStore, namespace: string, source: ImageSource, indices: readonly number[], computed: SourceFeatures, into: SourceFeatures): void {
  if (computed.shape.length > 0) into.shape = computed.shape;
  const failed = new Map(computed.skipped.map((s) => [s.source, s.reason]));
  indices.forEach((i, k) => {
    const name = source.name(i);
    const plain = computed.features[k];
    const mirrored = computed.flipped?.[k];
    if (plain) {
      into.features[i] = plain;
      store.set(namespace, 'plain', name, { shape: computed.shape, data: plain });
    }
    if (mirrored && into.flipped) {
      into.flipped[i] = mirrored;
      store.set(namespace, 'flip', name, { shape: computed.shape, data: mirrored });
    }
    const reason = failed.get(name);
    if (reason !== undefined && !plain) {
      into.skipped.push({ source: name, reason });
      store.set(namespace, 'plain', name, { failed: reason });
    }
  });
  into.valid = [];
  for (let i = 0; i < into.features.length; i++) if (into.features[i]) into.valid.push(i);
}

/** A source's features when the store holds every image's (decode failures count), else undefined. */
export function storedFeatures(store: FeatureStore, namespace: string, source: ImageSource): SourceFeatures | undefined {
  const { features, missing } = lookupFeatures(store, namespace, source, false);
  return missing.length > 0 ? undefined : features;
}
