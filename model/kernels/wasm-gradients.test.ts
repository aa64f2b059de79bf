import * as tf from '@tensorflow/tfjs-core';
// Gradient definitions ship separately from tfjs-core's ops; the union package imports this.
import '@tensorflow/tfjs-core/dist/register_all_gradients';
import '@tensorflow/tfjs-backend-cpu';
import '@tensorflow/tfjs-backend-wasm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { conv2dCases, convGrads, maxRelativeError, randomData } from './test-support';
import type { Conv, ConvCase, Pad, Shape4 } from './test-support';
import { conv2DBackpropInput, registerWasmGradientKernels } from './wasm-gradients';

async function expectWasmMatchesCpu(conv: Conv, xShape: Shape4, wShape: Shape4, seed: number): Promise<void> {
  const wasm = await convGrads('wasm', conv, xShape, wShape, seed);
  const cpu = await convGrads('cpu', conv, xShape, wShape, seed);
  expect(maxRelativeError(wasm.dw, cpu.dw), 'dw').toBeLessThanOrEqual(1e-4);
  expect(maxRelativeError(wasm.dx, cpu.dx), 'dx').toBeLessThanOrEqual(1e-4);
}

function wasmDataIds(): number {
  return (tf.findBackend('wasm') as unknown as { numDataIds(): number }).numDataIds();
}

beforeAll(async () => {
  await tf.setBackend('wasm');
  registerWasmGradientKernels();
});

afterAll(async () => {
  await tf.setBackend('wasm');
});

const depthwiseCases: ConvCase[] = [
  { name: '1x1 s1 valid mult 1', x: [1, 5, 5, 4], w: [1, 1, 4, 1], stride: 1, pad: 'valid' },
  { name: '1x1 s2 valid mult 2 batch 3', x: [3, 10, 10, 3], w: [1, 1, 3, 2], stride: 2, pad: 'valid' },
  { name: '3x3 s1 same mult 1', x: [3, 7, 7, 5], w: [3, 3, 5, 1], stride: 1, pad: 'same' },
  { name: '3x3 s1 same mult 2', x: [1, 8, 8, 3], w: [3, 3, 3, 2], stride: 1, pad: 'same' },
  { name: '3x3 s2 valid even (150->74 style)', x: [1, 20, 20, 4], w: [3, 3, 4, 1], stride: 2, pad: 'valid' },
  { name: '3x3 s2 valid odd mult 2', x: [3, 19, 19, 2], w: [3, 3, 2, 2], stride: 2, pad: 'valid' },
  { name: '3x3 s2 same even', x: [2, 16, 16, 4], w: [3, 3, 4, 1], stride: 2, pad: 'same' },
  { name: '3x3 s2 same odd mult 2', x: [1, 15, 15, 3], w: [3, 3, 3, 2], stride: 2, pad: 'same' },
  { name: '3x3 s1 pad 1 batch 3', x: [3, 9, 9, 4], w: [3, 3, 4, 1], stride: 1, pad: 1 },
  { name: '3x3 s2 pad 1 odd mult 2', x: [1, 11, 11, 3], w: [3, 3, 3, 2], stride: 2, pad: 1 },
  { name: '3x3 s2 explicit asymmetric', x: [2, 12, 11, 3], w: [3, 3, 3, 1], stride: 2, pad: [[0, 0], [1, 2], [0, 1], [0, 0]] },
  { name: '5x5 s1 explicit asymmetric mult 2', x: [1, 10, 9, 2], w: [5, 5, 2, 2], stride: 1, pad: [[0, 0], [2, 0], [1, 3], [0, 0]] },
  { name: '5x5 s2 same even (38->19 style)', x: [3, 18, 18, 4], w: [5, 5, 4, 1], stride: 2, pad: 'same' },
  { name: '5x5 s2 same odd mult 2', x: [1, 17, 17, 3], w: [5, 5, 3, 2], stride: 2, pad: 'same' },
  { name: '5x5 s2 valid even', x: [2, 18, 18, 3], w: [5, 5, 3, 1], stride: 2, pad: 'valid' },
  { name: '3x3 stride [1,2] same, non-square', x: [2, 9, 14, 3], w: [3, 3, 3, 2], stride: [1, 2], pad: 'same' },
  { name: '3x3 s3 valid', x: [1, 14, 14, 2], w: [3, 3, 2, 1], stride: 3, pad: 'valid' },
  { name: '3x3 s2 same, 1 channel mult 2', x: [3, 8, 8, 1], w: [3, 3, 1, 2], stride: 2, pad: 'same' },
  { name: '3x3 s2 pad 1 ceil mult 2', x: [1, 10, 10, 3], w: [3, 3, 3, 2], stride: 2, pad: 1, dimRoundingMode: 'ceil' },
  { name: '5x5 s2 pad 1 round batch 3', x: [3, 10, 10, 2], w: [5, 5, 2, 1], stride: 2, pad: 1, dimRoundingMode: 'round' },
];

describe('wasm Conv2DBackpropFilter (via tf.grads of conv2d) matches cpu', () => {
  it.each(conv2dCases)('$name', async ({ x, w, stride, pad }) => {
    await expectWasmMatchesCpu((a, b) => tf.conv2d(a, b, stride, pad), x, w, 11);
  });
});

describe('wasm DepthwiseConv2dNativeBackpropFilter/Input (via tf.grads of depthwiseConv2d) match cpu', () => {
  it.each(depthwiseCases)('$name', async ({ x, w, stride, pad, dimRoundingMode }) => {
    const conv: Conv = (a, b) => tf.depthwiseConv2d(a, b, stride, pad, 'NHWC', 1, dimRoundingMode);
    await expectWasmMatchesCpu(conv, x, w, 23);
  });
});

