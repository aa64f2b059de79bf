import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import * as tf from '@tensorflow/tfjs-core';
import { beforeAll, describe, expect, it } from 'vitest';
import { useBackend } from '../../test/helpers/backend';
import { CLASSES, fileSource, intelFiles, PRETRAINED } from '../../test/helpers/intel';
import { ClassifierModel } from '../model';
import { caffeBgr } from '../preprocess';
import { readPth } from '../pth';
import { runTraining } from '../run/pipeline';
import { runConfig } from '../run/config';
import { MaskHook, pruneModel, pruningMasks, prunableSpecs, sparsityOf, type PruneOptions } from './prune';

// Debian's PyTorch 1.13; the python3 first on PATH may lack it.
const PYTHON = '/usr/bin/python3';
const tmp = mkdtempSync(path.join(tmpdir(), 'scenelab-prune-'));

beforeAll(async () => {
  await useBackend('wasm');
});

const seeded = (arch: 'squeezenet1_1' | 'mobilenet_v3_small'): ClassifierModel => ClassifierModel.create({ arch, numClasses: 6, seed: 3 });
const opts = (sparsity: number, scope: PruneOptions['scope'] = 'global', structured = false): PruneOptions => ({ sparsity, scope, structured });

/** Output filters of a tfjs-layout weight and, per filter, whether all its weights are zero / none are. */
async function filters(model: ClassifierModel, name: string, kind: string): Promise<{ count: number; zero: number; mixed: number }> {
  const v = model.param(name);
  const data = (await v.data()) as Float32Array;
  const count = kind === 'depthwise' ? v.shape[2]! * v.shape[3]! : v.shape[v.shape.length - 1]!;
  const zeros = new Array<number>(count).fill(0);
  data.forEach((x, i) => (zeros[i % count]! += x === 0 ? 1 : 0));
  const per = data.length / count;
  return { count, zero: zeros.filter((z) => z === per).length, mixed: zeros.filter((z) => z > 0 && z < per).length };
}

describe('magnitude pruning', () => {
  it.each(['squeezenet1_1', 'mobilenet_v3_small'] as const)('%s: unstructured hits the target exactly, globally and per layer', async (arch) => {
    for (const s of arch === 'squeezenet1_1' ? [0.5, 0.7, 0.9] : [0.7]) {
      const g = seeded(arch);
      const { report } = await pruneModel(g, opts(s));
      expect(report.zeros).toBe(Math.round(s * report.total));
      // Global: layers end up unequally sparse (the small-magnitude ones lose most).
      expect(Math.max(...report.layers.map((l) => l.sparsity)) - Math.min(...report.layers.map((l) => l.sparsity))).toBeGreaterThan(0.05);
      g.dispose();

      const l = seeded(arch);
      const per = await pruneModel(l, opts(s, 'layer'));
      for (const layer of per.report.layers) expect(layer.zeros, layer.name).toBe(Math.round(s * layer.total));
      l.dispose();
    }
  });

  it('keeps the largest weights: every weight left is at least as large as every weight cut', async () => {
    const model = seeded('squeezenet1_1');
    const before = new Map(await Promise.all(prunableSpecs(model).map(async (s) => [s.name, Float32Array.from(await model.param(s.name).data())] as const)));
    await pruneModel(model, opts(0.6));
    let largestCut = 0;
    let smallestKept = Infinity;
    for (const [name, values] of before) {
      const after = (await model.param(name).data()) as Float32Array;
      values.forEach((v, i) => (after[i] === 0 ? (largestCut = Math.max(largestCut, Math.abs(v))) : (smallestKept = Math.min(smallestKept, Math.abs(v)))));
    }
    expect(largestCut).toBeLessThanOrEqual(smallestKept);
    // Biases and the logits layer are not pruned.
    expect(Array.from((await model.param('features.0.bias').data()) as Float32Array)).toEqual(Array.from(new Float32Array(64)));
    expect(prunableSpecs(model).map((s) => s.name)).not.toContain('classifier.1.weight');
    expect(((await model.param('classifier.1.weight').data()) as Float32Array).every((v) => v !== 0)).toBe(true);
    model.dispose();
  });

  it.each(['squeezenet1_1', 'mobilenet_v3_small'] as const)('%s: structured pruning zeroes whole filters, round(s·filters) per layer', async (arch) => {
    const model = seeded(arch);
    const { report } = await pruneModel(model, opts(0.5, 'layer', true));
    const specs = prunableSpecs(model);
    for (const spec of specs) {
      const f = await filters(model, spec.name, spec.kind);
      expect(f.mixed, spec.name).toBe(0);
      expect(f.zero, spec.name).toBe(Math.min(f.count - 1, Math.round(0.5 * f.count)));
    }
    expect(report.layers.map((l) => l.name)).toEqual(specs.map((sp) => sp.name));
    model.dispose();

    const global = seeded(arch);
    const g = await pruneModel(global, opts(0.5, 'global', true));
    const target = Math.round(0.5 * g.report.total);
    const largestFilter = Math.max(...(await Promise.all(specs.map(async (sp) => global.param(sp.name).size / (await filters(global, sp.name, sp.kind)).count))));
    expect(g.report.zeros).toBeGreaterThanOrEqual(target);
    expect(g.report.zeros).toBeLessThan(target + largestFilter);
    for (const spec of specs) expect((await filters(global, spec.name, spec.kind)).mixed).toBe(0);
    global.dispose();
  });

  it('leaks no tensors and changes nothing for bad options', async () => {
    const model = seeded('squeezenet1_1');
    const before = tf.memory().numTensors;
    const { masks } = await pruneModel(model, opts(0.3));
    const hook = new MaskHook(model, masks);
    hook.apply();
    hook.dispose();
    expect(tf.memory().numTensors).toBe(before);
    const zeros = (await sparsityOf(model)).zeros;
    for (const bad of [opts(1), opts(-0.1), opts(NaN), { ...opts(0.5), scope: 'model' as PruneOptions['scope'] }]) {
      await expect(pruningMasks(model, bad)).rejects.toThrow(RangeError);
    }
    expect(() => new MaskHook(model, new Map([['features.0.weight', new Uint8Array(3)]]))).toThrow(/mask for features\.0\.weight/);
    expect((await sparsityOf(model)).zeros).toBe(zeros);
    model.dispose();
  });
});

