import * as tf from '@tensorflow/tfjs-core';
import { tfShape, tfToTorch, torchToTf, type BatchNormUpdate, type ForwardContext, type ParamSpec } from './arch/common';
import { mobilenetV3Small } from './arch/mobilenet-v3-small';
import { squeezenet1_1 } from './arch/squeezenet';
import type { ArchDefinition, ArchName } from './arch/types';
import { caffeBgr, torchvisionNorm, type PreprocessSpec } from './preprocess';
import { Rng } from './rng';
import { sizeOf, type StateDict, type TensorData } from './tensor-data';

let modelCount = 0;

const ARCHS: Record<ArchName, ArchDefinition> = {
  squeezenet1_1,
  mobilenet_v3_small: mobilenetV3Small,
};

/** Names accepted for `arch`. */
export const ARCH_NAMES = Object.keys(ARCHS) as ArchName[];

export function isArchName(name: string): name is ArchName {
  return Object.hasOwn(ARCHS, name);
}

/** Parameters whose name starts with this form the head: what `freeze` trains and what a new class count replaces. */
export const HEAD_PREFIX = 'classifier.';

/** What to build. */
export interface ModelConfig {
  arch: ArchName;
  numClasses: number;
  /** Class names, index-aligned with the logits; defaults to `class_0…`. */
  labels?: string[];
  /** Defaults to `caffe-bgr` at 150x150 for SqueezeNet, `torchvision` at 150x150 otherwise. */
  preprocessing?: PreprocessSpec;
  /** Seed for torchvision-style initialisation. */
  seed?: number;
}

/** What `loadStateDict` did, key by key. */
export interface LoadReport {
  /** Parameters that now hold values from the file. */
  filled: string[];
  /** Parameters the file did not cover, still at their initial values. */
  kept: string[];
  /** Head parameters present in the file with another class count, skipped so the new head stays. */
  headReplaced: string[];
}

/** A state_dict does not fit the architecture; the message names the key. */
export class WeightsMismatchError extends Error {
  constructor(
    message: string,
    readonly key: string,
  ) {
    super(message);
    this.name = 'WeightsMismatchError';
  }
}

/** A flat tensor in TensorFlow.js layout, for saving and checkpoints. */
export interface NamedWeight {
  name: string;
  shape: number[];
  data: Float32Array;
}

/**
 * An image classifier: an architecture, its parameters as tfjs variables under torchvision's
 * key names, class labels and the preprocessing it expects. It never chooses a backend; the
 * caller has set one up before building it.
 */
export class ClassifierModel {
  readonly arch: ArchDefinition;
  readonly numClasses: number;
  readonly labels: string[];
  readonly preprocessing: PreprocessSpec;
  readonly specs: readonly ParamSpec[];
  private readonly vars = new Map<string, tf.Variable>();
  /** `num_batches_tracked` counters: int64 in torch, a number here. */
  private readonly counters = new Map<string, number>();
  private disposed = false;
  /** tfjs needs globally unique variable names; several models may be alive at once. */
  private readonly id = `model${++modelCount}`;

  private constructor(config: ModelConfig) {
    const arch = ARCHS[config.arch];
    if (!arch) throw new Error(`unknown architecture "${String(config.arch)}"; choose one of ${ARCH_NAMES.join(', ')}`);
    if (!Number.isInteger(config.numClasses) || config.numClasses < 2) throw new Error(`numClasses must be an integer ≥ 2, got ${config.numClasses}`);
    if (config.labels && config.labels.length !== config.numClasses) {
      throw new Error(`${config.labels.length} labels given for ${config.numClasses} classes`);
    }
    this.arch = arch;
    this.numClasses = config.numClasses;
    this.labels = config.labels ? [...config.labels] : Array.from({ length: config.numClasses }, (_, i) => `class_${i}`);
    this.preprocessing = config.preprocessing ?? (config.arch === 'squeezenet1_1' ? caffeBgr() : torchvisionNorm());
    this.specs = arch.params(config.numClasses);
  }

  /** Builds a model with torchvision's initialisation, seeded. */
  static create(config: ModelConfig): ClassifierModel {
    const m = new ClassifierModel(config);
    const rng = new Rng(config.seed ?? 0);
    for (const spec of m.specs) {
      const values = spec.init(rng);
      if (spec.kind === 'count') m.counters.set(spec.name, values[0] ?? 0);
      else m.vars.set(spec.name, tf.tidy(() => tf.variable(tf.tensor(torchToTf(spec, values), tfShape(spec)), spec.trainable, `${m.id}/${spec.name}`)));
    }
    return m;
  }

