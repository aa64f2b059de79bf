import * as tf from '@tensorflow/tfjs-core';
import { initNodeBackend } from '../../node/backend';
import { importModelFiles, ModelFormatError, type ModelFiles } from '../../model/artifacts';
import { classify } from '../../model/evaluate';
import type { ClassifierModel } from '../../model/model';
import type { RawImage } from '../../model/preprocess';
import { HttpError } from '../errors';
import type { ClassifierRunner, RunnerAnswer } from './runner';
import type { ModelRef } from './types';

/**
 * The runner's work, wherever it runs: one model at a time, calls strictly in order (a load
 * never overlaps a batch), the old model disposed when a new one is ready.
 */
export class RunnerCore {
  private model: ClassifierModel | undefined;
  private ref: ModelRef | undefined;
  private chain: Promise<unknown> = Promise.resolve();

  private serial<T>(work: () => Promise<T>): Promise<T> {
    const next = this.chain.then(work, work);
    this.chain = next.catch(() => undefined);
    return next;
  }

  load(files: ModelFiles, modelId: string, warmBatches: number): Promise<ModelRef> {
    return this.serial(async () => {
      let model: ClassifierModel;
      try {
        model = importModelFiles(files);
      } catch (e) {
        throw e instanceof ModelFormatError ? new ModelFormatError(`${modelId}: ${e.message}`) : e;
      }
      try {
        // The wasm backend builds its XNNPACK operators per input shape: the first batch of
        // each size is several times slower, so each size the queue can form runs once now.
        const [h, w] = model.preprocessing.inputSize;
        const blank: RawImage = { width: w, height: h, channels: 3, data: new Uint8Array(w * h * 3) };
        for (let n = 1; n <= warmBatches; n++) await classify(model, new Array<RawImage>(n).fill(blank));
      } catch (e) {
        model.dispose();
        throw e;
      }
      this.model?.dispose();
      this.model = model;
      this.ref = { id: modelId, arch: model.archName, classes: model.numClasses };
      return this.ref;
    });
  }

  classify(images: RawImage[]): Promise<RunnerAnswer> {
    return this.serial(async () => {
      const model = this.model;
      const ref = this.ref;
      if (!model || !ref) throw new HttpError(503, 'no_model', 'no model is loaded');
      const results = await classify(model, images);
      return { predictions: results.map((r) => ({ label: r.label, probabilities: r.probabilities })), ref };
    });
  }

  numTensors(): number {
    return tf.memory().numTensors;
  }

  dispose(): void {
    this.model?.dispose();
    this.model = undefined;
    this.ref = undefined;
  }
}

/** The runner in this thread. The caller (or this) sets up the wasm backend first. */
export class InProcessRunner implements ClassifierRunner {
  readonly home = 'in-process' as const;
  private readonly core = new RunnerCore();
  private ready: Promise<unknown> | undefined;

  private backend(): Promise<unknown> {
    return (this.ready ??= initNodeBackend('wasm'));
  }

  async load(files: ModelFiles, modelId: string, warmBatches: number): Promise<ModelRef> {
    await this.backend();
    return this.core.load(files, modelId, warmBatches);
  }

  async classify(images: RawImage[]): Promise<RunnerAnswer> {
    return this.core.classify(images);
  }

  async numTensors(): Promise<number> {
    return this.core.numTensors();
  }

  async close(): Promise<void> {
    this.core.dispose();
  }
}

