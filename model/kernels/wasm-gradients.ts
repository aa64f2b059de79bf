/**
 * Gradient kernels that @tensorflow/tfjs-backend-wasm 4.22 lacks, composed from the wasm
 * backend's own kernels — and a faster Conv2DBackpropInput for stride-1 convolutions (all of
 * SqueezeNet's but the first), whose native wasm kernel is a plain loop that took half of a
 * training step: here it is one XNNPACK Conv2D (a GEMM for 1x1 filters).
 *
 * Without them, `tf.grads` of a conv2d / depthwiseConv2d throws on 'wasm' (tfjs has no
 * per-kernel fallback to another backend). Every kernel here only calls other wasm kernel
 * functions directly (never tf ops or the engine), so nothing is recorded on the gradient
 * tape and every intermediate can be freed with `backend.disposeData`.
 *
 * This module deliberately imports only tfjs-core: model/ stays backend-agnostic, and the
 * app calls {@link registerWasmGradientKernels} after it has imported the wasm backend.
 */
import {
  backend_util,
  Conv2DBackpropFilter,
  Conv2DBackpropInput,
  DepthwiseConv2dNativeBackpropFilter,
  DepthwiseConv2dNativeBackpropInput,
  getKernel,
  registerKernel,
  unregisterKernel,
} from '@tensorflow/tfjs-core';
import type {
  Conv2DBackpropFilterAttrs,
  Conv2DBackpropInputAttrs,
  DepthwiseConv2dNativeBackpropFilterAttrs,
  DepthwiseConv2dNativeBackpropInputAttrs,
  KernelBackend,
  KernelConfig,
  KernelFunc,
  NamedAttrMap,
  NamedTensorInfoMap,
  TensorInfo,
} from '@tensorflow/tfjs-core';

const BACKEND = 'wasm';

type Shape4 = [number, number, number, number];
type PadPair = [number, number];

/**
 * Runs wasm kernels and remembers every output, so that a composed kernel can free all of
 * its intermediates (also when a step throws) and keep only its result.
 */
class KernelRunner {
  private readonly temps: TensorInfo[] = [];

  constructor(readonly backend: KernelBackend) {}

  run(kernelName: string, inputs: NamedTensorInfoMap, attrs: NamedAttrMap = {}): TensorInfo {
    const out = wasmKernel(kernelName)({ inputs, backend: this.backend, attrs });
    if (Array.isArray(out)) {
      // None of the kernels used here has several outputs; free them rather than leak.
      for (const t of out) this.backend.disposeData(t.dataId);
      throw new Error(`wasm-gradients: kernel ${kernelName} returned ${out.length} outputs, expected 1`);
    }
    this.temps.push(out);
    return out;
  }

  reshape(x: TensorInfo, shape: number[]): TensorInfo {
    return sameShape(x.shape, shape) ? x : this.run('Reshape', { x }, { shape });
  }

  transpose(x: TensorInfo, perm: number[]): TensorInfo {
    return this.run('Transpose', { x }, { perm });
  }

  /**
   * Pads with zeros where a side is positive and crops where it is negative: explicit
   * paddings and 'valid' convolutions whose last rows are never read need both.
   */
  padOrCrop(x: TensorInfo, sides: PadPair[]): TensorInfo {
    let out = x;
    if (sides.some(([b, a]) => b > 0 || a > 0)) {
      const paddings = sides.map(([b, a]) => [Math.max(0, b), Math.max(0, a)]);
      out = this.run('PadV2', { x: out }, { paddings, constantValue: 0 });
    }
    if (sides.some(([b, a]) => b < 0 || a < 0)) {
      const begin = sides.map(([b]) => Math.max(0, -b));
      const size = out.shape.map((n, i) => {
        const [b, a] = sides[i] ?? [0, 0];
        return n - Math.max(0, -b) - Math.max(0, -a);
      });
      if (size.some((n) => n <= 0)) {
        throw new Error(`wasm-gradients: padding ${JSON.stringify(sides)} leaves nothing of shape [${x.shape}]`);
      }
      out = this.run('Slice', { x: out }, { begin, size });
    }
    return out;
  }

