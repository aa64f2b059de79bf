/** A worker thread holding a replica of a run's model on its own wasm backend. See ./replicas.ts. */
import { parentPort } from 'node:worker_threads';
import { serveReplica } from '../model/replicas/serve';
import { initNodeBackend } from './backend';

const port = parentPort;
if (!port) throw new Error('replica-worker must run in a worker thread');
serveReplica(
  {
    post: (message, transfer) => port.postMessage(message, transfer),
    listen: (onMessage) => void port.on('message', onMessage),
  },
  async () => void (await initNodeBackend('wasm')),
);
