import { parentPort } from 'node:worker_threads';
import { initNodeBackend } from '../../node/backend';
import { RunnerCore } from './runner-core';
import type { RunnerRequest, RunnerResponse } from './runner-protocol';

/** The classifier worker: the runner core behind the protocol, on the wasm backend. */
const port = parentPort;
if (!port) throw new Error('runner-worker must run in a worker thread');
const core = new RunnerCore();
const backend = initNodeBackend('wasm');

async function handle(r: RunnerRequest): Promise<RunnerResponse> {
  await backend;
  switch (r.type) {
    case 'load':
      return { type: 'loaded', id: r.id, ref: await core.load(new Map(r.files), r.modelId, r.warmBatches) };
    case 'classify':
      return { type: 'classified', id: r.id, ...(await core.classify(r.images)) };
    case 'memory':
      return { type: 'memory', id: r.id, numTensors: core.numTensors() };
    default: {
      const unknown: never = r;
      throw new Error(`unknown request ${JSON.stringify(unknown)}`);
    }
  }
}

port.on('message', (r: RunnerRequest) => {
  handle(r).then(
    (response) => port.postMessage(response),
    (e: unknown) => {
      const err = e instanceof Error ? e : new Error(String(e));
      port.postMessage({ type: 'error', id: r.id, name: err.name, message: err.message } satisfies RunnerResponse);
    },
  );
});
