import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-backend-cpu';
import '@tensorflow/tfjs-backend-wasm';
// Registers tfjs's gradient functions. tfjs-core's own register_all_gradients module is ESM
// with extensionless imports, which Node cannot load; the union package's Node build carries
// the same gradients and registers them in tfjs's global registry.
import '@tensorflow/tfjs';
import { registerWasmGradientKernels } from '../model/kernels/wasm-gradients';

/** Backends a Node process can run SceneLab on. `cpu` is for tests that compare against it: never train on it. */
export type NodeBackendName = 'wasm' | 'cpu';

/** What was chosen, for logs and `--json` output. */
export interface NodeBackendInfo {
  readonly name: NodeBackendName;
  readonly simd: boolean;
  readonly threads: boolean;
}

/**
 * The one place Node code picks a tfjs backend. `wasm` (XNNPACK) is the default: tfjs-node
 * cannot be installed here, and the plain `cpu` backend is ~100x slower for convolutions.
 * The wasm backend lacks the convolution-gradient kernels, which model/ registers for it.
 */
export async function initNodeBackend(name: NodeBackendName = 'wasm'): Promise<NodeBackendInfo> {
  if (tf.getBackend() !== name) {
    const ok = await tf.setBackend(name);
    if (!ok) throw new Error(`could not start the tfjs "${name}" backend`);
  }
  await tf.ready();
  if (name === 'wasm') registerWasmGradientKernels();
  return Object.freeze({
    name,
    simd: name === 'wasm' && tf.env().getBool('WASM_HAS_SIMD_SUPPORT'),
    threads: name === 'wasm' && tf.env().getBool('WASM_HAS_MULTITHREAD_SUPPORT'),
  });
}
