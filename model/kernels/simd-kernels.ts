/**
 * SceneLab's own WebAssembly SIMD kernels (./simd/assembly, AssemblyScript) registered on tfjs's
 * 'wasm' backend in front of the ones that cost a training step most:
 *
 * - Conv2DBackpropFilter: dW as per-tap matrix products on NHWC/HWIO as they lie in memory, in
 *   place of the composed one (two transposes and a dilated convolution);
 * - MaxPoolGrad: the arg-max of each window found four channels at a time, no position scatter;
 * - Concat (the fire modules' join), SplitV (its gradient), Slice (a padding's gradient) and Sum over every axis
 *   but the last (a bias gradient): strided block copies and column sums instead of a typed-array
 *   view per pixel.
 *
 * The module imports the backend's own WebAssembly.Memory, so kernels read and write tensors
 * where tfjs keeps them: nothing is copied in or out. Each kernel falls back to the backend's
 * own implementation for what it does not cover (other dtypes, dilations, NCHW).
 *
 * Like ./wasm-gradients, this imports only tfjs-core: model/ stays backend-agnostic, and the
 * app or the Node adapter calls {@link registerSimdKernels} after starting the wasm backend.
 */
import { backend_util, Concat, Conv2DBackpropFilter, findBackend, getKernel, MaxPoolGrad, registerKernel, Slice, slice_util, SplitV, Sum, unregisterKernel, util } from '@tensorflow/tfjs-core';
import type { ConcatAttrs, Conv2DBackpropFilterAttrs, KernelConfig, KernelFunc, MaxPoolGradAttrs, SliceAttrs, SplitVAttrs, SumAttrs, TensorInfo } from '@tensorflow/tfjs-core';
import { KERNELS_WASM, KERNELS_WASM_SHARED } from './simd/kernels.generated';

const BACKEND = 'wasm';

/** The exports of ./simd/assembly: byte offsets into the backend's memory, i32 sizes. */
interface SimdExports {
  convFilterGrad(x: number, dy: number, dw: number, ...sizes: number[]): void;
  maxPoolGrad(x: number, dy: number, dx: number, ...sizes: number[]): void;
  copyRows(src: number, srcStride: number, dst: number, dstStride: number, rows: number, run: number): void;
  sumRows(x: number, out: number, rows: number, cols: number): void;
}

/** The part of the WebAssembly API used here (model/ compiles without DOM or Node typings). */
interface WasmMemory {
  readonly buffer: ArrayBufferLike;
}
interface WasmApi {
  Memory: abstract new (...args: never[]) => WasmMemory;
  validate(bytes: Uint8Array): boolean;
  instantiate(bytes: Uint8Array, imports: object): Promise<{ instance: { exports: object } }>;
}
const WebAssemblyApi = (globalThis as unknown as { WebAssembly: WasmApi }).WebAssembly;

/** What the kernels use of tfjs-backend-wasm's BackendWasm. */
interface WasmBackendLike {
  wasm: { asm?: { memory?: WasmMemory }; wasmMemory?: WasmMemory };
  dataIdMap: { get(dataId: object): { memoryOffset: number } | undefined };
  makeOutput(shape: number[], dtype: string): TensorInfo;
}

let simd: SimdExports | null = null;
/** The memory `simd` was instantiated on: the same backend again needs no second instance. */
let simdMemory: WasmMemory | null = null;
const natives = new Map<string, KernelFunc>();

function offsetOf(backend: WasmBackendLike, t: TensorInfo): number {
  const data = backend.dataIdMap.get(t.dataId);
  if (data == null) throw new Error('simd-kernels: a tensor is not on the wasm backend');
  return data.memoryOffset;
}

function decode(base64: string): Uint8Array {
  const bin = atob(base64);
  const bytes = new Uint8Array(bin.length);
  for (let i = 0; i < bin.length; i++) bytes[i] = bin.charCodeAt(i);
  return bytes;
}

function native(name: string, args: Parameters<KernelFunc>[0]): ReturnType<KernelFunc> {
  const f = natives.get(name);
  if (f == null) throw new Error(`simd-kernels: the wasm backend has no own '${name}' kernel to fall back to`);
  return f(args);
}

function conv2DBackpropFilter(args: Parameters<KernelFunc>[0]): ReturnType<KernelFunc> {
  const { inputs, attrs } = args;
  const backend = args.backend as unknown as WasmBackendLike;
  const { x, dy } = inputs as { x: TensorInfo; dy: TensorInfo };
  const { strides, pad, dataFormat, dimRoundingMode, filterShape } = attrs as unknown as Conv2DBackpropFilterAttrs;
  if ((dataFormat != null && dataFormat !== 'NHWC') || x.dtype !== 'float32' || dy.dtype !== 'float32' || x.shape.length !== 4) {
    return native(Conv2DBackpropFilter, args);
  }
  const info = backend_util.computeConv2DInfo(x.shape as [number, number, number, number], filterShape, strides, 1, pad, dimRoundingMode, false, 'channelsLast');
  const dw = backend.makeOutput([...filterShape], 'float32');
  simd!.convFilterGrad(
    offsetOf(backend, x), offsetOf(backend, dy), offsetOf(backend, dw),
    info.batchSize, info.inHeight, info.inWidth, info.inChannels,
    info.outHeight, info.outWidth, info.outChannels,
    info.filterHeight, info.filterWidth, info.strideHeight, info.strideWidth, info.padInfo.top, info.padInfo.left,
  );
  return dw;
}

