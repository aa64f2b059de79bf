/**
 * A replica's thread: builds the model from the setup message on the backend `init` chose,
 * then answers feature and gradient requests one at a time, in order. See ./protocol.ts.
 */
import * as tf from '@tensorflow/tfjs-core';
import { backboneFeatures } from '../feature-cache';
import { ClassifierModel } from '../model';
import { partGradients, prepareInput } from '../train-step';
import type { GradientPart, ReplicaPort, ReplicaRequest, ReplicaResponse } from './protocol';

type Answer = { message: ReplicaResponse; transfer: ArrayBuffer[] };

/**
 * A tensor's values in a buffer of their own, to move to the other thread; the caller disposes
 * `t` right after. Reads from wasm memory are copies already (a second copy cost a replica a
 * second of a head-only run), and the cpu backend's are the storage of a tensor about to go, so
 * only a view into a larger buffer is copied.
 */
async function readOwn(t: tf.Tensor): Promise<Float32Array> {
  const a = (await t.data()) as Float32Array;
  return a.byteOffset === 0 && a.byteLength === a.buffer.byteLength ? a : a.slice();
}

async function features(model: ClassifierModel, r: Extract<ReplicaRequest, { type: 'features' }>): Promise<Answer> {
  const { f, ff } = backboneFeatures(model, r.images, r.plain, r.flip);
  const shape = (f ?? ff)!.shape.slice(1);
  const plain = f ? await readOwn(f) : null;
  const flipped = ff ? await readOwn(ff) : null;
  tf.dispose([f, ff].filter((t): t is tf.Tensor => t !== null));
  const transfer = [plain, flipped].flatMap((a) => (a ? [a.buffer as ArrayBuffer] : []));
  return { message: { type: 'features', id: r.id, shape, plain, flipped }, transfer };
}

async function gradients(model: ClassifierModel, id: number, r: GradientPart): Promise<Answer> {
  const vars = model.trainableVariables(false);
  if (r.weights.length !== vars.length) throw new Error(`expected ${vars.length} weight tensors, got ${r.weights.length}`);
  tf.tidy(() => vars.forEach((v, k) => v.assign(tf.tensor(r.weights[k]!, v.shape))));
  const x = prepareInput(model, r.images, r.flips);
  const y = tf.tensor1d(r.labels, 'int32');
  const part = partGradients(model, vars, x, y, { fromFeatures: false, dropoutSeed: r.dropoutSeed, rows: r.rows });
  tf.dispose([x, y]);
  const grads = await Promise.all(part.grads.map((g) => (g ? readOwn(g) : null)));
  const [loss, hits] = await Promise.all([part.loss.data(), part.hits.data()]);
  tf.dispose([part.loss, part.hits, ...part.grads.filter((g): g is tf.Tensor => g !== null)]);
  const transfer = grads.flatMap((g) => (g ? [g.buffer as ArrayBuffer] : []));
  return { message: { type: 'gradients', id, grads, loss: loss[0]!, hits: hits[0]! }, transfer };
}

/** Serves a replica on `port` once `init` has set up this thread's backend. */
export function serveReplica(port: ReplicaPort, init: () => Promise<void>): void {
  let model: Promise<ClassifierModel> | null = null;
  // One request at a time, in arrival order: each waits for the one before.
  let queue: Promise<unknown> = Promise.resolve();
  port.listen((r) => {
    if (r.type === 'setup') {
      model = (async () => {
        await init();
        const m = ClassifierModel.create(r.setup.config);
        m.loadStateDict(r.setup.state);
        return m;
      })();
      model.then(
        () => port.post({ type: 'ready' }, []),
        (e: unknown) => port.post({ type: 'error', id: -1, message: (e as Error).message }, []),
      );
      return;
    }
    const ready = model;
    queue = queue
      .then(async () => {
        if (!ready) throw new Error('a replica got work before its setup');
        const m = await ready;
        const answer = r.type === 'features' ? await features(m, r) : await gradients(m, r.id, r);
        port.post(answer.message, answer.transfer);
      })
      .catch((e: unknown) => port.post({ type: 'error', id: r.id, message: (e as Error).message }, []));
  });
}