  get archName(): ArchName {
    return this.arch.name;
  }

  /** A parameter by torchvision name (tfjs layout). */
  readonly param = (name: string): tf.Variable => {
    const v = this.vars.get(name);
    if (!v) throw new Error(`${this.arch.name} has no parameter ${name}`);
    return v;
  };

  /** Image batch → backbone features (see the architecture for the shape). */
  backbone(x: tf.Tensor4D, ctx: ForwardContext = { training: false }): tf.Tensor {
    return tf.tidy(() => this.arch.backbone(this.param, x, ctx));
  }

  /** Backbone features → logits. */
  head(features: tf.Tensor, ctx: ForwardContext = { training: false }): tf.Tensor2D {
    return tf.tidy(() => this.arch.head(this.param, features, ctx));
  }

  /** Image batch (already preprocessed) → logits `[n, numClasses]`. */
  forward(x: tf.Tensor4D, ctx: ForwardContext = { training: false }): tf.Tensor2D {
    return tf.tidy(() => this.head(this.backbone(x, ctx), ctx));
  }

  /** Image batch → class probabilities, inference mode. */
  predict(x: tf.Tensor4D): tf.Tensor2D {
    return tf.tidy(() => tf.softmax(this.forward(x)));
  }

  /** Variables the optimiser updates: the head only when `freeze`, else every trainable one. */
  trainableVariables(freeze: boolean): tf.Variable[] {
    return this.specs.filter((s) => s.trainable && s.kind !== 'count' && (!freeze || s.name.startsWith(HEAD_PREFIX))).map((s) => this.param(s.name));
  }

  /** Names of the trainable variables, aligned with `trainableVariables`. */
  trainableNames(freeze: boolean): string[] {
    return this.specs.filter((s) => s.trainable && s.kind !== 'count' && (!freeze || s.name.startsWith(HEAD_PREFIX))).map((s) => s.name);
  }

  /** True when the network has BatchNorm layers (whose running statistics training maintains). */
  get hasBatchNorm(): boolean {
    return this.specs.some((s) => s.name.endsWith('.running_mean'));
  }

  /**
   * Sets BatchNorm running statistics to the average of the given batches' statistics
   * (cumulative, like PyTorch's `update_bn`), and disposes them.
   */
  setBatchNormStatistics(perBatch: BatchNormUpdate[][]): void {
    if (perBatch.length === 0) return;
    const prefixes = perBatch[0]!.map((u) => u.prefix);
    prefixes.forEach((prefix, k) => {
      tf.tidy(() => {
        const mean = tf.div(tf.addN(perBatch.map((b) => b[k]!.mean)), perBatch.length);
        const variance = tf.div(tf.addN(perBatch.map((b) => b[k]!.variance)), perBatch.length);
        this.param(`${prefix}.running_mean`).assign(mean);
        this.param(`${prefix}.running_var`).assign(variance);
      });
    });
    for (const b of perBatch) for (const u of b) tf.dispose([u.mean, u.variance]);
  }

  /** Folds a training step's batch statistics into the BatchNorm running estimates (PyTorch's rule), and disposes them. */
  applyBatchNormUpdates(updates: BatchNormUpdate[]): void {
    for (const u of updates) {
      tf.tidy(() => {
        const mean = this.param(`${u.prefix}.running_mean`);
        const variance = this.param(`${u.prefix}.running_var`);
        mean.assign(tf.add(tf.mul(mean, 1 - u.momentum), tf.mul(u.mean, u.momentum)));
        variance.assign(tf.add(tf.mul(variance, 1 - u.momentum), tf.mul(u.variance, u.momentum)));
      });
      const counter = `${u.prefix}.num_batches_tracked`;
      this.counters.set(counter, (this.counters.get(counter) ?? 0) + 1);
      u.mean.dispose();
      u.variance.dispose();
    }
  }

