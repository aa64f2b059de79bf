/**
 * A frozen backbone on its own thread: the model (architecture, preprocessing, weights) comes
 * in `workerData`, preprocessed batches come as messages, and their features go back. See
 * ./backbone-offload.ts.
 */
import { parentPort, workerData } from 'node:worker_threads';
import * as tf from '@tensorflow/tfjs-core';
import { ClassifierModel } from '../model/model';
import { initNodeBackend } from './backend';
import type { BackboneRequest, BackboneResponse, BackboneSetup } from './backbone-offload';

const port = parentPort;
if (!port) throw new Error('backbone-worker must run in a worker thread');
const setup = workerData as BackboneSetup;

async function start(): Promise<ClassifierModel> {
  await initNodeBackend('wasm');
  const model = ClassifierModel.create(setup.config);
  model.loadStateDict(setup.state);
  return model;
}

const ready = start();
ready.then(
  () => port.postMessage({ type: 'ready' } satisfies BackboneResponse),
  (e: unknown) => port.postMessage({ type: 'error', id: -1, message: (e as Error).message } satisfies BackboneResponse),
);

port.on('message', (r: BackboneRequest) => {
  ready
    .then(async (model) => {
      const x = tf.tensor4d(r.pixels, r.shape as [number, number, number, number]);
      const f = r.plain ? model.backbone(x) : null;
      const ff = r.flip ? tf.tidy(() => model.backbone(tf.reverse(x, 2))) : null;
      x.dispose();
      const shape = (f ?? ff)!.shape.slice(1);
      const plain = f ? ((await f.data()) as Float32Array) : null;
      const flipped = ff ? ((await ff.data()) as Float32Array) : null;
      tf.dispose([f, ff].filter((t): t is tf.Tensor => t !== null));
      const transfer = [plain?.buffer, flipped?.buffer].filter((b): b is ArrayBuffer => b instanceof ArrayBuffer);
      port.postMessage({ type: 'features', id: r.id, shape, plain, flipped } satisfies BackboneResponse, transfer);
    })
    .catch((e: unknown) => port.postMessage({ type: 'error', id: r.id, message: (e as Error).message } satisfies BackboneResponse));
});
