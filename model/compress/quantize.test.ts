import { readFileSync } from 'node:fs';
import * as tf from '@tensorflow/tfjs-core';
import { strFromU8, strToU8 } from 'fflate';
import { beforeAll, describe, expect, it } from 'vitest';
import { useBackend } from '../../test/helpers/backend';
import { CLASSES, fileSource, intelFiles, PRETRAINED } from '../../test/helpers/intel';
import { exportModelFiles, importModelFiles, ModelFormatError, unzipModelFiles, zipModelFiles, type ModelJson } from '../artifacts';
import { classify } from '../evaluate';
import { ClassifierModel } from '../model';
import { caffeBgr } from '../preprocess';
import { readPth } from '../pth';
import { pruneModel, sparsityOf } from './prune';
import { decodeWeight, encodeWeight, fromFloat16, toFloat16 } from './quantize';

const GOLDEN = new URL('../../test/fixtures/golden/', import.meta.url);

beforeAll(async () => {
  await useBackend('wasm');
});

/** What tfjs's own loader makes of a manifest group and its bytes. */
async function tfjsDecode(files: Map<string, Uint8Array>): Promise<Map<string, Float32Array>> {
  const manifest = JSON.parse(strFromU8(files.get('model.json')!)) as ModelJson;
  const specs = manifest.weightsManifest[0]!.weights;
  const bin = files.get('weights.bin')!.slice();
  const tensors = tf.io.decodeWeights(bin.buffer, specs as tf.io.WeightsManifestEntry[]);
  const out = new Map<string, Float32Array>();
  for (const [name, t] of Object.entries(tensors)) {
    out.set(name, (await t.data()) as Float32Array);
    t.dispose();
  }
  return out;
}

/** SqueezeNet with the shared ImageNet features and the golden 6-class head: confident, input-dependent outputs. */
function trainedLooking(): ClassifierModel {
  const model = ClassifierModel.create({ arch: 'squeezenet1_1', numClasses: 6, labels: CLASSES, preprocessing: caffeBgr(150) });
  model.loadStateDict(readPth(readFileSync(new URL('squeezenet1_1-6.pth', GOLDEN))));
  model.loadStateDict(readPth(readFileSync(PRETRAINED)));
  return model;
}

describe('float16', () => {
  it('encodes IEEE half precision, rounding to nearest even', () => {
    const cases: Array<[number, number]> = [
      [0, 0x0000], [-0, 0x8000], [1, 0x3c00], [-2, 0xc000], [0.1, 0x2e66], [65504, 0x7bff], [65520, 0x7c00], [1e9, 0x7c00],
      [2 ** -24, 0x0001], [2 ** -25, 0x0000], [3 * 2 ** -25, 0x0002], [2 ** -14, 0x0400], [1 + 2 ** -11, 0x3c00], [1 + 3 * 2 ** -11, 0x3c02],
      [Infinity, 0x7c00], [-Infinity, 0xfc00],
    ];
    for (const [v, bits] of cases) expect(toFloat16(v), String(v)).toBe(bits);
    expect(Number.isNaN(fromFloat16(toFloat16(NaN)))).toBe(true);
    for (const [v, bits] of cases.slice(0, 6)) expect(fromFloat16(bits)).toBeCloseTo(v, 3);
  });
});