function maxPoolGrad(args: Parameters<KernelFunc>[0]): ReturnType<KernelFunc> {
  const { inputs, attrs } = args;
  const backend = args.backend as unknown as WasmBackendLike;
  const { dy, input } = inputs as { dy: TensorInfo; input: TensorInfo };
  const { filterSize, strides, pad, dimRoundingMode } = attrs as unknown as MaxPoolGradAttrs;
  if (input.dtype !== 'float32' || input.shape.length !== 4) return native(MaxPoolGrad, args);
  const info = backend_util.computePool2DInfo(input.shape as [number, number, number, number], filterSize, strides, 1, pad, dimRoundingMode);
  const dx = backend.makeOutput([...input.shape], 'float32');
  simd!.maxPoolGrad(
    offsetOf(backend, input), offsetOf(backend, dy), offsetOf(backend, dx),
    info.batchSize, info.inHeight, info.inWidth, info.inChannels, info.outHeight, info.outWidth,
    info.effectiveFilterHeight, info.effectiveFilterWidth, info.strideHeight, info.strideWidth, info.padInfo.top, info.padInfo.left,
  );
  return dx;
}

/** Four-byte element types, which the copy kernel moves as they are. */
const WORD_TYPES = new Set(['float32', 'int32']);

function splitV(args: Parameters<KernelFunc>[0]): ReturnType<KernelFunc> {
  const { inputs, attrs } = args;
  const backend = args.backend as unknown as WasmBackendLike;
  const { x } = inputs as { x: TensorInfo };
  if (!WORD_TYPES.has(x.dtype)) return native(SplitV, args);
  const { numOrSizeSplits, axis } = attrs as unknown as SplitVAttrs;
  const ax = util.parseAxisParam(axis, x.shape)[0]!;
  const sizes = backend_util.prepareSplitSize(x as never, numOrSizeSplits, ax);
  const outer = util.sizeFromShape(x.shape.slice(0, ax));
  const inner = util.sizeFromShape(x.shape.slice(ax + 1));
  const src = offsetOf(backend, x);
  let start = 0;
  return sizes.map((s) => {
    const shape = [...x.shape];
    shape[ax] = s;
    const out = backend.makeOutput(shape, x.dtype);
    if (s > 0 && outer > 0 && inner > 0) {
      simd!.copyRows(src + start * inner * 4, x.shape[ax]! * inner, offsetOf(backend, out), s * inner, outer, s * inner);
    }
    start += s;
    return out;
  });
}

/** Concatenation along any axis: each input's rows land at its offset in every output row. */
function concat(args: Parameters<KernelFunc>[0]): ReturnType<KernelFunc> {
  const { inputs, attrs } = args;
  const backend = args.backend as unknown as WasmBackendLike;
  const xs = inputs as unknown as TensorInfo[];
  const dtype = xs[0]?.dtype;
  if (dtype == null || !WORD_TYPES.has(dtype) || xs.some((t) => t.dtype !== dtype)) return native(Concat, args);
  const ax = util.parseAxisParam((attrs as unknown as ConcatAttrs).axis, xs[0]!.shape)[0]!;
  const shape = backend_util.computeOutShape(xs.map((t) => t.shape), ax);
  const out = backend.makeOutput(shape, dtype);
  const outer = util.sizeFromShape(shape.slice(0, ax));
  const outRun = util.sizeFromShape(shape.slice(ax));
  if (outer === 0 || outRun === 0) return out;
  const dst = offsetOf(backend, out);
  let at = 0;
  for (const x of xs) {
    const run = util.sizeFromShape(x.shape.slice(ax));
    if (run > 0) simd!.copyRows(offsetOf(backend, x), run, dst + at * 4, outRun, outer, run);
    at += run;
  }
  return out;
}

/**
 * A slice as block copies: the axes after the last partial one are whole, so each index of
 * the axes before it starts one strided run of rows.
 */
