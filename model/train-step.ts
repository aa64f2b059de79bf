/**
 * One optimiser step's gradients, whole or split across replicas (other threads holding a copy
 * of the model). A split step computes what the whole batch would: each part's loss is its
 * share of the batch mean, dropout draws each part's rows of the batch's masks, and the parts'
 * gradients are summed in a fixed order. Models with BatchNorm are never split (each part
 * would normalise by its own statistics).
 */
import * as tf from '@tensorflow/tfjs-core';
import type { BatchNormUpdate } from './arch/common';
import type { ClassifierModel } from './model';
import { preprocessImages, type RawImage } from './preprocess';
import type { ReplicaPool } from './replicas/pool';
import { Rng } from './rng';

/** Mean softmax cross-entropy of logits against integer labels. */
export function crossEntropy(logits: tf.Tensor2D, labels: tf.Tensor1D): tf.Scalar {
  return tf.tidy(() => {
    const oneHot = tf.oneHot(tf.cast(labels, 'int32'), logits.shape[1]);
    return tf.neg(tf.mean(tf.sum(tf.mul(oneHot, tf.logSoftmax(logits)), 1))) as tf.Scalar;
  });
}

/** A batch's model input: preprocessed pixels, mirrored where `flips` says. */
export function prepareInput(model: ClassifierModel, images: readonly RawImage[], flips: readonly boolean[] | null): tf.Tensor4D {
  return preprocessImages(images, model.preprocessing, flips ?? false);
}

/** What a step hands the optimiser: gradients by variable name (the caller disposes them), the batch's mean loss, correct predictions. */
export interface StepGradients {
  grads: tf.NamedTensorMap;
  loss: number;
  hits: number;
}

export interface PartOptions {
  /** `input` is backbone features: only the head runs. */
  fromFeatures: boolean;
  /** Seeds the step's dropout masks. */
  dropoutSeed: number;
  /** Set when the batch is split: which rows of the whole batch `input` holds. */
  rows?: { start: number; total: number };
  /** Receives BatchNorm batch statistics (unsplit steps only). */
  bnUpdates?: BatchNormUpdate[];
}

/**
 * Gradients of (a part of) a batch, aligned with `vars` (null for a variable the loss does not
 * reach), its loss — its share of the whole batch's mean — and its correct predictions.
 */
export function partGradients(
  model: ClassifierModel,
  vars: readonly tf.Variable[],
  input: tf.Tensor,
  labels: tf.Tensor1D,
  o: PartOptions,
): { grads: Array<tf.Tensor | null>; loss: tf.Scalar; hits: tf.Scalar } {
  let logitsKept: tf.Tensor2D | null = null;
  const { value, grads } = tf.variableGrads(() => {
    const ctx = { training: true, rng: new Rng(o.dropoutSeed), bnUpdates: o.bnUpdates ?? [], ...(o.rows && { rows: o.rows }) };
    const logits = o.fromFeatures ? model.head(input, ctx) : model.head(model.backbone(input as tf.Tensor4D, ctx), ctx);
    logitsKept = tf.keep(logits);
    const mean = crossEntropy(logits, labels);
    return o.rows ? tf.mul(mean, labels.shape[0] / o.rows.total) : mean;
  }, vars as tf.Variable[]);
  const hits = tf.tidy(() => tf.sum(tf.cast(tf.equal(tf.argMax(logitsKept!, 1), labels), 'int32')) as tf.Scalar);
  logitsKept!.dispose();
  return { grads: vars.map((v) => grads[v.name] ?? null), loss: value, hits };
}

/** A whole batch's step on this thread. */
export async function localStep(model: ClassifierModel, vars: readonly tf.Variable[], input: tf.Tensor, labels: readonly number[], o: PartOptions): Promise<StepGradients> {
  const y = tf.tensor1d(labels as number[], 'int32');
  const part = partGradients(model, vars, input, y, o);
  const [loss, hits] = await Promise.all([part.loss.data(), part.hits.data()]);
  const grads: tf.NamedTensorMap = {};
  vars.forEach((v, k) => {
    const g = part.grads[k];
    if (g) grads[v.name] = g;
  });
  tf.dispose([y, part.loss, part.hits]);
  return { grads, loss: loss[0]!, hits: hits[0]! };
}

/** `n` rows in `parts` contiguous runs as even as can be: [start, end) each. */
export function splitRows(n: number, parts: number): Array<[number, number]> {
  return Array.from({ length: parts }, (_, k) => [Math.floor((k * n) / parts), Math.floor(((k + 1) * n) / parts)]);
}

/**
 * A batch's step split across this thread and the pool's replicas: each replica gets the
 * current weights and its rows' images, this thread computes the first rows meanwhile, and
 * the gradients are summed in replica order. A replica that fails fails the step.
 */
export async function splitStep(
  model: ClassifierModel,
  vars: readonly tf.Variable[],
  pool: ReplicaPool,
  batch: { images: readonly RawImage[]; labels: readonly number[]; flips: readonly boolean[] | null; dropoutSeed: number },
): Promise<StepGradients> {
  const n = batch.images.length;
  const rows = splitRows(n, Math.min(pool.size + 1, n));
  const weights = await Promise.all(vars.map(async (v) => (await v.data()) as Float32Array));
  const remote = rows.slice(1).map(([start, end], k) =>
    pool.gradients(k, {
      weights,
      images: batch.images.slice(start, end),
      labels: batch.labels.slice(start, end),
      flips: batch.flips?.slice(start, end) ?? null,
      rows: { start, total: n },
      dropoutSeed: batch.dropoutSeed,
    }),
  );
  // Awaited below; this only keeps a failure from going unhandled while this thread computes.
  for (const r of remote) r.catch(() => undefined);
  const [start, end] = rows[0]!;
  const x = prepareInput(model, batch.images.slice(start, end), batch.flips?.slice(start, end) ?? null);
  const y = tf.tensor1d(batch.labels.slice(start, end) as number[], 'int32');
  const local = partGradients(model, vars, x, y, { fromFeatures: false, dropoutSeed: batch.dropoutSeed, rows: { start, total: n } });
  tf.dispose([x, y]);
  try {
    const [parts, loss, hits] = await Promise.all([Promise.all(remote), local.loss.data(), local.hits.data()]);
    const grads: tf.NamedTensorMap = {};
    tf.tidy(() => {
      vars.forEach((v, k) => {
        let g: tf.Tensor | null = local.grads[k] ?? null;
        for (const p of parts) {
          const d = p.grads[k];
          if (d) g = g ? tf.add(g, tf.tensor(d, v.shape)) : tf.tensor(d, v.shape);
        }
        if (g) grads[v.name] = tf.keep(g === local.grads[k] ? tf.clone(g) : g);
      });
    });
    return { grads, loss: parts.reduce((s, p) => s + p.loss, loss[0]!), hits: parts.reduce((s, p) => s + p.hits, hits[0]!) };
  } finally {
    tf.dispose([local.loss, local.hits, ...local.grads.filter((g): g is tf.Tensor => g !== null)]);
  }
}