  /** Frees every intermediate except `keep` (the kernel's result). */
  finish(keep: TensorInfo | null): void {
    for (const t of this.temps) {
      if (t !== keep) this.backend.disposeData(t.dataId);
    }
    this.temps.length = 0;
  }
}

function sameShape(a: readonly number[], b: readonly number[]): boolean {
  return a.length === b.length && a.every((n, i) => n === b[i]);
}

function wasmKernel(kernelName: string): KernelFunc {
  const config = getKernel(kernelName, BACKEND);
  if (config == null) {
    throw new Error(
      `wasm-gradients: the wasm backend has no '${kernelName}' kernel; ` +
        `import '@tensorflow/tfjs-backend-wasm' before registering or using these gradients`,
    );
  }
  return config.kernelFunc;
}

/**
 * Runs `body` with a fresh runner and frees its intermediates whatever happens; the result
 * must be an output of the runner (never one of the kernel's inputs).
 */
function compose(backend: {}, body: (r: KernelRunner) => TensorInfo): TensorInfo {
  const runner = new KernelRunner(backend as KernelBackend);
  let result: TensorInfo | null = null;
  try {
    result = body(runner);
    return result;
  } finally {
    runner.finish(result);
  }
}

function assertNoDilation(kernelName: string, dilations: number | [number, number] | undefined): void {
  if (dilations != null && !backend_util.tupleValuesAreOne(dilations)) {
    throw new Error(
      `wasm-gradients: ${kernelName} supports dilations 1 only (tfjs computes no conv ` +
        `gradient for dilated convolutions either); got dilations ${JSON.stringify(dilations)}`,
    );
  }
}

function assertNhwc(kernelName: string, dataFormat: string | undefined): void {
  if (dataFormat != null && dataFormat !== 'NHWC') {
    throw new Error(`wasm-gradients: ${kernelName} supports dataFormat 'NHWC' only; got '${dataFormat}'`);
  }
}

function asShape4(kernelName: string, what: string, shape: readonly number[]): Shape4 {
  if (shape.length !== 4) {
    throw new Error(`wasm-gradients: ${kernelName} needs a rank-4 ${what}; got shape [${shape}]`);
  }
  return shape as Shape4;
}

/**
 * Pads/crops x's spatial dims so a stride-s, valid, filter-f window over it yields exactly
 * `out` positions: height becomes (outH - 1) * strideH + filterH, and so for width.
 */
function fitInputToOutput(r: KernelRunner, x: TensorInfo, info: backend_util.Conv2DInfo): TensorInfo {
  const height = (info.outHeight - 1) * info.strideHeight + info.filterHeight;
  const width = (info.outWidth - 1) * info.strideWidth + info.filterWidth;
  const { top, left } = info.padInfo;
  return r.padOrCrop(x, [
    [0, 0],
    [top, height - info.inHeight - top],
    [left, width - info.inWidth - left],
    [0, 0],
  ]);
}

/**
 * dW[kh,kw,i,o] = sum over b,oy,ox of xPad[b, oy*sH + kh, ox*sW + kw, i] * dy[b,oy,ox,o]:
 * a stride-1 convolution of x (batch and channels swapped) with dy as filter, dilated by
 * the forward stride. This runs as one XNNPACK Conv2D instead of a per-tap loop.
 */
