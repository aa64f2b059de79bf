import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import * as tf from '@tensorflow/tfjs-core';
import * as ort from 'onnxruntime-web';
import { beforeAll, describe, expect, it } from 'vitest';
import { useBackend } from '../../../test/helpers/backend';
import { fileSource, intelFiles, PRETRAINED } from '../../../test/helpers/intel';
import type { ArchName } from '../../arch/types';
import { ClassifierModel } from '../../model';
import { caffeBgr, preprocessImages, torchvisionNorm } from '../../preprocess';
import { readPth } from '../../pth';
import { pruneModel } from '../../compress/prune';
import { PRUNED } from '../test-support';
import { exportOnnx, ONNX_IR_VERSION, ONNX_OPSET } from './index';

// Debian's python3-onnx (scripts/system-packages.txt); the python3 first on PATH may lack it.
const PYTHON = '/usr/bin/python3';
const GOLDEN = new URL('../../../test/fixtures/golden/', import.meta.url);
const tmp = mkdtempSync(path.join(tmpdir(), 'scenelab-onnx-'));
const LABELS = ['buildings', 'forêt', 'glacier', 'mountain', 'sea', 'Straße'];

/** The official checker, with shape inference, and what the file declares. */
const CHECK = `
import json, sys, onnx
m = onnx.load(sys.argv[1])
onnx.checker.check_model(m, full_check=True)
dims = lambda v: [d.dim_param or d.dim_value for d in v.type.tensor_type.shape.dim]
print(json.dumps({
  "ir": m.ir_version,
  "opsets": {o.domain: o.version for o in m.opset_import},
  "inputs": {i.name: dims(i) for i in m.graph.input},
  "outputs": {o.name: dims(o) for o in m.graph.output},
  "ops": sorted({n.op_type for n in m.graph.node}),
  "metadata": {p.key: p.value for p in m.metadata_props},
}))
`;

/** Exact zeros in the weight initializers (rank > 1: convolution and Gemm weights, BatchNorm folded in). */
const ZEROS = `
import sys, onnx
from onnx import numpy_helper
m = onnx.load(sys.argv[1])
print(int(sum((numpy_helper.to_array(t) == 0).sum() for t in m.graph.initializer if len(t.dims) > 1)))
`;

beforeAll(async () => {
  await useBackend('wasm');
  // Node runs onnxruntime-web's wasm build on the main thread; worker threads are for browsers.
  ort.env.wasm.numThreads = 1;
});

/**
 * Trained-looking weights: MobileNet's golden file (calibrated BatchNorm, logits in the tens);
 * SqueezeNet's golden head on the shared ImageNet features, whose own random features would
 * give nearly the same logits for every image.
 */
function trainedLooking(arch: ArchName): ClassifierModel {
  const preprocessing = arch === 'squeezenet1_1' ? caffeBgr(150) : torchvisionNorm(150);
  const model = ClassifierModel.create({ arch, numClasses: 6, labels: LABELS, preprocessing });
  expect(model.loadStateDict(readPth(readFileSync(new URL(`${arch}-6.pth`, GOLDEN)))).kept).toEqual([]);
  if (arch === 'squeezenet1_1') expect(model.loadStateDict(readPth(readFileSync(PRETRAINED))).filled).toHaveLength(50);
  return model;
}

/** Three Intel test scenes of different classes, preprocessed by SceneLab, as an NCHW batch. */
async function sceneBatch(model: ClassifierModel): Promise<{ nchw: Float32Array; shape: number[] }> {
  const scenes = fileSource(intelFiles('test', 1).slice(0, 3));
  const images = await Promise.all([0, 1, 2].map((i) => scenes.load(i)));
  const x = preprocessImages(images, model.preprocessing);
  const nchw = tf.tidy(() => tf.transpose(x, [0, 3, 1, 2]));
  const data = (await nchw.data()) as Float32Array;
  const shape = nchw.shape;
  tf.dispose([x, nchw]);
  return { nchw: data, shape };
}

/** SceneLab's logits for an NCHW batch (its own forward runs NHWC). */
async function sceneLabLogits(model: ClassifierModel, nchw: Float32Array, shape: number[]): Promise<Float32Array> {
  const x = tf.tidy(() => tf.transpose(tf.tensor4d(nchw, shape as [number, number, number, number]), [0, 2, 3, 1]) as tf.Tensor4D);
  const logits = model.forward(x);
  const data = (await logits.data()) as Float32Array;
  tf.dispose([x, logits]);
  return data;
}

async function ortLogits(onnx: Uint8Array, nchw: Float32Array, shape: number[]): Promise<{ data: Float32Array; dims: readonly number[] }> {
  const session = await ort.InferenceSession.create(onnx, { executionProviders: ['wasm'] });
  try {
    expect(session.inputNames).toEqual(['input']);
    expect(session.outputNames).toEqual(['logits']);
    const out = await session.run({ input: new ort.Tensor('float32', nchw, shape) });
    const logits = out.logits!;
    return { data: logits.data as Float32Array, dims: logits.dims };
  } finally {
    await session.release();
  }
}

