/**
 * The benchmark's worker: the app's own backend set-up (web/src/engine/backend.ts: the wasm
 * binaries the app serves, its gradient kernels, SIMD and threads when cross-origin isolated)
 * with the thread count asked for, then bench/step.ts's measurements.
 */
import * as tf from '@tensorflow/tfjs-core';
import { setThreadsCount } from '@tensorflow/tfjs-backend-wasm';
import { selectBackend } from '../../web/src/engine/backend';
import { measureSteps } from '../step';
import type { BenchReply, BenchRequest } from './protocol';

/** The worker's global scope, typed with the DOM lib this folder compiles against. */
const scope = globalThis as unknown as { onmessage: ((e: MessageEvent<BenchRequest>) => void) | null; postMessage(message: BenchReply): void };

scope.onmessage = (e) => {
  void (async () => {
    try {
      // Before the backend starts: tfjs-wasm sizes its pthread pool once.
      setThreadsCount(e.data.threads);
      const info = await selectBackend('wasm');
      if (info.name !== 'wasm') throw new Error(`wanted wasm, got ${info.name}`);
      const times = await measureSteps(e.data.params);
      scope.postMessage({ ok: true, times, backend: info.name, simd: info.simd, threads: info.threads, tfjs: tf.version_core });
    } catch (err) {
      scope.postMessage({ ok: false, error: err instanceof Error ? `${err.message}\n${err.stack ?? ''}` : String(err) });
    }
  })();
};
