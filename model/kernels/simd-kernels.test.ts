import * as tf from '@tensorflow/tfjs-core';
// Gradient definitions ship separately from tfjs-core's ops; the union package imports this.
import '@tensorflow/tfjs-core/dist/register_all_gradients';
import '@tensorflow/tfjs-backend-cpu';
import '@tensorflow/tfjs-backend-wasm';
import { beforeAll, describe, expect, it } from 'vitest';
import { registerSimdKernels } from './simd-kernels';
import { conv2dCases, convGrads, maxRelativeError, randomData, sizeOf } from './test-support';
import { registerWasmGradientKernels } from './wasm-gradients';

beforeAll(async () => {
  await tf.setBackend('wasm');
  registerWasmGradientKernels();
  expect(await registerSimdKernels()).toBe(true);
});

/** Runs `f` on wasm and on cpu with the same inputs, returning both results' values. */
async function onBoth(f: () => tf.Tensor | tf.Tensor[]): Promise<{ wasm: Float32Array[]; cpu: Float32Array[] }> {
  const shapes: Record<string, number[][]> = {};
  const run = async (backend: string): Promise<Float32Array[]> => {
    await tf.setBackend(backend);
    const out = tf.tidy(f);
    const list = Array.isArray(out) ? out : [out];
    shapes[backend] = list.map((t) => t.shape);
    const values = await Promise.all(list.map(async (t) => (await t.data()) as Float32Array));
    tf.dispose(list);
    return values;
  };
  const cpu = await run('cpu');
  const wasm = await run('wasm');
  expect(shapes.wasm).toEqual(shapes.cpu);
  return { wasm, cpu };
}

function expectClose(wasm: Float32Array[], cpu: Float32Array[], tolerance = 1e-4): void {
  expect(wasm.length).toBe(cpu.length);
  for (let i = 0; i < wasm.length; i++) expect(maxRelativeError(wasm[i]!, cpu[i]!), `output ${i}`).toBeLessThanOrEqual(tolerance);
}

describe('SIMD Conv2DBackpropFilter matches cpu', () => {
  it('is the registered kernel', () => {
    expect(tf.getKernel('Conv2DBackpropFilter', 'wasm')?.kernelFunc.name).toBe('conv2DBackpropFilter');
  });
  it.each(conv2dCases)('$name', async ({ x, w, stride, pad }) => {
    const conv = (a: tf.Tensor4D, b: tf.Tensor4D): tf.Tensor4D => tf.conv2d(a, b, stride, pad);
    const wasm = await convGrads('wasm', conv, x, w, 31);
    const cpu = await convGrads('cpu', conv, x, w, 31);
    expect(maxRelativeError(wasm.dw, cpu.dw)).toBeLessThanOrEqual(1e-4);
  });
  // Channel counts around the 4 x 8 register block: tails in both input and output channels.
  it.each([
    [1, 1], [3, 6], [4, 8], [5, 9], [7, 17], [12, 31], [33, 8],
  ])('1x1 and 3x3 with %i input and %i output channels', async (cin, cout) => {
    for (const [k, pad] of [[1, 'valid'], [3, 'same']] as const) {
      const conv = (a: tf.Tensor4D, b: tf.Tensor4D): tf.Tensor4D => tf.conv2d(a, b, 1, pad);
      const wasm = await convGrads('wasm', conv, [2, 7, 5, cin], [k, k, cin, cout], cin * 100 + cout);
      const cpu = await convGrads('cpu', conv, [2, 7, 5, cin], [k, k, cin, cout], cin * 100 + cout);
      expect(maxRelativeError(wasm.dw, cpu.dw), `${k}x${k}`).toBeLessThanOrEqual(1e-4);
    }
  });
  it('runs a long 1x1 run in chunks (more pixels than one chunk, not a multiple of it)', async () => {
    const conv = (a: tf.Tensor4D, b: tf.Tensor4D): tf.Tensor4D => tf.conv2d(a, b, 1, 'valid');
    const wasm = await convGrads('wasm', conv, [3, 13, 11, 16], [1, 1, 16, 24], 5);
    const cpu = await convGrads('cpu', conv, [3, 13, 11, 16], [1, 1, 16, 24], 5);
    expect(maxRelativeError(wasm.dw, cpu.dw)).toBeLessThanOrEqual(1e-4);
  });
});

describe('SIMD MaxPoolGrad matches cpu', () => {
  const cases: Array<{ name: string; x: [number, number, number, number]; k: number | [number, number]; s: number | [number, number]; pad: 'valid' | 'same' | number }> = [
    { name: '3x3 s2 valid, 64 channels (SqueezeNet)', x: [2, 15, 15, 64], k: 3, s: 2, pad: 'valid' },
    { name: '3x3 s2 valid, odd channels', x: [3, 11, 9, 7], k: 3, s: 2, pad: 'valid' },
    { name: '2x2 s2 same, odd size', x: [1, 9, 7, 5], k: 2, s: 2, pad: 'same' },
    { name: '3x3 s1 same (overlapping windows)', x: [2, 6, 6, 6], k: 3, s: 1, pad: 'same' },
    { name: '3x3 s2 pad 1, odd size', x: [1, 8, 7, 3], k: 3, s: 2, pad: 1 },
    { name: '3x2 window, stride [2,1], valid', x: [2, 8, 7, 5], k: [3, 2], s: [2, 1], pad: 'valid' },
  ];
  it.each(cases)('$name', async ({ x, k, s, pad }) => {
    const { wasm, cpu } = await onBoth(() => {
      const input = tf.tensor4d(randomData(sizeOf(x), 3), x);
      const outShape = tf.maxPool(input, k, s, pad).shape;
      const dy = tf.tensor(randomData(sizeOf(outShape), 4), outShape);
      return tf.grad((a: tf.Tensor) => tf.sum(tf.mul(tf.maxPool(a as tf.Tensor4D, k, s, pad), dy)))(input);
    });
    expectClose(wasm, cpu);
  });
  it('gives a tied window its gradient once, at the first maximum', async () => {
    const { wasm, cpu } = await onBoth(() => {
      // Every value equal: each window's first tap wins, as on cpu (and in PyTorch).
      const input = tf.fill([1, 5, 5, 6], 0.5) as tf.Tensor4D;
      return tf.grad((a: tf.Tensor) => tf.sum(tf.maxPool(a as tf.Tensor4D, 3, 2, 'valid')))(input);
    });
    expectClose(wasm, cpu, 0);
    expect(wasm[0]!.reduce((a, b) => a + b, 0)).toBe(2 * 2 * 6);
  });
});