describe('quantized model files', () => {
  it('read the same as tfjs’s own loader reads them (tf.io.decodeWeights), zeros kept exactly', async () => {
    const model = ClassifierModel.create({ arch: 'mobilenet_v3_small', numClasses: 3, seed: 2 });
    await pruneModel(model, { sparsity: 0.5, scope: 'layer', structured: false });
    for (const quantize of ['float16', 'uint8'] as const) {
      const files = await exportModelFiles(model, {}, { quantize });
      const ours = await importModelFiles(files).getWeights();
      const theirs = await tfjsDecode(files);
      for (const w of ours) {
        if (w.name.endsWith('num_batches_tracked')) continue;
        expect(Array.from(w.data), `${quantize} ${w.name}`).toEqual(Array.from(theirs.get(w.name)!));
      }
      const again = importModelFiles(files);
      expect((await sparsityOf(again)).zeros, quantize).toBe((await sparsityOf(model)).zeros);
      again.dispose();
    }
    model.dispose();
  });

  it('take about 1/2 (float16) and 1/4 (uint8) of the float32 weights, and predict real scenes as float32 does', async () => {
    const model = trainedLooking();
    const scenes = fileSource(intelFiles('test', 5));
    const images = await Promise.all(Array.from({ length: scenes.size }, (_, i) => scenes.load(i)));
    const reference = await classify(model, images);
    const f32 = (await exportModelFiles(model)).get('weights.bin')!.length;
    const worst: Record<string, number> = {};
    for (const [quantize, ratio, maxDp] of [['float16', 0.5, 2e-3], ['uint8', 0.25, 0.05]] as const) {
      const files = await exportModelFiles(model, {}, { quantize });
      const bytes = files.get('weights.bin')!.length;
      expect(bytes / f32).toBeGreaterThanOrEqual(ratio);
      expect(bytes / f32).toBeLessThan(ratio + 0.01);
      const again = importModelFiles(unzipModelFiles(zipModelFiles(files)));
      const got = await classify(again, images);
      let dp = 0;
      let agree = 0;
      let closest = Infinity;
      got.forEach((p, i) => {
        const ref = reference[i]!;
        for (const c of CLASSES) dp = Math.max(dp, Math.abs(p.probabilities[c]! - ref.probabilities[c]!));
        if (p.label === ref.label) agree++;
        else closest = Math.min(closest, ref.top[0]!.probability - ref.top[1]!.probability);
      });
      worst[quantize] = dp;
      console.log(`${quantize}: weights.bin ${bytes} of ${f32} bytes (${(bytes / f32).toFixed(3)}); max |Δp| ${dp.toExponential(1)}; top-1 agrees on ${agree}/${images.length}`);
      expect(dp).toBeLessThanOrEqual(maxDp);
      // A changed answer only where float32 itself was torn between two classes.
      if (agree < images.length) expect(closest).toBeLessThan(2 * dp);
      again.dispose();
    }
    expect(worst.float16!).toBeLessThan(worst.uint8!);
    model.dispose();
  });

  it('uint8 reproduces each value within half a step', () => {
    const data = Float32Array.from({ length: 1000 }, (_, i) => Math.sin(i) * 0.3 + 0.05);
    const { bytes, quantization } = encodeWeight(data, 'uint8');
    if (quantization.dtype !== 'uint8') throw new Error('expected uint8');
    const back = decodeWeight(bytes, data.length, quantization);
    data.forEach((v, i) => expect(Math.abs(back[i]! - v)).toBeLessThanOrEqual(quantization.scale / 2 + 1e-7));
    expect(() => encodeWeight(Float32Array.of(1, NaN), 'uint8')).toThrow(/NaN/);
  });

  it('refuses a manifest it cannot read, naming the weight', async () => {
    const model = ClassifierModel.create({ arch: 'squeezenet1_1', numClasses: 2 });
    const files = await exportModelFiles(model, {}, { quantize: 'uint8' });
    const manifest = JSON.parse(strFromU8(files.get('model.json')!)) as ModelJson;
    const edit = (change: (w: Record<string, unknown>) => void, bin?: Uint8Array): Map<string, Uint8Array> => {
      const m = structuredClone(manifest);
      change(m.weightsManifest[0]!.weights[0] as unknown as Record<string, unknown>);
      return new Map([...files, ['model.json', strToU8(JSON.stringify(m))], ...(bin ? [['weights.bin', bin] as [string, Uint8Array]] : [])]);
    };
    const cases: Array<[Map<string, Uint8Array>, RegExp]> = [
      [edit((w) => (w.quantization = { dtype: 'int4' })), /features\.0\.weight: quantization dtype int4 is not supported/],
      [edit((w) => (w.quantization = { dtype: 'uint8', min: 0 })), /features\.0\.weight: uint8 quantization needs a positive scale/],
      [edit((w) => delete w.quantization), /weights hold \d+ bytes, model\.json describes \d+/],
      [edit(() => undefined, files.get('weights.bin')!.slice(0, -8)), /weights hold/],
    ];
    for (const [broken, message] of cases) expect(() => importModelFiles(broken)).toThrow(ModelFormatError), expect(() => importModelFiles(broken)).toThrow(message);
    model.dispose();
  });
});