function conv2DBackpropFilter({ inputs, backend, attrs }: Parameters<KernelFunc>[0]): TensorInfo {
  const { x, dy } = inputs as { x: TensorInfo; dy: TensorInfo };
  const { strides, pad, dataFormat, dimRoundingMode, filterShape } = attrs as unknown as Conv2DBackpropFilterAttrs;
  assertNhwc(Conv2DBackpropFilter, dataFormat);
  const info = backend_util.computeConv2DInfo(
    asShape4(Conv2DBackpropFilter, 'x', x.shape),
    filterShape,
    strides,
    1,
    pad,
    dimRoundingMode,
    false,
    'channelsLast',
  );
  return compose(backend, (r) => {
    const xFit = fitInputToOutput(r, x, info);
    // [B, H, W, inC] -> [inC, H, W, B]: input channels become the batch, batch the channels.
    const xT = r.transpose(xFit, [3, 1, 2, 0]);
    // [B, outH, outW, outC] -> [outH, outW, B, outC]: dy as an (outH x outW) filter over B.
    const dyT = r.transpose(dy, [1, 2, 0, 3]);
    const dwT = r.run(
      'Conv2D',
      { x: xT, filter: dyT },
      {
        strides: [1, 1],
        dilations: [info.strideHeight, info.strideWidth],
        pad: 'valid',
        dataFormat: 'NHWC',
      },
    );
    // [inC, fh, fw, outC] -> [fh, fw, inC, outC]
    return r.transpose(dwT, [1, 2, 0, 3]);
  });
}

/**
 * dW[kh,kw,c,m] = sum over b,oy,ox of xPad[b, oy*sH + kh, ox*sW + kw, c] * dy[b,oy,ox,c*M+m].
 * With (batch, channel) pairs as the channels, this is one depthwise convolution of x by
 * dy (dilated by the forward stride), followed by a sum over the batch.
 */
function depthwiseBackpropFilter({ inputs, backend, attrs }: Parameters<KernelFunc>[0]): TensorInfo {
  const { x, dy } = inputs as { x: TensorInfo; dy: TensorInfo };
  const { strides, dilations, pad, dimRoundingMode, filterShape } =
    attrs as unknown as DepthwiseConv2dNativeBackpropFilterAttrs;
  assertNoDilation(DepthwiseConv2dNativeBackpropFilter, dilations);
  const info = backend_util.computeConv2DInfo(
    asShape4(DepthwiseConv2dNativeBackpropFilter, 'x', x.shape),
    filterShape,
    strides,
    1,
    pad,
    dimRoundingMode,
    true,
  );
  const { batchSize: b, inChannels: c, outHeight: oh, outWidth: ow, filterHeight: fh, filterWidth: fw } = info;
  const mult = info.outChannels / c;
  return compose(backend, (r) => {
    const xFit = fitInputToOutput(r, x, info);
    const [, hp, wp] = xFit.shape as Shape4;
    // [B, Hp, Wp, C] -> [1, Hp, Wp, B*C]: each (batch, channel) pair is its own depthwise channel.
    const xT = r.reshape(b === 1 ? xFit : r.transpose(xFit, [1, 2, 0, 3]), [1, hp, wp, b * c]);
    // [B, oh, ow, C*M] -> [oh, ow, B*C, M]: dy as that depthwise conv's filter.
    const dyT = r.reshape(b === 1 ? dy : r.transpose(dy, [1, 2, 0, 3]), [oh, ow, b * c, mult]);
    const perPair = r.run(
      'DepthwiseConv2dNative',
      { x: xT, filter: dyT },
      { strides: [1, 1], dilations: [info.strideHeight, info.strideWidth], pad: 'valid' },
    );
    // [1, fh, fw, B*C*M] -> [fh, fw, C, M], summing over the batch.
    const summed =
      b === 1 ? perPair : r.run('Sum', { x: r.reshape(perPair, [fh, fw, b, c * mult]) }, { axis: [2], keepDims: false });
    return r.reshape(summed, [fh, fw, c, mult]);
  });
}

/**
 * dx is the transposed depthwise convolution: dy with (stride - 1) zeros inserted between
 * its pixels, padded by (filter - 1 - padBefore), convolved (stride 1, 'valid') with the
 * spatially reversed filter. Each of the C*M dy channels is its own depthwise channel; the
 * M results belonging to one input channel are then summed.
 */