describe('a pruning run (the one pipeline with a mask)', () => {
  it('keeps pruned weights at zero through full fine-tuning, and the .pth torch reads back has them', async () => {
    const pretrained = readPth(readFileSync(PRETRAINED));
    const config = runConfig('squeezenet1_1', { preprocessing: caffeBgr(64), valSplit: 0, options: { epochs: 2, batchSize: 8, freeze: false, learningRate: 1e-3 } });
    const pool = fileSource(intelFiles('train', 4));
    const run = await runTraining({ config, classes: CLASSES, pool, weights: { name: 'imagenet', stateDict: pretrained }, prune: opts(0.7, 'layer') });
    const report = run.sparsity!;
    // Every layer still has exactly its pruned share at zero after 6 optimizer steps (a rare
    // weight that the step lands on exactly zero would only add to it).
    for (const l of report.layers) expect(l.zeros, l.name).toBe(Math.round(0.7 * l.total));
    expect(run.result.history).toHaveLength(2);

    // The weights did train: the surviving ones moved away from the pretrained values.
    const sd = readPth(run.pth);
    const trained = sd.get('features.3.squeeze.weight')!.data;
    const start = pretrained.get('features.3.squeeze.weight')!.data;
    expect(trained.some((v, i) => v !== 0 && v !== start[i])).toBe(true);

    const file = path.join(tmp, 'pruned.pth');
    writeFileSync(file, run.pth);
    const script = `
import json, sys, torch, torchvision
m = torchvision.models.squeezenet1_1(num_classes=6)
m.load_state_dict(torch.load(sys.argv[1]))
print(json.dumps({k: int((v == 0).sum()) for k, v in m.state_dict().items() if k.endswith("weight")}))`;
    const zeros = JSON.parse(execFileSync(PYTHON, ['-c', script, file], { encoding: 'utf8' })) as Record<string, number>;
    for (const l of report.layers) expect(zeros[l.name], l.name).toBe(l.zeros);
    expect(zeros['classifier.1.weight']).toBe(0);
  });

  it('without the mask the same run fills the zeros in again (the mask is what holds them)', async () => {
    const model = ClassifierModel.create({ arch: 'squeezenet1_1', numClasses: 6, preprocessing: caffeBgr(64) });
    model.loadStateDict(readPth(readFileSync(PRETRAINED)));
    await pruneModel(model, opts(0.7, 'layer'));
    const config = runConfig('squeezenet1_1', { preprocessing: caffeBgr(64), valSplit: 0, options: { epochs: 1, batchSize: 8, freeze: false } });
    const run = await runTraining({ config, classes: CLASSES, pool: fileSource(intelFiles('train', 4)), weights: { name: 'pruned', stateDict: await model.stateDict() } });
    const sd = readPth(run.pth);
    const w = sd.get('features.3.squeeze.weight')!.data;
    expect(w.filter((v) => v === 0).length).toBeLessThan(0.1 * w.length);
    model.dispose();
  });
});
