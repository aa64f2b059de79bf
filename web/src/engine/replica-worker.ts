/// <reference lib="webworker" />
/** A replica of a run's model in a worker of its own, on single-threaded wasm. See ./replicas.ts. */
import { serveReplica } from '../../../model/replicas/serve';
import { configureWasm, startWasm } from './wasm-backend';

const scope = self as unknown as DedicatedWorkerGlobalScope;
serveReplica(
  {
    post: (message, transfer) => scope.postMessage(message, transfer),
    listen: (onMessage) => void (scope.onmessage = (e) => onMessage(e.data)),
  },
  async () => {
    configureWasm(false);
    await startWasm();
  },
);
