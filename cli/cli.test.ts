import { spawnSync } from 'node:child_process';
import { copyFileSync, existsSync, mkdirSync, mkdtempSync, readFileSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { beforeAll, describe, expect, it } from 'vitest';
import { intelFiles, PRETRAINED } from '../test/helpers/intel';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const tmp = mkdtempSync(path.join(tmpdir(), 'scenelab-cli-'));
const CLASSES = ['forest', 'sea', 'street'];

function scenelab(...args: string[]) {
  const r = spawnSync(process.execPath, [path.join(ROOT, 'bin/scenelab.js'), ...args], { cwd: ROOT, encoding: 'utf8', env: { ...process.env, SCENELAB_DEBUG: '' } });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

/** A one-line error that names the problem, and no stack trace. */
function expectCleanError(r: ReturnType<typeof scenelab>, message: RegExp) {
  expect(r.code).not.toBe(0);
  expect(r.stderr).toMatch(message);
  expect(r.stderr).not.toMatch(/\n\s+at /);
  expect(r.stderr.trim().split('\n')).toHaveLength(1);
}

const data = path.join(tmp, 'data');
const test = path.join(tmp, 'test');
const run = path.join(tmp, 'run');
const corrupt = path.join(tmp, 'corrupt.jpg');

beforeAll(() => {
  for (const [dir, split, n, offset] of [[data, 'train', 10, 0], [test, 'test', 6, 0]] as const) {
    for (const { file, label } of intelFiles(split, n, CLASSES, offset)) {
      mkdirSync(path.join(dir, CLASSES[label]!), { recursive: true });
      copyFileSync(file, path.join(dir, CLASSES[label]!, path.basename(file)));
    }
  }
  // A truncated JPEG among the training images: it must be skipped and named, not stop the run.
  const jpeg = readFileSync(intelFiles('train', 1, ['sea'], 50)[0]!.file);
  writeFileSync(path.join(data, 'sea', 'truncated.jpg'), jpeg.subarray(0, 300));
  writeFileSync(corrupt, 'definitely not a jpeg');
});

describe('scenelab CLI: bad input gives a one-line error and a non-zero exit', () => {
  it.each([
    [['frobnicate'], /unknown command "frobnicate"/],
    [['train', '--arch', 'squeezenet1_1', '--out', run], /--data is required/],
    [['train', '--data', data, '--arch', 'resnet50', '--out', run], /--arch must be squeezenet1_1 or mobilenet_v3_small, got "resnet50"/],
    [['train', '--data', data, '--arch', 'squeezenet1_1', '--out', run, '--epochs', 'ten'], /--epochs expects an integer, got "ten"/],
    [['train', '--data', data, '--arch', 'squeezenet1_1', '--out', run, '--bogus'], /Unknown option '--bogus'/],
    [['train', '--data', path.join(tmp, 'nope'), '--arch', 'squeezenet1_1', '--out', run], /no such file or folder/],
    [['train', '--data', data, '--arch', 'squeezenet1_1', '--out', run, '--weights', corrupt], /corrupt\.jpg: .*zip/i],
    [['train', '--data', data, '--arch', 'mobilenet_v3_small', '--out', run, '--weights', PRETRAINED], /unknown key "features\.0\.weight" for mobilenet_v3_small/],
    [['train', '--data', data, '--arch', 'squeezenet1_1', '--out', run, '--val-split', '1.5'], /--val-split must be in \[0, 1\)/],
    [['train', '--data', data, '--arch', 'squeezenet1_1', '--out', run, '--threads', '0'], /--threads must be a whole number ≥ 1, got "0"/],
    [['eval', '--model', path.join(tmp, 'no-run'), '--data', test], /no such run directory or bundle/],
    [['predict', '--model', path.join(tmp, 'no-run'), corrupt], /no such run directory or bundle/],
  ])('%j', (args, message) => {
    expectCleanError(scenelab(...args), message);
  });
});

describe('scenelab train → eval → predict → export', () => {
  it('trains head-only from the pretrained weights, writes a complete run directory and skips the truncated file', () => {
    const r = scenelab('train', '--data', data, '--arch', 'squeezenet1_1', '--weights', PRETRAINED, '--freeze', '--epochs', '3', '--batch-size', '8', '--out', run);
    expect(r.stderr).toMatch(/skipped .*truncated\.jpg: cannot decode image/);
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/filled 50 tensors/);
    expect(r.stderr).toMatch(/epoch 3\/3 loss/); // plain progress lines on stderr when not on a terminal
    for (const f of ['model.json', 'weights.bin', 'model.pth', 'labels.json', 'preprocessing.json', 'hyperparameters.json', 'metrics.json', 'history.json', 'curves.svg']) {
      expect(existsSync(path.join(run, f)), f).toBe(true);
    }
    expect(JSON.parse(readFileSync(path.join(run, 'labels.json'), 'utf8'))).toEqual(CLASSES);
    expect(JSON.parse(readFileSync(path.join(run, 'history.json'), 'utf8'))).toHaveLength(3);
  });

  it('trains from a folder whose images and class folders are symbolic links, and reports a broken link', () => {
    // A split built without copying: per-image links for two classes, a linked class folder for the third.
    const linked = path.join(tmp, 'linked');
    for (const c of ['forest', 'sea']) {
      mkdirSync(path.join(linked, c), { recursive: true });
      for (const { file } of intelFiles('train', 8, [c], 20)) symlinkSync(file, path.join(linked, c, path.basename(file)));
    }
    const streetStore = path.join(tmp, 'street-store');
    mkdirSync(streetStore, { recursive: true });
    for (const { file } of intelFiles('train', 8, ['street'], 20)) copyFileSync(file, path.join(streetStore, path.basename(file)));
    symlinkSync(streetStore, path.join(linked, 'street'));
    symlinkSync(path.join(tmp, 'nowhere.jpg'), path.join(linked, 'sea', 'dangling.jpg'));
    const out = path.join(tmp, 'run-linked');
    const r = scenelab('train', '--data', linked, '--arch', 'squeezenet1_1', '--weights', PRETRAINED, '--freeze', '--epochs', '1', '--batch-size', '8', '--out', out);
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/data: 24 images in 3 classes \(forest, sea, street\)/);
    expect(r.stderr).toMatch(/skipped sea\/dangling\.jpg: broken symbolic link/);
    expect(JSON.parse(readFileSync(path.join(out, 'labels.json'), 'utf8'))).toEqual(CLASSES);
  });

  it('eval --json prints one object with accuracy, n, classes and confusion', () => {
    const r = scenelab('eval', '--model', run, '--data', test, '--json');
    expect(r.code).toBe(0);
    const report = JSON.parse(r.stdout);
    expect(report.n).toBe(18);
    expect(report.classes).toEqual(CLASSES);
    expect(report.confusion.flat().reduce((a: number, b: number) => a + b, 0)).toBe(18);
    expect(report.accuracy).toBeGreaterThan(0.6);
  });

  it('eval reads a run a PyTorch trainer wrote (model.pth and its JSON files) with the same result', () => {
    const torchRun = path.join(tmp, 'torch-run');
    mkdirSync(torchRun, { recursive: true });
    for (const f of ['model.pth', 'labels.json', 'preprocessing.json', 'hyperparameters.json']) copyFileSync(path.join(run, f), path.join(torchRun, f));
    const a = scenelab('eval', '--model', run, '--data', test, '--json');
    const b = scenelab('eval', '--model', torchRun, '--data', test, '--json');
    expect(b.code, b.stderr).toBe(0);
    expect(JSON.parse(b.stdout).confusion).toEqual(JSON.parse(a.stdout).confusion);
    // A state_dict for other classes is refused, naming what does not fit.
    writeFileSync(path.join(torchRun, 'labels.json'), JSON.stringify(['a', 'b']));
    expectCleanError(scenelab('eval', '--model', torchRun, '--data', test), /model\.pth does not fit squeezenet1_1: .*classifier\.1/);
  });

  it('predict --json gives one line per image; an unreadable image is named and the exit code is 1', () => {
    const images = intelFiles('test', 1, CLASSES, 100).map((f) => f.file);
    const r = scenelab('predict', '--model', run, '--json', ...images, corrupt);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/corrupt\.jpg: not a supported image/);
    const lines = r.stdout.trim().split('\n').map((l) => JSON.parse(l));
    expect(lines.map((l) => l.file)).toEqual(images);
    for (const l of lines) {
      expect(CLASSES).toContain(l.label);
      const total = Object.values(l.probabilities as Record<string, number>).reduce((a, b) => a + b, 0);
      expect(total).toBeCloseTo(1, 4);
    }
  });

  it('export writes a bundle the other commands read, and a .pth torch can load', () => {
    const bundle = path.join(tmp, 'model.zip');
    const pth = path.join(tmp, 'out.pth');
    expect(scenelab('export', '--model', run, '--bundle', bundle, '--pth', pth).code).toBe(0);
    const r = scenelab('eval', '--model', bundle, '--data', test, '--json');
    expect(r.code).toBe(0);
    expect(JSON.parse(r.stdout).n).toBe(18);
    const keys = spawnSync('/usr/bin/python3', ['-c', `import torch; sd = torch.load(${JSON.stringify(pth)}); print(len(sd), tuple(sd['classifier.1.weight'].shape))`], { encoding: 'utf8' });
    expect(keys.stdout.trim()).toBe('52 (3, 512, 1, 1)');
  });
});