function depthwiseBackpropInput({ inputs, backend, attrs }: Parameters<KernelFunc>[0]): TensorInfo {
  const { dy, filter } = inputs as { dy: TensorInfo; filter: TensorInfo };
  const { strides, dilations, pad, dimRoundingMode, inputShape } =
    attrs as unknown as DepthwiseConv2dNativeBackpropInputAttrs;
  assertNoDilation(DepthwiseConv2dNativeBackpropInput, dilations);
  const info = backend_util.computeConv2DInfo(
    asShape4(DepthwiseConv2dNativeBackpropInput, 'inputShape', inputShape),
    asShape4(DepthwiseConv2dNativeBackpropInput, 'filter', filter.shape),
    strides,
    1,
    pad,
    dimRoundingMode,
    true,
  );
  const { batchSize: b, inHeight, inWidth, inChannels: c, outHeight: oh, outWidth: ow } = info;
  const { strideHeight: sh, strideWidth: sw, filterHeight: fh, filterWidth: fw } = info;
  const cm = info.outChannels;
  asShape4(DepthwiseConv2dNativeBackpropInput, 'dy', dy.shape);
  return compose(backend, (r) => {
    let dyUp = dy;
    if (sh > 1 || sw > 1) {
      // [B, oh, 1, ow, 1, CM] padded to [B, oh, sh, ow, sw, CM] puts each dy pixel at the
      // top-left of an sh x sw block of zeros, i.e. dy dilated by the stride.
      const spread = r.reshape(dy, [b, oh, 1, ow, 1, cm]);
      const zeros = r.run(
        'PadV2',
        { x: spread },
        { paddings: [[0, 0], [0, 0], [0, sh - 1], [0, 0], [0, sw - 1], [0, 0]], constantValue: 0 },
      );
      dyUp = r.reshape(zeros, [b, oh * sh, ow * sw, cm]);
    }
    const top = fh - 1 - info.padInfo.top;
    const left = fw - 1 - info.padInfo.left;
    // The valid correlation below must produce exactly inHeight x inWidth; input rows that
    // no window reached get zeros from the extra bottom/right padding.
    const dyPad = r.padOrCrop(dyUp, [
      [0, 0],
      [top, inHeight + fh - 1 - top - oh * sh],
      [left, inWidth + fw - 1 - left - ow * sw],
      [0, 0],
    ]);
    const flipped = r.reshape(r.run('Reverse', { x: filter }, { dims: [0, 1] }), [fh, fw, cm, 1]);
    const perOutChannel = r.run(
      'DepthwiseConv2dNative',
      { x: dyPad, filter: flipped },
      { strides: [1, 1], dilations: [1, 1], pad: 'valid' },
    );
    const mult = cm / c;
    if (mult === 1) return perOutChannel;
    return r.run('Sum', { x: r.reshape(perOutChannel, [b, inHeight, inWidth, c, mult]) }, { axis: [4], keepDims: false });
  });
}

/** The wasm backend's own Conv2DBackpropInput, kept for the strided case. */
let nativeConv2DBackpropInput: KernelFunc | null = null;

/**
 * dx of a stride-1 convolution. 1x1 without padding: dx = dy · Wᵀ over all pixels, a 1x1
 * convolution with the filter's channel axes swapped. Otherwise dx[z] = Σ_j dyPad[z + j] · W[k-1-j]ᵀ: dy padded by k-1-top before and
 * to the input size after, convolved ('valid') with the filter flipped in space and with its
 * channel axes swapped. Strided convolutions go to the native kernel.
 */
