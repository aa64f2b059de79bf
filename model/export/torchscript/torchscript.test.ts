import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import * as tf from '@tensorflow/tfjs-core';
import { beforeAll, describe, expect, it } from 'vitest';
import { useBackend } from '../../../test/helpers/backend';
import { fileSource, intelFiles, PRETRAINED } from '../../../test/helpers/intel';
import type { ArchName } from '../../arch/types';
import { ClassifierModel } from '../../model';
import { caffeBgr, preprocessImages, torchvisionNorm } from '../../preprocess';
import { readPth } from '../../pth';
import { pruneModel } from '../../compress/prune';
import { PRUNED } from '../test-support';
import { exportTorchScript } from './index';

// Debian's PyTorch 1.13; the python3 first on PATH may lack it.
const PYTHON = '/usr/bin/python3';
const GOLDEN = new URL('../../../test/fixtures/golden/', import.meta.url);
const tmp = mkdtempSync(path.join(tmpdir(), 'scenelab-torchscript-'));
const LABELS = ['buildings', 'forêt', 'glacier', 'mountain', 'sea', 'Straße'];

/** torch.jit.load with no SceneLab or torchvision code around, then the batch through it. */
const LOAD = `
import json, sys, numpy as np, torch
extra = {"scenelab.arch": "", "scenelab.labels.json": "", "scenelab.preprocessing.json": ""}
m = torch.jit.load(sys.argv[1], _extra_files=extra)
x = json.load(open(sys.argv[2]))
with torch.no_grad():
    logits = m(torch.tensor(np.array(x["data"], dtype=np.float32)).view(*x["shape"]))
print(json.dumps({
    "logits": logits.flatten().tolist(), "shape": list(logits.shape), "training": m.training,
    "parameters": sum(p.numel() for p in m.parameters()),
    "zeros": sum(int((p == 0).sum()) for n, p in m.named_parameters() if p.dim() > 1),
    "extra": {k: v.decode() if isinstance(v, bytes) else v for k, v in extra.items()},
}))
`;

beforeAll(async () => {
  await useBackend('wasm');
});

/** As in the ONNX test: golden MobileNet; golden SqueezeNet head on the shared ImageNet features. */
function trainedLooking(arch: ArchName): ClassifierModel {
  const preprocessing = arch === 'squeezenet1_1' ? caffeBgr(150) : torchvisionNorm(150);
  const model = ClassifierModel.create({ arch, numClasses: 6, labels: LABELS, preprocessing });
  expect(model.loadStateDict(readPth(readFileSync(new URL(`${arch}-6.pth`, GOLDEN)))).kept).toEqual([]);
  if (arch === 'squeezenet1_1') model.loadStateDict(readPth(readFileSync(PRETRAINED)));
  return model;
}

describe.each(['squeezenet1_1', 'mobilenet_v3_small'] as const)('%s exported to TorchScript', (arch) => {
  it.each(PRUNED[arch])('%s: loads with torch.jit.load alone and gives SceneLab’s logits within 1e-4 relative', async (variant, prune) => {
    const model = trainedLooking(arch);
    const zeros = prune ? (await pruneModel(model, prune)).report.zeros : 0;
    const scenes = fileSource(intelFiles('test', 1).slice(0, 3));
    const x = preprocessImages(await Promise.all([0, 1, 2].map((i) => scenes.load(i))), model.preprocessing);
    const nchw = tf.transpose(x, [0, 3, 1, 2]);
    const logits = model.forward(x);
    const expected = Array.from(await logits.data());
    const input = path.join(tmp, `${arch}-input.json`);
    writeFileSync(input, JSON.stringify({ shape: nchw.shape, data: Array.from(await nchw.data()) }));
    tf.dispose([x, nchw, logits]);

    const file = path.join(tmp, `${arch}-${variant.replace(/\W+/g, '-')}.pt`);
    writeFileSync(file, await exportTorchScript(model));
    const out = JSON.parse(execFileSync(PYTHON, ['-c', LOAD, file, input], { encoding: 'utf8', maxBuffer: 16 << 20 })) as {
      logits: number[];
      shape: number[];
      training: boolean;
      parameters: number;
      zeros: number;
      extra: Record<string, string>;
    };
    // The archive's weights hold the pruned zeros (the logits layer is never pruned).
    expect(out.zeros).toBe(zeros);
    expect(out.shape).toEqual([3, 6]);
    expect(out.training).toBe(false);
    expect(out.parameters).toBe(model.parameterCount);
    const scale = Math.max(...expected.map(Math.abs));
    const err = Math.max(...out.logits.map((v, i) => Math.abs(v - expected[i]!))) / scale;
    console.log(`${arch} ${variant}: TorchScript vs SceneLab, max relative error ${err.toExponential(2)}`);
    expect(err).toBeLessThanOrEqual(1e-4);
    expect(out.extra['scenelab.arch']).toBe(arch);
    expect(JSON.parse(out.extra['scenelab.labels.json']!)).toEqual(LABELS);
    expect(JSON.parse(out.extra['scenelab.preprocessing.json']!)).toEqual(model.preprocessing);
    model.dispose();
  });
});
