import { setImmediate as nextTurn } from 'node:timers/promises';
import sharp from 'sharp';
import { decodeImage } from '../../node/data';
import { ModelFormatError, type ModelFiles } from '../../model/artifacts';
import { ImageDecodeError } from '../../model/data/source';
import type { RawImage } from '../../model/preprocess';
import { HttpError } from '../errors';
import type { ClassifierRunner, RunnerAnswer } from './runner';
import type { ImageInstance, ModelRef, PredictOutcome, Predictor } from './types';

/** Larger images are shrunk by sharp before they reach tfjs: a 12 MP photo would need ~150 MB of tensors. */
const SHRINK_ABOVE_PIXELS = 1024 * 1024;
const SHRINK_TO_SIDE = 1024;

interface Job {
  images: RawImage[];
  resolve: (r: RunnerAnswer) => void;
  reject: (e: unknown) => void;
}

/** Decodes a checked image to RGB pixels, shrinking large ones in sharp first. */
export async function decodeInstance(instance: ImageInstance, name: string): Promise<RawImage> {
  let bytes = instance.bytes;
  if (instance.width * instance.height > SHRINK_ABOVE_PIXELS) {
    try {
      // rotate() applies EXIF orientation now, as the PNG written here carries none.
      const shrunk = await sharp(bytes, { failOn: 'error' })
        .rotate()
        .resize({ width: SHRINK_TO_SIDE, height: SHRINK_TO_SIDE, fit: 'inside', withoutEnlargement: true })
        .png({ compressionLevel: 0 })
        .toBuffer();
      bytes = new Uint8Array(shrunk.buffer, shrunk.byteOffset, shrunk.length);
    } catch (e) {
      throw new HttpError(422, 'undecodable_image', `${name}: cannot decode image (${(e as Error).message.split('\n')[0]})`);
    }
  }
  try {
    return await decodeImage(bytes, name);
  } catch (e) {
    if (e instanceof ImageDecodeError) throw new HttpError(422, 'undecodable_image', e.message);
    throw e;
  }
}

/**
 * The embedded predictor: the active model (a run directory or bundle, the same files the
 * CLI and the app write) on tfjs wasm, in a worker thread by default. Images are decoded
 * here (sharp's thread pool), queued, and sent to the runner in micro-batches of up to
 * `maxBatch`, one batch at a time; a new model takes over between batches.
 */
export class LocalPredictor implements Predictor {
  readonly source = 'local' as const;
  private ref: ModelRef | undefined;
  private loadedAt: string | undefined;
  private lastError: string | undefined;
  private readonly queue: Job[] = [];
  private running = false;
  private closed = false;

  constructor(
    private readonly options: { maxBatch: number; runner: ClassifierRunner },
  ) {}

  get runner(): ClassifierRunner {
    return this.options.runner;
  }

  /** The model answering now, if any. */
  get activeModel(): ModelRef | undefined {
    return this.ref;
  }

  describe(): string {
    const home = this.options.runner.home === 'worker' ? 'in a worker thread' : 'in the main thread';
    return this.ref ? `embedded tfjs (wasm, ${home}), model ${this.ref.id} (${this.ref.arch}, ${this.ref.classes} classes)` : `embedded tfjs (wasm, ${home}), no model loaded yet`;
  }

  ready(): boolean {
    return this.ref !== undefined && !this.closed;
  }

  status(): Record<string, unknown> {
    return {
      source: 'local',
      ready: this.ready(),
      runner: this.options.runner.home,
      model: this.ref ? { ...this.ref, loadedAt: this.loadedAt } : null,
      queued: this.queue.length,
      ...(this.lastError ? { lastError: this.lastError } : {}),
    };
  }

  /** Records why the last attempt to load a model failed (shown by /healthz). */
  reportLoadError(message: string): void {
    this.lastError = message;
  }

  /** Makes a model active; a broken one leaves the previous model in place. */
  async load(files: ModelFiles, id: string): Promise<ModelRef> {
    try {
      const ref = await this.options.runner.load(files, id, this.options.maxBatch);
      this.ref = ref;
      this.loadedAt = new Date().toISOString();
      this.lastError = undefined;
      return ref;
    } catch (e) {
      const message = (e as Error).message;
      this.lastError = message;
      throw e instanceof ModelFormatError ? e : new ModelFormatError(`${id}: ${message}`);
    }
  }

  async predict(instances: readonly ImageInstance[]): Promise<PredictOutcome> {
    if (this.closed) throw new HttpError(503, 'shutting_down', 'the server is shutting down');
    if (!this.ready()) {
      throw new HttpError(503, 'no_model', 'no model is loaded: upload a model bundle (.zip) under models/ or start the server with SCENELAB_MODEL=RUN_DIR|BUNDLE');
    }
    // Decoding runs in sharp's thread pool, in parallel, outside the queue.
    const images = await Promise.all(instances.map((inst, i) => decodeInstance(inst, `instances[${i}]`)));
    const { predictions, ref } = await new Promise<RunnerAnswer>((resolve, reject) => {
      this.queue.push({ images, resolve, reject });
      void this.pump();
    });
    return { predictions, source: 'local', model: ref };
  }

  private async pump(): Promise<void> {
    if (this.running) return;
    this.running = true;
    try {
      while (this.queue.length > 0) {
        const batch: Job[] = [];
        let n = 0;
        while (this.queue.length > 0 && (batch.length === 0 || n + this.queue[0]!.images.length <= this.options.maxBatch)) {
          const job = this.queue.shift()!;
          batch.push(job);
          n += job.images.length;
        }
        try {
          const { predictions, ref } = await this.options.runner.classify(batch.flatMap((j) => j.images));
          let at = 0;
          for (const j of batch) {
            j.resolve({ predictions: predictions.slice(at, at + j.images.length), ref });
            at += j.images.length;
          }
        } catch (e) {
          for (const j of batch) j.reject(e);
        }
        // In-process, the batch held the event loop: let I/O through before the next one.
        await nextTurn();
      }
    } finally {
      this.running = false;
    }
  }

  async close(): Promise<void> {
    this.closed = true;
    while (this.running) await nextTurn();
    await this.options.runner.close();
  }
}
