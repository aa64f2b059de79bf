/**
 * Times the composed wasm gradient kernels (model/kernels/wasm-gradients) against the cpu
 * backend's native ones on SqueezeNet/MobileNet-like layer shapes at 150x150, batch 8.
 *
 *   npx tsx bench/wasm-grads.ts [reps]
 */
import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-backend-cpu';
import '@tensorflow/tfjs-backend-wasm';
import { registerWasmGradientKernels } from '../model/kernels/wasm-gradients';

type Shape4 = [number, number, number, number];

interface Layer {
  name: string;
  kernel: 'Conv2DBackpropFilter' | 'DepthwiseConv2dNativeBackpropFilter' | 'DepthwiseConv2dNativeBackpropInput';
  forward: 'Conv2D' | 'DepthwiseConv2dNative';
  x: Shape4;
  filter: Shape4;
  strides: number;
  pad: 'same' | 'valid' | number;
}

const BATCH = 8;
const LAYERS: Layer[] = [
  { name: 'conv 3x3 s2 3->64, 150x150', kernel: 'Conv2DBackpropFilter', forward: 'Conv2D', x: [BATCH, 150, 150, 3], filter: [3, 3, 3, 64], strides: 2, pad: 'valid' },
  { name: 'conv 1x1 128->16, 37x37', kernel: 'Conv2DBackpropFilter', forward: 'Conv2D', x: [BATCH, 37, 37, 128], filter: [1, 1, 128, 16], strides: 1, pad: 'valid' },
  { name: 'conv 3x3 pad 1 16->64, 37x37', kernel: 'Conv2DBackpropFilter', forward: 'Conv2D', x: [BATCH, 37, 37, 16], filter: [3, 3, 16, 64], strides: 1, pad: 1 },
  { name: 'dw 5x5 s2 96ch, 38x38 (filter)', kernel: 'DepthwiseConv2dNativeBackpropFilter', forward: 'DepthwiseConv2dNative', x: [BATCH, 38, 38, 96], filter: [5, 5, 96, 1], strides: 2, pad: 'same' },
  { name: 'dw 5x5 s2 96ch, 38x38 (input)', kernel: 'DepthwiseConv2dNativeBackpropInput', forward: 'DepthwiseConv2dNative', x: [BATCH, 38, 38, 96], filter: [5, 5, 96, 1], strides: 2, pad: 'same' },
];

const reps = Number(process.argv[2] ?? 5);

function random(shape: number[]): tf.Tensor {
  return tf.randomUniform(shape, -1, 1, 'float32', 42);
}

/** Median wall time of `fn` in ms, after one warm-up run (XNNPACK setup, wasm memory growth). */
function timeMs(fn: () => tf.Tensor, n: number): number {
  const times: number[] = [];
  for (let i = 0; i <= n; i++) {
    const t0 = performance.now();
    const out = fn();
    out.dataSync(); // both backends are synchronous, but make sure the result exists
    const dt = performance.now() - t0;
    out.dispose();
    if (i > 0) times.push(dt);
  }
  times.sort((a, b) => a - b);
  return times[Math.floor(times.length / 2)] ?? NaN;
}

async function timeLayer(backend: string, layer: Layer, n: number): Promise<{ grad: number; forward: number }> {
  await tf.setBackend(backend);
  const x = random(layer.x);
  const filter = random(layer.filter);
  const fwdAttrs = { strides: layer.strides, pad: layer.pad, dilations: 1, dataFormat: 'NHWC' };
  const forward = (): tf.Tensor =>
    tf.engine().runKernel(layer.forward, { x, filter }, fwdAttrs as unknown as tf.NamedAttrMap) as tf.Tensor;
  const dyShape = tf.tidy(() => forward().shape);
  const dy = random(dyShape);
  const gradAttrs = { ...fwdAttrs, filterShape: layer.filter, inputShape: layer.x };
  const gradInputs: tf.NamedTensorMap = layer.kernel === 'DepthwiseConv2dNativeBackpropInput' ? { dy, filter } : { x, dy };
  const grad = (): tf.Tensor =>
    tf.engine().runKernel(layer.kernel, gradInputs, gradAttrs as unknown as tf.NamedAttrMap) as tf.Tensor;
  const result = { grad: timeMs(grad, n), forward: timeMs(forward, n) };
  tf.dispose([x, filter, dy]);
  return result;
}

await tf.setBackend('wasm');
registerWasmGradientKernels();
await tf.setBackend('cpu');

const header = ['layer', 'wasm composed ms', 'cpu native ms', 'cpu / wasm', 'wasm forward ms'];
const rows: string[][] = [];
for (const layer of LAYERS) {
  const wasm = await timeLayer('wasm', layer, reps);
  // The cpu gradient kernels take seconds on these shapes; fewer runs keep the bench short.
  const cpu = await timeLayer('cpu', layer, Math.min(reps, 3));
  rows.push([layer.name, wasm.grad.toFixed(1), cpu.grad.toFixed(1), `${(cpu.grad / wasm.grad).toFixed(0)}x`, wasm.forward.toFixed(1)]);
}

const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? '').length)));
const line = (cells: string[]): string =>
  `| ${cells.map((c, i) => (i === 0 ? c.padEnd(widths[i] ?? 0) : c.padStart(widths[i] ?? 0))).join(' | ')} |`;
console.log(`\nGradient kernels, batch ${BATCH}; median of ${reps} runs (cpu: ${Math.min(reps, 3)}) after a warm-up run\n`);
console.log(line(header));
console.log(`|${widths.map((w, i) => (i === 0 ? '-'.repeat(w + 2) : `${'-'.repeat(w + 1)}:`)).join('|')}|`);
for (const row of rows) console.log(line(row));
