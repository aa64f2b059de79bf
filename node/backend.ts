import { existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-backend-cpu';
import '@tensorflow/tfjs-backend-wasm';
// Registers tfjs's gradient functions. tfjs-core's own register_all_gradients module is ESM
// with extensionless imports, which Node cannot load; the union package's Node build carries
// the same gradients and registers them in tfjs's global registry.
import '@tensorflow/tfjs';
import { registerSimdKernels } from '../model/kernels/simd-kernels';
import { registerWasmGradientKernels } from '../model/kernels/wasm-gradients';
import { InputError } from './errors';

/**
 * Backends a Node process can run SceneLab on. `wasm` is the default; `webgpu` runs on Dawn
 * (the `webgpu` package) — a real GPU driver where there is one, else Chromium's SwiftShader
 * Vulkan; `cpu` is for tests that compare against it: never train on it.
 */
export type NodeBackendName = 'wasm' | 'webgpu' | 'cpu';
export const NODE_BACKENDS: readonly NodeBackendName[] = ['wasm', 'webgpu', 'cpu'];

/** What was chosen, for logs and `--json` output. */
export interface NodeBackendInfo {
  readonly name: NodeBackendName;
  readonly simd: boolean;
  readonly threads: boolean;
  /** GPU adapter for `webgpu`, e.g. "google swiftshader". */
  readonly adapter: string | null;
}

/** Debian's Chromium ships SwiftShader as a Vulkan ICD; Dawn finds it through this variable. */
const SWIFTSHADER_ICD = '/usr/lib/chromium/vk_swiftshader_icd.json';

let webgpuAdapter: string | null = null;

/**
 * Gives Node the `navigator.gpu` that tfjs-backend-webgpu expects, from Dawn's bindings.
 * Where no Vulkan driver is configured, Chromium's SwiftShader is used when present.
 */
async function installWebGpu(): Promise<string> {
  if (webgpuAdapter) return webgpuAdapter;
  if (!process.env.VK_ICD_FILENAMES && existsSync(SWIFTSHADER_ICD) && !existsSync('/dev/dri') && !existsSync('/dev/nvidia0')) {
    process.env.VK_ICD_FILENAMES = SWIFTSHADER_ICD;
  }
  // The Vulkan loader complains on every start without it; a private temp dir is all it wants.
  process.env.XDG_RUNTIME_DIR ??= tmpdir();
  let dawn: { create: (flags: string[]) => unknown; globals: Record<string, unknown> };
  try {
    dawn = (await import('webgpu')) as unknown as typeof dawn;
  } catch (e) {
    throw new InputError(`the webgpu backend needs the "webgpu" package's Dawn bindings: ${(e as Error).message}`);
  }
  Object.assign(globalThis, dawn.globals);
  const gpu = dawn.create([]) as { requestAdapter(): Promise<{ info?: { vendor: string; architecture: string; description: string } } | null> };
  const g = globalThis as unknown as { navigator?: { gpu?: unknown } };
  if (!g.navigator) Object.defineProperty(globalThis, 'navigator', { value: {}, configurable: true, writable: true });
  Object.defineProperty(g.navigator, 'gpu', { value: gpu, configurable: true });
  const adapter = await gpu.requestAdapter();
  if (!adapter) throw new InputError('no WebGPU adapter: install a Vulkan driver (or Debian\'s chromium for SwiftShader) or use --backend wasm');
  await import('@tensorflow/tfjs-backend-webgpu');
  webgpuAdapter = [adapter.info?.vendor, adapter.info?.architecture].filter(Boolean).join(' ') || adapter.info?.description || 'unknown adapter';
  return webgpuAdapter;
}

/**
 * The one place Node code picks a tfjs backend. `wasm` (XNNPACK) is the default: tfjs-node
 * cannot be installed here, and the plain `cpu` backend is ~100x slower for convolutions.
 * The wasm backend lacks the convolution-gradient kernels, which model/ registers for it.
 */
export async function initNodeBackend(name: NodeBackendName = 'wasm'): Promise<NodeBackendInfo> {
  if (!NODE_BACKENDS.includes(name)) throw new InputError(`--backend must be ${NODE_BACKENDS.join(', ')}, got "${String(name)}"`);
  const adapter = name === 'webgpu' ? await installWebGpu() : null;
  if (tf.getBackend() !== name) {
    const ok = await tf.setBackend(name);
    if (!ok) throw new InputError(`could not start the tfjs "${name}" backend`);
  }
  await tf.ready();
  if (name === 'wasm') {
    registerWasmGradientKernels();
    await registerSimdKernels();
  }
  return Object.freeze({
    name,
    simd: name === 'wasm' && tf.env().getBool('WASM_HAS_SIMD_SUPPORT'),
    threads: name === 'wasm' && tf.env().getBool('WASM_HAS_MULTITHREAD_SUPPORT'),
    adapter,
  });
}

/** The backend named by `--backend` or `SCENELAB_BACKEND`, else `wasm`. */
export function backendFromOptions(option: string | undefined): NodeBackendName {
  const name = option ?? process.env.SCENELAB_BACKEND ?? 'wasm';
  if (!(NODE_BACKENDS as readonly string[]).includes(name)) throw new InputError(`--backend must be ${NODE_BACKENDS.join(', ')}, got "${name}"`);
  return name as NodeBackendName;
}