describe('Vertex AI import files as --data', () => {
  it('trains on the training rows and evaluates on the test rows, reading gs:// objects under --gs-root', () => {
    const root = path.join(tmp, 'gcs');
    const rows: string[] = [];
    for (const [split, use, n] of [['train', 'training', 6], ['test', 'test', 3]] as const) {
      for (const { file, label } of intelFiles(split, n, CLASSES)) {
        const object = `seg_${split}/${CLASSES[label]}/${path.basename(file)}`;
        mkdirSync(path.join(root, 'intel-bucket', path.dirname(object)), { recursive: true });
        copyFileSync(file, path.join(root, 'intel-bucket', object));
        rows.push(`${use},gs://intel-bucket/${object},${CLASSES[label]}`);
      }
    }
    rows.push('training,gs://intel-bucket/missing/forest/none.jpg,forest');
    const csv = path.join(tmp, 'import.csv');
    writeFileSync(csv, rows.join('\n') + '\n');
    const out = path.join(tmp, 'vertex-run');
    const t = scenelab('train', '--data', csv, '--gs-root', root, '--arch', 'squeezenet1_1', '--weights', PRETRAINED, '--freeze', '--epochs', '2', '--val-split', '0', '--out', out);
    expect(t.code).toBe(0);
    expect(t.stdout).toMatch(/data: 19 images in 3 classes/);
    expect(t.stderr).toMatch(/skipped .*none\.jpg: no such file/);
    const e = scenelab('eval', '--model', out, '--data', csv, '--gs-root', root, '--json');
    expect(e.code).toBe(0);
    expect(JSON.parse(e.stdout).n).toBe(9);
  });
});