  /**
   * Loads a (possibly partial) torchvision state_dict. Keys the file lacks keep their values;
   * a head for another class count is skipped (the head is being replaced); any other unknown
   * key or shape mismatch is refused, naming the key, before anything is changed.
   */
  loadStateDict(sd: StateDict): LoadReport {
    const entries = stripPrefix(sd);
    const bySpec = new Map(this.specs.map((s) => [s.name, s]));
    const report: LoadReport = { filled: [], kept: [], headReplaced: [] };
    const headMismatch = [...entries].some(([k, t]) => {
      const spec = bySpec.get(k);
      return spec !== undefined && k.startsWith(HEAD_PREFIX) && !sameShape(spec.torchShape, t.shape);
    });
    const plan: Array<[ParamSpec, TensorData]> = [];
    for (const [key, t] of entries) {
      const spec = bySpec.get(key);
      if (!spec) {
        if (key.startsWith(HEAD_PREFIX) && headMismatch) {
          report.headReplaced.push(key);
          continue;
        }
        throw new WeightsMismatchError(`unknown key "${key}" for ${this.arch.name}: is this file for another architecture?`, key);
      }
      if (!sameShape(spec.torchShape, t.shape) && !(spec.kind === 'count' && sizeOf(t.shape) === 1)) {
        if (key.startsWith(HEAD_PREFIX)) {
          report.headReplaced.push(key);
          continue;
        }
        throw new WeightsMismatchError(`shape mismatch for "${key}": file has [${t.shape.join(', ')}], ${this.arch.name} needs [${spec.torchShape.join(', ')}]`, key);
      }
      if (key.startsWith(HEAD_PREFIX) && headMismatch) {
        report.headReplaced.push(key);
        continue;
      }
      plan.push([spec, t]);
    }
    for (const [spec, t] of plan) {
      if (spec.kind === 'count') this.counters.set(spec.name, Number(t.data[0] ?? 0));
      else tf.tidy(() => this.param(spec.name).assign(tf.tensor(torchToTf(spec, Float32Array.from(t.data)), tfShape(spec))));
      report.filled.push(spec.name);
    }
    const filled = new Set(report.filled);
    report.kept = this.specs.filter((s) => !filled.has(s.name)).map((s) => s.name);
    return report;
  }

  /** The parameters as a torchvision state_dict (PyTorch layout), ready for `writePth`. */
  async stateDict(): Promise<StateDict> {
    const sd: StateDict = new Map();
    for (const spec of this.specs) {
      if (spec.kind === 'count') {
        sd.set(spec.name, { shape: [], dtype: 'int64', data: Int32Array.of(this.counters.get(spec.name) ?? 0) });
      } else {
        const data = (await this.param(spec.name).data()) as Float32Array;
        sd.set(spec.name, { shape: [...spec.torchShape], dtype: 'float32', data: tfToTorch(spec, data) });
      }
    }
    return sd;
  }

  /** Every parameter and counter in tfjs layout, for artifacts and checkpoints. */
  async getWeights(): Promise<NamedWeight[]> {
    const out: NamedWeight[] = [];
    for (const spec of this.specs) {
      if (spec.kind === 'count') out.push({ name: spec.name, shape: [], data: Float32Array.of(this.counters.get(spec.name) ?? 0) });
      else {
        const v = this.param(spec.name);
        out.push({ name: spec.name, shape: [...v.shape], data: (await v.data()) as Float32Array });
      }
    }
    return out;
  }

  /** Restores what `getWeights` returned. Every parameter must be present with its shape. */
  setWeights(weights: readonly NamedWeight[]): void {
    const byName = new Map(weights.map((w) => [w.name, w]));
    for (const spec of this.specs) {
      const w = byName.get(spec.name);
      if (!w) throw new WeightsMismatchError(`weights lack "${spec.name}"`, spec.name);
      if (spec.kind === 'count') {
        this.counters.set(spec.name, w.data[0] ?? 0);
        continue;
      }
      const shape = tfShape(spec);
      if (!sameShape(shape, w.shape)) throw new WeightsMismatchError(`shape mismatch for "${spec.name}": got [${w.shape.join(', ')}], need [${shape.join(', ')}]`, spec.name);
      tf.tidy(() => this.param(spec.name).assign(tf.tensor(w.data, shape)));
    }
  }

  /** Number of trainable scalars. */
  get parameterCount(): number {
    return this.specs.filter((s) => s.trainable).reduce((n, s) => n + sizeOf(s.torchShape), 0);
  }

  dispose(): void {
    if (this.disposed) return;
    this.disposed = true;
    for (const v of this.vars.values()) v.dispose();
    this.vars.clear();
  }
}

function sameShape(a: readonly number[], b: readonly number[]): boolean {
  return a.length === b.length && a.every((n, i) => n === b[i]);
}

/** `nn.DataParallel` saves every key under `module.`; accept such files as they are. */
function stripPrefix(sd: StateDict): StateDict {
  const keys = [...sd.keys()];
  if (keys.length === 0 || !keys.every((k) => k.startsWith('module.'))) return sd;
  return new Map([...sd].map(([k, v]) => [k.slice('module.'.length), v]));
}
