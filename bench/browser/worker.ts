/**
 * The benchmark's worker: the app's own backend set-up (web/src/engine/backend.ts: the wasm
 * binaries the app serves, its gradient and SIMD kernels) and its replica workers
 * (web/src/engine/replicas.ts) for the thread count asked for, then bench/step.ts's measurements.
 */
import * as tf from '@tensorflow/tfjs-core';
import { setThreadsCount } from '@tensorflow/tfjs-backend-wasm';
import { selectBackend } from '../../web/src/engine/backend';
import { replicaWorkers } from '../../web/src/engine/replicas';
import { measureSteps } from '../step';
import type { BenchReply, BenchRequest } from './protocol';

/** The worker's global scope, typed with the DOM lib this folder compiles against. */
const scope = globalThis as unknown as { onmessage: ((e: MessageEvent<BenchRequest>) => void) | null; postMessage(message: BenchReply): void };

scope.onmessage = (e) => {
  void (async () => {
    try {
      // Before the backend starts: tfjs-wasm sizes its pthread pool once.
      // One wasm thread here and threads - 1 replica workers (the app's way onto more cores;
      // tfjs-wasm's own threads barely speed training): a step runs on `threads` threads.
      setThreadsCount(1);
      const info = await selectBackend('wasm');
      if (info.name !== 'wasm') throw new Error(`wanted wasm, got ${info.name}`);
      const times = await measureSteps(e.data.params, e.data.threads > 1 ? replicaWorkers(e.data.threads - 1) : undefined);
      scope.postMessage({ ok: true, times, backend: info.name, simd: info.simd, threads: info.threads, tfjs: tf.version_core });
    } catch (err) {
      scope.postMessage({ ok: false, error: err instanceof Error ? `${err.message}\n${err.stack ?? ''}` : String(err) });
    }
  })();
};