/** max |a − b| / max |b|: the error relative to the reference's scale. */
function maxRelativeError(actual: Float32Array, expected: Float32Array): number {
  expect(actual.length).toBe(expected.length);
  let diff = 0;
  let scale = 0;
  for (let i = 0; i < expected.length; i++) {
    diff = Math.max(diff, Math.abs(actual[i]! - expected[i]!));
    scale = Math.max(scale, Math.abs(expected[i]!));
  }
  return diff / Math.max(scale, 1e-12);
}

describe.each(['squeezenet1_1', 'mobilenet_v3_small'] as const)('%s exported to ONNX', (arch) => {
  it.each(PRUNED[arch])('%s: runs in onnxruntime (wasm) with SceneLab’s logits within 1e-4 relative, batch 3 and batch 1', async (variant, prune) => {
    const model = trainedLooking(arch);
    const zeros = prune ? (await pruneModel(model, prune)).report.zeros : 0;
    const { nchw, shape } = await sceneBatch(model);
    expect(shape).toEqual([3, 3, 150, 150]);
    const before = tf.memory().numTensors;
    const onnx = await exportOnnx(model);
    expect(tf.memory().numTensors).toBe(before);

    const expected = await sceneLabLogits(model, nchw, shape);
    // Logits that barely move with the input would hide a broken graph: the scenes' logits
    // differ by a good part of their scale (measured: about 1 for SqueezeNet, tens for MobileNet).
    const scale = Math.max(...expected.map(Math.abs));
    expect(Math.max(...expected.slice(0, 6).map((v, i) => Math.abs(v - expected[6 + i]!)))).toBeGreaterThan(0.1 * scale);
    const batch = await ortLogits(onnx, nchw, shape);
    expect(batch.dims).toEqual([3, 6]);
    const err = maxRelativeError(batch.data, expected);
    console.log(`${arch} ${variant}: onnxruntime vs SceneLab, max relative error ${err.toExponential(2)}`);
    expect(err).toBeLessThanOrEqual(1e-4);

    // The batch dimension is symbolic: one image runs through the same file.
    const single = await ortLogits(onnx, nchw.slice(0, 3 * 150 * 150), [1, 3, 150, 150]);
    expect(single.dims).toEqual([1, 6]);
    expect(maxRelativeError(single.data, expected.slice(0, 6))).toBeLessThanOrEqual(1e-4);
    // The file's weights hold the pruned zeros (none otherwise).
    const file = path.join(tmp, `${arch}-${variant.replace(/\W+/g, '-')}.onnx`);
    writeFileSync(file, onnx);
    expect(Number(execFileSync(PYTHON, ['-c', ZEROS, file], { encoding: 'utf8' }).trim())).toBe(zeros);
    model.dispose();
  });

  it('passes the official ONNX checker and carries arch, labels and preprocessing as metadata', async () => {
    const model = trainedLooking(arch);
    const file = path.join(tmp, `${arch}.onnx`);
    writeFileSync(file, await exportOnnx(model));
    const info = JSON.parse(execFileSync(PYTHON, ['-c', CHECK, file], { encoding: 'utf8' })) as Record<string, unknown>;
    expect(info.ir).toBe(ONNX_IR_VERSION);
    expect(info.opsets).toEqual({ '': ONNX_OPSET });
    expect(info.inputs).toEqual({ input: ['batch', 3, 150, 150] });
    expect(info.outputs).toEqual({ logits: ['batch', 6] });
    const ops = arch === 'squeezenet1_1' ? ['Concat', 'Conv', 'Flatten', 'GlobalAveragePool', 'MaxPool', 'Relu'] : ['Add', 'Conv', 'Flatten', 'Gemm', 'GlobalAveragePool', 'HardSigmoid', 'HardSwish', 'Mul', 'Relu'];
    expect(info.ops).toEqual(ops);
    const metadata = info.metadata as Record<string, string>;
    expect(metadata['scenelab.arch']).toBe(arch);
    expect(JSON.parse(metadata['scenelab.labels']!)).toEqual(LABELS);
    expect(JSON.parse(metadata['scenelab.preprocessing']!)).toEqual(model.preprocessing);
    model.dispose();
  });
});

describe('ONNX export at another input size', () => {
  it.each(['squeezenet1_1', 'mobilenet_v3_small'] as const)('%s: a non-square 96x128 spec, batch 3, seeded weights', async (arch) => {
    const model = ClassifierModel.create({ arch, numClasses: 4, seed: 7, preprocessing: { ...torchvisionNorm(), inputSize: [96, 128] } });
    const shape = [3, 3, 96, 128];
    const nchw = Float32Array.from({ length: 3 * 3 * 96 * 128 }, (_, i) => Math.sin(i * 0.37) * 2);
    const onnx = await exportOnnx(model);
    const got = await ortLogits(onnx, nchw, shape);
    expect(got.dims).toEqual([3, 4]);
    expect(maxRelativeError(got.data, await sceneLabLogits(model, nchw, shape))).toBeLessThanOrEqual(1e-4);
    // The declared size is the spec's: a 150x150 image is refused rather than silently misread.
    await expect(ortLogits(onnx, new Float32Array(3 * 150 * 150), [1, 3, 150, 150])).rejects.toThrow(/dimension|shape|Got/i);
    model.dispose();
  });
});
