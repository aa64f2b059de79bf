/**
 * tfjs-wasm as the app runs it, in the engine's worker and in its replicas' workers: the
 * binaries the app serves (precached by the service worker), the gradient kernels tfjs-wasm
 * lacks and our SIMD kernels.
 */
import * as tf from '@tensorflow/tfjs-core';
// tfjs-core keeps gradients apart from kernels; training needs them registered.
import '@tensorflow/tfjs-core/dist/register_all_gradients';
import { setWasmPaths } from '@tensorflow/tfjs-backend-wasm';
import { registerSimdKernels } from '../../../model/kernels/simd-kernels';
import { registerWasmGradientKernels } from '../../../model/kernels/wasm-gradients';

/**
 * Where the app serves the tfjs-wasm binaries (copied there by vite.config.ts, precached by the
 * service worker). Built, this module is a chunk in assets/, one level below the app root; the
 * path is joined at run time so Vite does not try to bundle the folder as an asset.
 */
function wasmBaseUrl(): string {
  if (import.meta.env.DEV) return new URL('/tfjs-wasm/', self.location.origin).href;
  return new URL(['..', 'tfjs-wasm', ''].join('/'), import.meta.url).href;
}

let configured = false;

/**
 * Sets where the binaries come from, once, before the backend starts. `threads`: use the
 * threaded build when the page allows it (SharedArrayBuffer needs cross-origin isolation);
 * replicas run one thread each.
 */
export function configureWasm(threads: boolean): void {
  if (configured) return;
  configured = true;
  setWasmPaths(wasmBaseUrl());
  if (!threads || !self.crossOriginIsolated) tf.env().set('WASM_HAS_MULTITHREAD_SUPPORT', false);
}

/** Switches tfjs to wasm and registers our kernels on it; throws when wasm cannot start. */
export async function startWasm(): Promise<void> {
  const ok = await tf.setBackend('wasm');
  if (!ok) throw new Error('tfjs could not initialise wasm');
  await tf.ready();
  registerWasmGradientKernels();
  await registerSimdKernels();
}
