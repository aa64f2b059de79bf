import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import * as tf from '@tensorflow/tfjs-core';
import { beforeAll, describe, expect, it } from 'vitest';
import { useBackend } from '../test/helpers/backend';
import { PRETRAINED } from '../test/helpers/intel';
import { ClassifierModel, WeightsMismatchError } from './model';
import { readPth, writePth } from './pth';
import type { StateDict } from './tensor-data';

const TORCH_PYTHON = '/usr/bin/python3';
const tmp = mkdtempSync(path.join(tmpdir(), 'scenelab-model-'));

/** Runs a Python snippet under Debian's PyTorch; CI installs python3-torch, so a failure here is a real failure. */
function torch(script: string): string {
  return execFileSync(TORCH_PYTHON, ['-c', script], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
}

beforeAll(async () => {
  await useBackend('wasm');
});

describe('loading torchvision state_dicts', () => {
  it('fills the features from the shared partial file and reports the head as kept', () => {
    const model = ClassifierModel.create({ arch: 'squeezenet1_1', numClasses: 6 });
    const report = model.loadStateDict(readPth(readFileSync(PRETRAINED)));
    expect(report.filled).toHaveLength(50);
    expect(report.filled.every((k) => k.startsWith('features.'))).toBe(true);
    expect(report.kept).toEqual(['classifier.1.weight', 'classifier.1.bias']);
    expect(report.headReplaced).toEqual([]);
    model.dispose();
  });

  it('loads a full 1000-class torchvision file: head replaced for 6 classes, kept whole for 1000', () => {
    const file = path.join(tmp, 'imagenet.pth');
    torch(`import torch, torchvision\ntorch.manual_seed(0)\ntorch.save(torchvision.models.squeezenet1_1(num_classes=1000).state_dict(), ${JSON.stringify(file)})`);
    const sd = readPth(readFileSync(file));
    const six = ClassifierModel.create({ arch: 'squeezenet1_1', numClasses: 6 });
    const r6 = six.loadStateDict(sd);
    expect(r6.filled).toHaveLength(50);
    expect(r6.headReplaced).toEqual(['classifier.1.weight', 'classifier.1.bias']);
    expect(r6.kept).toEqual(['classifier.1.weight', 'classifier.1.bias']);
    six.dispose();
    const full = ClassifierModel.create({ arch: 'squeezenet1_1', numClasses: 1000 });
    const r1000 = full.loadStateDict(sd);
    expect(r1000.filled).toHaveLength(52);
    expect(r1000.kept).toEqual([]);
    full.dispose();
  });

  it('refuses an unknown key and a feature shape mismatch by name, changing nothing', async () => {
    const model = ClassifierModel.create({ arch: 'squeezenet1_1', numClasses: 6, seed: 4 });
    const before = (await model.param('features.0.weight').data()).slice();
    const good = readPth(readFileSync(PRETRAINED));
    const unknown: StateDict = new Map([...good, ['features.99.weight', { shape: [1], dtype: 'float32', data: new Float32Array(1) }]]);
    expect(() => model.loadStateDict(unknown)).toThrow(WeightsMismatchError);
    expect(() => model.loadStateDict(unknown)).toThrow(/features\.99\.weight/);
    const bad: StateDict = new Map(good);
    bad.set('features.3.squeeze.weight', { shape: [16, 32, 1, 1], dtype: 'float32', data: new Float32Array(512) });
    expect(() => model.loadStateDict(bad)).toThrow(/shape mismatch for "features\.3\.squeeze\.weight": file has \[16, 32, 1, 1\]/);
    expect(await model.param('features.0.weight').data()).toEqual(before);
    const mobile = ClassifierModel.create({ arch: 'mobilenet_v3_small', numClasses: 6 });
    expect(() => mobile.loadStateDict(good)).toThrow(/unknown key "features\.0\.weight" for mobilenet_v3_small/);
    mobile.dispose();
    model.dispose();
  });

  it('accepts DataParallel "module." prefixes', () => {
    const sd = readPth(readFileSync(PRETRAINED));
    const prefixed: StateDict = new Map([...sd].map(([k, v]) => [`module.${k}`, v]));
    const model = ClassifierModel.create({ arch: 'squeezenet1_1', numClasses: 6 });
    expect(model.loadStateDict(prefixed).filled).toHaveLength(50);
    model.dispose();
  });
});

describe('weights out to PyTorch', () => {
  it.each(['squeezenet1_1', 'mobilenet_v3_small'] as const)('%s: torchvision loads our state_dict strictly and computes the same logits', async (arch) => {
    const model = ClassifierModel.create({ arch, numClasses: 6, seed: 11 });
    const x = tf.tidy(() => tf.randomNormal([2, 150, 150, 3], 0, 1, 'float32', 7)) as tf.Tensor4D;
    const logits = model.forward(x);
    const pth = path.join(tmp, `${arch}-out.pth`);
    const input = path.join(tmp, `${arch}-input.bin`);
    writeFileSync(pth, writePth(await model.stateDict()));
    writeFileSync(input, new Uint8Array(((await x.data()) as Float32Array).buffer));
    const out = torch(`
import torch, torchvision, numpy as np, json
m = torchvision.models.${arch}(num_classes=6)
m.load_state_dict(torch.load(${JSON.stringify(pth)}), strict=True)
m.eval()
x = torch.from_numpy(np.fromfile(${JSON.stringify(input)}, dtype=np.float32).reshape(2, 150, 150, 3)).permute(0, 3, 1, 2).contiguous()
with torch.no_grad():
    print(json.dumps(m(x).flatten().tolist()))
`);
    const expected = JSON.parse(out) as number[];
    const actual = Array.from(await logits.data());
    const scale = Math.max(...expected.map(Math.abs));
    const err = Math.max(...actual.map((v, i) => Math.abs(v - expected[i]!))) / scale;
    expect(err).toBeLessThanOrEqual(1e-4);
    tf.dispose([x, logits]);
    model.dispose();
  });
});

describe('initialisation like torchvision', () => {
  it('SqueezeNet: He-uniform convs, N(0, 0.01) final conv, zero biases', async () => {
    const model = ClassifierModel.create({ arch: 'squeezenet1_1', numClasses: 6, seed: 2 });
    const w0 = await model.param('features.0.weight').data();
    const bound = Math.sqrt(6 / 27);
    expect(Math.max(...w0.map(Math.abs))).toBeLessThanOrEqual(bound);
    expect(Math.max(...w0.map(Math.abs))).toBeGreaterThan(bound * 0.9);
    const head = Array.from(await model.param('classifier.1.weight').data());
    const std = Math.sqrt(head.reduce((a, v) => a + v * v, 0) / head.length);
    expect(std).toBeGreaterThan(0.008);
    expect(std).toBeLessThan(0.012);
    expect(Array.from(await model.param('features.3.squeeze.bias').data()).every((v) => v === 0)).toBe(true);
    model.dispose();
  });
});