function slice(args: Parameters<KernelFunc>[0]): ReturnType<KernelFunc> {
  const { inputs, attrs } = args;
  const backend = args.backend as unknown as WasmBackendLike;
  const { x } = inputs as { x: TensorInfo };
  if (!WORD_TYPES.has(x.dtype)) return native(Slice, args);
  const { begin, size } = attrs as unknown as SliceAttrs;
  const [b, s] = slice_util.parseSliceParams(x as never, begin, size) as [number[], number[]];
  const out = backend.makeOutput(s, x.dtype);
  if (util.sizeFromShape(s) === 0) return out;
  const shape = x.shape;
  const rank = shape.length;
  if (rank === 0) {
    simd!.copyRows(offsetOf(backend, x), 1, offsetOf(backend, out), 1, 1, 1);
    return out;
  }
  let k = rank - 1; // the last axis that is not taken whole
  while (k > 0 && b[k] === 0 && s[k] === shape[k]) k--;
  const inner = util.sizeFromShape(shape.slice(k + 1));
  const run = s[k]! * inner;
  const rowAxis = k - 1; // its rows are copied by one call; the axes before it loop here
  const rows = rowAxis >= 0 ? s[rowAxis]! : 1;
  const srcRow = shape[k]! * inner;
  const strides = [...util.computeStrides(shape), 1];
  const src = offsetOf(backend, x);
  const dst = offsetOf(backend, out);
  const index = new Array<number>(Math.max(rowAxis, 0)).fill(0);
  let written = 0;
  for (;;) {
    let from = b[k]! * inner + (rowAxis >= 0 ? b[rowAxis]! * strides[rowAxis]! : 0);
    for (let a = 0; a < index.length; a++) from += (b[a]! + index[a]!) * strides[a]!;
    simd!.copyRows(src + from * 4, srcRow, dst + written * 4, run, rows, run);
    written += rows * run;
    let a = index.length - 1;
    while (a >= 0 && ++index[a]! === s[a]!) index[a--] = 0;
    if (a < 0) break;
  }
  return out;
}

function sum(args: Parameters<KernelFunc>[0]): ReturnType<KernelFunc> {
  const { inputs, attrs } = args;
  const backend = args.backend as unknown as WasmBackendLike;
  const { x } = inputs as { x: TensorInfo };
  const { axis, keepDims } = attrs as unknown as SumAttrs;
  const rank = x.shape.length;
  const axes = util.parseAxisParam(axis, x.shape).sort((a, b) => a - b);
  // Only the bias-gradient shape: every axis reduced but the last.
  const allButLast = rank >= 2 && axes.length === rank - 1 && axes.every((a, i) => a === i);
  if (!allButLast || x.dtype !== 'float32') return native(Sum, args);
  const cols = x.shape[rank - 1]!;
  const rows = util.sizeFromShape(x.shape) / Math.max(cols, 1);
  const shape = keepDims ? [...x.shape.slice(0, rank - 1).map(() => 1), cols] : [cols];
  const out = backend.makeOutput(shape, 'float32');
  if (cols > 0) simd!.sumRows(offsetOf(backend, x), offsetOf(backend, out), rows, cols);
  return out;
}

const KERNELS: Array<[string, KernelFunc]> = [
  [Conv2DBackpropFilter, conv2DBackpropFilter],
  [MaxPoolGrad, maxPoolGrad],
  [Concat, concat],
  [SplitV, splitV],
  [Slice, slice],
  [Sum, sum],
];

/**
 * Instantiates the SIMD kernels on the started 'wasm' backend's memory and registers them in
 * front of its own (kept for what they do not cover). Call it after `tf.setBackend('wasm')`
 * and after registerWasmGradientKernels (whose Conv2DBackpropFilter becomes the fallback).
 * Returns false, registering nothing, where WebAssembly SIMD is missing. Idempotent.
 */
export async function registerSimdKernels(): Promise<boolean> {
  const backend = findBackend(BACKEND) as unknown as WasmBackendLike | null;
  if (backend == null) throw new Error("registerSimdKernels: start the 'wasm' backend first (tf.setBackend('wasm'))");
  const memory = backend.wasm.wasmMemory ?? backend.wasm.asm?.memory;
  if (!(memory instanceof WebAssemblyApi.Memory)) throw new Error("registerSimdKernels: the wasm backend's memory is not reachable");
  if (simdMemory !== memory) {
    const shared = typeof SharedArrayBuffer !== 'undefined' && memory.buffer instanceof SharedArrayBuffer;
    const bytes = decode(shared ? KERNELS_WASM_SHARED : KERNELS_WASM);
    if (!WebAssemblyApi.validate(bytes)) return false;
    const { instance } = await WebAssemblyApi.instantiate(bytes, { env: { memory } });
    simd = instance.exports as unknown as SimdExports;
    simdMemory = memory;
  }
  for (const [name, kernelFunc] of KERNELS) {
    const current = getKernel(name, BACKEND);
    if (current?.kernelFunc === kernelFunc) continue;
    if (current != null) {
      natives.set(name, current.kernelFunc);
      unregisterKernel(name, BACKEND);
    }
    registerKernel({ ...(current ?? {}), kernelName: name, backendName: BACKEND, kernelFunc } as KernelConfig);
  }
  return true;
}