export function conv2DBackpropInput(args: Parameters<KernelFunc>[0]): TensorInfo | TensorInfo[] {
  const { inputs, backend, attrs } = args;
  const { dy, filter } = inputs as { dy: TensorInfo; filter: TensorInfo };
  const { strides, pad, dataFormat, dimRoundingMode, inputShape } = attrs as unknown as Conv2DBackpropInputAttrs;
  const [sh, sw] = typeof strides === 'number' ? [strides, strides] : strides;
  if (sh !== 1 || sw !== 1 || (dataFormat != null && dataFormat !== 'NHWC')) return nativeConv2DBackpropInput!(args);
  const [fh, fw, inC, outC] = asShape4(Conv2DBackpropInput, 'filter', filter.shape);
  const [b, inH, inW] = asShape4(Conv2DBackpropInput, 'input shape', inputShape);
  const info = backend_util.computeConv2DInfo([b, inH, inW, inC], [fh, fw, inC, outC], strides, 1, pad, dimRoundingMode, false, 'channelsLast');
  const { top, left } = info.padInfo;
  return compose(backend, (r) => {
    if (fh === 1 && fw === 1 && top === 0 && left === 0 && info.outHeight === inH && info.outWidth === inW) {
      // XNNPACK runs a 1x1 convolution as its GEMM: dy by Wᵀ, channels swapped in the filter.
      const wT = r.transpose(filter, [0, 1, 3, 2]);
      return r.run('Conv2D', { x: dy, filter: wT }, { strides: [1, 1], dilations: [1, 1], pad: 'valid', dataFormat: 'NHWC' });
    }
    const dyPad = r.padOrCrop(dy, [
      [0, 0],
      [fh - 1 - top, inH - info.outHeight + top],
      [fw - 1 - left, inW - info.outWidth + left],
      [0, 0],
    ]);
    const flipped = r.transpose(r.run('Reverse', { x: filter }, { dims: [0, 1] }), [0, 1, 3, 2]);
    return r.run('Conv2D', { x: dyPad, filter: flipped }, { strides: [1, 1], dilations: [1, 1], pad: 'valid', dataFormat: 'NHWC' });
  });
}

const KERNELS: KernelConfig[] = [
  { kernelName: Conv2DBackpropFilter, backendName: BACKEND, kernelFunc: conv2DBackpropFilter },
  { kernelName: DepthwiseConv2dNativeBackpropFilter, backendName: BACKEND, kernelFunc: depthwiseBackpropFilter },
  { kernelName: DepthwiseConv2dNativeBackpropInput, backendName: BACKEND, kernelFunc: depthwiseBackpropInput },
];

/** Kernels the composed gradients call; all ship with tfjs-backend-wasm 4.22. */
const REQUIRED = ['Conv2D', 'Conv2DBackpropInput', 'DepthwiseConv2dNative', 'Transpose', 'PadV2', 'Slice', 'Reshape', 'Reverse', 'Sum'];

/**
 * Registers wasm implementations of Conv2DBackpropFilter, DepthwiseConv2dNativeBackpropFilter
 * and DepthwiseConv2dNativeBackpropInput, so conv nets can be trained on the 'wasm' backend,
 * and the stride-1 Conv2DBackpropInput in front of the native one.
 *
 * Call it after importing '@tensorflow/tfjs-backend-wasm' (it throws otherwise). Idempotent:
 * a kernel the wasm backend already has (its own, or one registered earlier) is left as is.
 */
export function registerWasmGradientKernels(): void {
  const missing = REQUIRED.filter((name) => getKernel(name, BACKEND) == null);
  if (missing.length > 0) {
    throw new Error(
      `registerWasmGradientKernels: the wasm backend's kernels are not registered (missing ` +
        `${missing.join(', ')}); import '@tensorflow/tfjs-backend-wasm' first`,
    );
  }
  for (const config of KERNELS) {
    if (getKernel(config.kernelName, BACKEND) == null) registerKernel(config);
  }
  // Replace the native Conv2DBackpropInput once, keeping it for the strided case.
  const native = getKernel(Conv2DBackpropInput, BACKEND)!;
  if (native.kernelFunc !== conv2DBackpropInput) {
    nativeConv2DBackpropInput = native.kernelFunc;
    unregisterKernel(Conv2DBackpropInput, BACKEND);
    registerKernel({ ...native, kernelFunc: conv2DBackpropInput });
  }
}