describe('SIMD SplitV and Sum match cpu', () => {
  it.each([
    { shape: [2, 5, 3, 24], sizes: [8, 16], axis: 3 },
    { shape: [2, 5, 3, 7], sizes: [3, 0, 4], axis: -1 },
    { shape: [4, 6, 5], sizes: [1, 2, 3], axis: 1 },
    { shape: [6, 5], sizes: [2, 4], axis: 0 },
  ])('splits $shape into $sizes along axis $axis', async ({ shape, sizes, axis }) => {
    const { wasm, cpu } = await onBoth(() => tf.split(tf.tensor(randomData(sizeOf(shape), 8), shape), sizes, axis));
    expectClose(wasm, cpu, 0);
  });
  it.each([
    { shape: [32, 9, 9, 4], begin: [0, 0, 0, 0], size: [32, 8, 8, 4] },
    { shape: [3, 9, 7, 5], begin: [1, 2, 0, 1], size: [2, 5, 7, 3] },
    { shape: [3, 9, 7, 5], begin: [0, 0, 0, 0], size: [2, -1, -1, -1] },
    { shape: [2, 3, 4, 5, 6], begin: [1, 0, 1, 2, 0], size: [1, 3, 2, 2, 6] },
    { shape: [7, 6], begin: [2, 1], size: [3, 4] },
    { shape: [11], begin: [3], size: [5] },
  ])('slices $shape from $begin by $size', async ({ shape, begin, size }) => {
    const { wasm, cpu } = await onBoth(() => tf.slice(tf.tensor(randomData(sizeOf(shape), 12), shape), begin, size));
    expectClose(wasm, cpu, 0);
  });
  it.each([
    { shapes: [[2, 5, 3, 8], [2, 5, 3, 16]], axis: 3 },
    { shapes: [[2, 5, 3, 7], [2, 5, 3, 0], [2, 5, 3, 5]], axis: -1 },
    { shapes: [[4, 2, 5], [4, 3, 5], [4, 1, 5]], axis: 1 },
    { shapes: [[2, 5], [3, 5]], axis: 0 },
    { shapes: [[6]], axis: 0 },
  ])('concatenates $shapes along axis $axis', async ({ shapes, axis }) => {
    const { wasm, cpu } = await onBoth(() => tf.concat(shapes.map((s, i) => tf.tensor(randomData(sizeOf(s), 20 + i), s)), axis));
    expectClose(wasm, cpu, 0);
  });
  it('splits int32 as it is', async () => {
    await tf.setBackend('wasm');
    const [a, b] = tf.split(tf.tensor2d([1, 2, 3, 4, 5, 6], [2, 3], 'int32'), [1, 2], 1);
    expect(await a!.array()).toEqual([[1], [4]]);
    expect(await b!.array()).toEqual([[2, 3], [5, 6]]);
    tf.dispose([a!, b!]);
  });
  it.each([
    { shape: [3, 4, 5, 7], axis: [0, 1, 2], keepDims: false },
    { shape: [3, 4, 5, 8], axis: [2, 0, 1], keepDims: true },
    { shape: [9, 6], axis: 0, keepDims: false },
    // Not the bias shape: the backend's own Sum runs.
    { shape: [3, 4, 5], axis: [1, 2], keepDims: false },
    { shape: [3, 4, 5], axis: -1, keepDims: false },
  ])('sums $shape over $axis (keepDims $keepDims)', async ({ shape, axis, keepDims }) => {
    const { wasm, cpu } = await onBoth(() => {
      const out = tf.sum(tf.tensor(randomData(sizeOf(shape), 9), shape), axis, keepDims);
      return tf.concat([tf.reshape(out, [-1]), tf.tensor1d(out.shape)]);
    });
    expectClose(wasm, cpu, 1e-5);
  });
});

describe('registerSimdKernels', () => {
  it('is idempotent and frees what it allocates', async () => {
    expect(await registerSimdKernels()).toBe(true);
    await tf.setBackend('wasm');
    const x = tf.tensor4d(randomData(2 * 9 * 9 * 8, 1), [2, 9, 9, 8]);
    const w = tf.tensor4d(randomData(3 * 3 * 8 * 8, 2), [3, 3, 8, 8]);
    const step = (): void => {
      tf.dispose(tf.grads((a, b) => tf.sum(tf.maxPool(tf.concat(tf.split(tf.conv2d(a as tf.Tensor4D, b as tf.Tensor4D, 1, 'same'), 2, 3), 3) as tf.Tensor4D, 3, 2, 'valid')))([x, w]));
    };
    step();
    const before = tf.memory().numTensors;
    step();
    expect(tf.memory().numTensors).toBe(before);
    tf.dispose([x, w]);
  });
});
