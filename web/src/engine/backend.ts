/**
 * The one place the browser app picks a tfjs backend: WebGPU → WebGL → WASM → CPU, each tried
 * for real (adapter request, a tiny kernel whose answer is checked) before it is chosen.
 * model/ never calls `setBackend`; this module does, once per selection.
 */
import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-backend-cpu';
import '@tensorflow/tfjs-backend-webgl';
import '@tensorflow/tfjs-backend-webgpu';
import { BACKEND_ORDER, type BackendAttempt, type BackendInfo, type BackendName, type BackendPreference } from './types';
import { configureWasm, startWasm } from './wasm-backend';

/** WebGPU is not there or gave no adapter; the message says what to do. */
export class WebGPUNotAvailableError extends Error {
  constructor(reason: string) {
    super(`WebGPU is not available (${reason}). Use a current Chrome or Edge, or pick WebGL or WASM in Settings.`);
    this.name = 'WebGPUNotAvailableError';
  }
}

async function adapterName(): Promise<string | null> {
  const gpu = (self.navigator as Navigator & { gpu?: GPU }).gpu;
  if (!gpu) return null;
  const adapter = await gpu.requestAdapter();
  if (!adapter) return null;
  // `info` replaced requestAdapterInfo() in Chrome 127; older typings lack it.
  const info = (adapter as GPUAdapter & { info?: { vendor?: string; architecture?: string; description?: string } }).info ?? {};
  return [info.vendor, info.architecture, info.description].filter((s) => s).join(' ') || 'unknown adapter';
}

/** A tiny matmul whose answer is known: a backend that initialises but computes garbage is refused. */
async function smokeTest(): Promise<void> {
  const x = tf.tensor2d([1, 2, 3, 4], [2, 2]);
  const y = tf.matMul(x, x);
  const got = await y.data();
  tf.dispose([x, y]);
  const want = [7, 10, 15, 22];
  if (!want.every((v, i) => Math.abs((got[i] ?? NaN) - v) < 1e-3)) throw new Error(`smoke test computed [${Array.from(got).join(', ')}]`);
}

async function tryBackend(name: BackendName): Promise<{ adapter: string | null }> {
  let adapter: string | null = null;
  if (name === 'webgpu') {
    if (!('gpu' in self.navigator)) throw new WebGPUNotAvailableError('navigator.gpu is missing');
    adapter = await adapterName();
    if (!adapter) throw new WebGPUNotAvailableError('no GPU adapter');
  }
  if (name === 'webgl' && typeof OffscreenCanvas === 'undefined') throw new Error('no OffscreenCanvas in this worker');
  if (name === 'wasm') {
    configureWasm(true);
    await startWasm();
  } else {
    const ok = await tf.setBackend(name);
    if (!ok) throw new Error(`tfjs could not initialise ${name}`);
    await tf.ready();
  }
  if (name === 'webgl') {
    const gl = (tf.backend() as unknown as { gpgpu?: { gl?: WebGL2RenderingContext } }).gpgpu?.gl;
    const ext = gl?.getExtension('WEBGL_debug_renderer_info');
    adapter = gl && ext ? String(gl.getParameter(ext.UNMASKED_RENDERER_WEBGL)) : 'WebGL';
  }
  await smokeTest();
  return { adapter };
}

/** A GPU that is really the CPU (SwiftShader, llvmpipe): there WASM with SIMD and threads is faster. */
export function isSoftwareAdapter(adapter: string | null): boolean {
  return adapter !== null && /swiftshader|llvmpipe|softpipe|software|basic render/i.test(adapter);
}

let current: BackendInfo | null = null;
const lostListeners = new Set<(reason: string) => void>();

/** The backend in use, or null before `selectBackend`. */
export function currentBackend(): BackendInfo | null {
  return current;
}

/** Called when the WebGPU device is lost (driver reset, GPU process crash, tab in background on some phones). */
export function onDeviceLost(listener: (reason: string) => void): () => void {
  lostListeners.add(listener);
  return () => lostListeners.delete(listener);
}

function watchDeviceLost(): void {
  const device = (tf.backend() as unknown as { device?: GPUDevice }).device;
  void device?.lost.then((info) => {
    if (current?.name !== 'webgpu') return;
    for (const l of lostListeners) l(info.message || info.reason || 'device lost');
  });
}

/**
 * Picks the backend: the preferred one first, then the rest in `BACKEND_ORDER` after it
 * (`auto` starts at the top). Backends in `exclude` (e.g. one whose device was lost) are skipped.
 */
export async function selectBackend(preference: BackendPreference, exclude: readonly BackendName[] = []): Promise<BackendInfo> {
  const order = preference === 'auto' ? [...BACKEND_ORDER] : [preference, ...BACKEND_ORDER.filter((b) => b !== preference)];
  const attempts: BackendAttempt[] = [];
  for (const name of order) {
    if (exclude.includes(name)) {
      attempts.push({ name, ok: false, reason: 'excluded after a failure', ms: 0 });
      continue;
    }
    const t0 = performance.now();
    try {
      const { adapter } = await tryBackend(name);
      // `auto` means fastest: a software GPU loses to WASM. Asked for by name, it is used.
      if (preference === 'auto' && (name === 'webgpu' || name === 'webgl') && isSoftwareAdapter(adapter)) {
        throw new Error(`${adapter} is a software renderer; WASM is faster here`);
      }
      attempts.push({ name, ok: true, reason: null, ms: Math.round(performance.now() - t0) });
      if (name === 'webgpu') watchDeviceLost();
      current = Object.freeze({
        name,
        adapter,
        simd: name === 'wasm' && tf.env().getBool('WASM_HAS_SIMD_SUPPORT'),
        threads: name === 'wasm' && tf.env().getBool('WASM_HAS_MULTITHREAD_SUPPORT'),
        attempts: Object.freeze(attempts),
      });
      return current;
    } catch (e) {
      // The backend stays registered (the next setBackend switches away from it), so it can
      // still be picked by name later from Settings.
      attempts.push({ name, ok: false, reason: (e as Error).message, ms: Math.round(performance.now() - t0) });
    }
  }
  throw new Error(`no tfjs backend works here: ${attempts.map((a) => `${a.name}: ${a.reason}`).join('; ')}`);
}