describe('registerWasmGradientKernels', () => {
  it('is idempotent and leaves kernels the backend already has alone', () => {
    const before = tf.getKernel('Conv2DBackpropFilter', 'wasm');
    expect(before).toBeDefined();
    registerWasmGradientKernels();
    expect(tf.getKernel('Conv2DBackpropFilter', 'wasm')).toBe(before);
    // Conv2DBackpropInput is ours (stride 1 on XNNPACK, the native kernel behind it), once.
    expect(tf.getKernel('Conv2DBackpropInput', 'wasm')?.kernelFunc).toBe(conv2DBackpropInput);
  });

  it('throws a clear error when the wasm kernels are not registered', () => {
    const conv2d = tf.getKernel('Conv2D', 'wasm')!;
    tf.unregisterKernel('Conv2D', 'wasm');
    try {
      expect(() => registerWasmGradientKernels()).toThrow(/import '@tensorflow\/tfjs-backend-wasm'/);
    } finally {
      tf.registerKernel(conv2d);
    }
  });

  it('rejects dilations and NCHW with clear errors', async () => {
    await tf.setBackend('wasm');
    const x = tf.ones([1, 6, 6, 2]);
    const dy = tf.ones([1, 2, 2, 2]);
    const attrs = { strides: 1, pad: 'valid', dilations: 2, filterShape: [3, 3, 2, 1] };
    expect(() =>
      tf.engine().runKernel('DepthwiseConv2dNativeBackpropFilter', { x, dy }, attrs as unknown as tf.NamedAttrMap),
    ).toThrow(/dilations 1 only/);
    const filter = tf.ones([3, 3, 2, 1]);
    expect(() =>
      tf.engine().runKernel('DepthwiseConv2dNativeBackpropInput', { dy, filter }, {
        ...attrs,
        inputShape: [1, 6, 6, 2],
      } as unknown as tf.NamedAttrMap),
    ).toThrow(/dilations 1 only/);
    const nchw = { strides: 1, pad: 'valid', dataFormat: 'NCHW', filterShape: [3, 3, 6, 2] };
    expect(() =>
      tf.engine().runKernel('Conv2DBackpropFilter', { x: tf.ones([1, 6, 6, 6]), dy }, nchw as unknown as tf.NamedAttrMap),
    ).toThrow(/'NHWC' only/);
    tf.dispose([x, dy, filter]);
  });
});

describe('training on wasm', () => {
  /** conv 3x3 s2 -> relu -> depthwise 3x3 (mult 2) -> mean: the shape of a mobile net block. */
  async function trainingGrads(backend: string): Promise<Float32Array[]> {
    await tf.setBackend(backend);
    const x = tf.tensor4d(randomData(2 * 13 * 13 * 3, 5), [2, 13, 13, 3]);
    const convW = tf.variable(tf.tensor4d(randomData(3 * 3 * 3 * 4, 6), [3, 3, 3, 4]), true, `convW-${backend}`);
    const dwW = tf.variable(tf.tensor4d(randomData(3 * 3 * 4 * 2, 7), [3, 3, 4, 2]), true, `dwW-${backend}`);
    const { value, grads } = tf.variableGrads(() =>
      tf.mean(tf.depthwiseConv2d(tf.relu(tf.conv2d(x, convW, 2, 'valid')), dwW, 1, 'same')),
    );
    const out = [await value.data(), await grads[convW.name]!.data(), await grads[dwW.name]!.data()];
    tf.dispose([x, convW, dwW, value, ...Object.values(grads)]);
    return out as Float32Array[];
  }

  it('computes variable gradients that match cpu', async () => {
    const wasm = await trainingGrads('wasm');
    const cpu = await trainingGrads('cpu');
    for (let i = 0; i < wasm.length; i++) {
      expect(wasm[i]!.every(Number.isFinite)).toBe(true);
      expect(maxRelativeError(wasm[i]!, cpu[i]!)).toBeLessThanOrEqual(1e-4);
    }
    expect(cpu[1]!.some((v) => v !== 0)).toBe(true);
  });
});

describe('memory', () => {
  it('leaks neither tensors nor wasm data ids', async () => {
    await tf.setBackend('wasm');
    const x = tf.tensor4d(randomData(2 * 12 * 11 * 3, 9), [2, 12, 11, 3]);
    const w = tf.tensor4d(randomData(3 * 3 * 3 * 4, 10), [3, 3, 3, 4]);
    const dw = tf.tensor4d(randomData(3 * 3 * 3 * 2, 11), [3, 3, 3, 2]);
    const explicit: Pad = [[0, 0], [1, 2], [0, 1], [0, 0]];
    const step = (): void => {
      const grads = tf.tidy(() =>
        tf.grads((a, b, c) =>
          tf.add(
            tf.sum(tf.conv2d(a as tf.Tensor4D, b as tf.Tensor4D, 2, explicit)),
            // 'valid' on 12x11 with stride 2 exercises the crop (Slice) path, explicit pads the PadV2 one.
            tf.sum(tf.depthwiseConv2d(a as tf.Tensor4D, c as tf.Tensor4D, 2, 'valid')),
          ),
        )([x, w, dw]),
      );
      tf.dispose(grads);
    };
    step(); // warm up: the first run may allocate backend-level state
    const tensors = tf.memory().numTensors;
    const dataIds = wasmDataIds();
    step();
    step();
    expect(tf.memory().numTensors).toBe(tensors);
    expect(wasmDataIds()).toBe(dataIds);
    tf.dispose([x, w, dw]);
  });
});
