import type { RawImage } from '../preprocess';

/**
 * Random access to a labelled set of images, decoded on demand. The CLI backs it with files
 * and sharp, the browser with IndexedDB blobs and `createImageBitmap`; training never holds
 * more than a batch of decoded images at once.
 */
export interface ImageSource {
  readonly size: number;
  /** Class index of image `i`. */
  label(i: number): number;
  /** A name to report the image by (its path or file name). */
  name(i: number): string;
  /** Decoded pixels; rejects with `ImageDecodeError` when the file is not a readable image. */
  load(i: number, signal?: AbortSignal): Promise<RawImage>;
}

/** A file that could not be decoded. Training and evaluation skip it and report it by name. */
export class ImageDecodeError extends Error {
  constructor(
    readonly file: string,
    reason: string,
  ) {
    super(`${file}: ${reason}`);
    this.name = 'ImageDecodeError';
  }
}

/** A view of some of a source's images, by index. */
export function subset(source: ImageSource, indices: readonly number[]): ImageSource {
  return {
    size: indices.length,
    label: (i) => source.label(indices[i]!),
    name: (i) => source.name(indices[i]!),
    load: (i, signal) => source.load(indices[i]!, signal),
  };
}

/** Loads images `indices` of a source, skipping (and reporting) the ones that fail to decode. */
export async function loadBatch(
  source: ImageSource,
  indices: readonly number[],
  onSkip: (name: string, reason: string) => void,
  signal?: AbortSignal,
): Promise<{ images: RawImage[]; kept: number[] }> {
  const results = await Promise.allSettled(indices.map((i) => source.load(i, signal)));
  const images: RawImage[] = [];
  const kept: number[] = [];
  results.forEach((r, k) => {
    const i = indices[k]!;
    if (r.status === 'fulfilled') {
      images.push(r.value);
      kept.push(i);
    } else if (r.reason instanceof ImageDecodeError) {
      onSkip(source.name(i), r.reason.message);
    } else {
      throw r.reason;
    }
  });
  return { images, kept };
}

/**
 * Yields the decoded batches for a list of index batches, decoding batch k+1 while the
 * caller computes on batch k: decoders that run off the main thread (sharp's thread pool,
 * `createImageBitmap`) then overlap with the model's work.
 */
export async function* prefetchBatches(
  source: ImageSource,
  batches: ReadonlyArray<readonly number[]>,
  onSkip: (name: string, reason: string) => void,
  signal?: AbortSignal,
): AsyncGenerator<{ images: Awaited<ReturnType<typeof loadBatch>>['images']; kept: number[]; indices: readonly number[] }> {
  const start = (k: number) => {
    const p = loadBatch(source, batches[k]!, onSkip, signal);
    // Handled when awaited; this only keeps an early rejection from being reported as unhandled.
    p.catch(() => undefined);
    return p;
  };
  let next = batches.length > 0 ? start(0) : null;
  for (let k = 0; k < batches.length; k++) {
    const current = await next!;
    next = k + 1 < batches.length && !signal?.aborted ? start(k + 1) : null;
    yield { ...current, indices: batches[k]! };
  }
}
