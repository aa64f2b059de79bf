// The cloud trainer run for real with Debian's PyTorch, held against SceneLab's own functions:
// the records it reads, the split it holds out, the preprocessing it applies and the files it
// writes must be the ones `scenelab train` would read, hold out, apply and write.
import { spawn } from 'node:child_process';
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import sharp from 'sharp';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runConfigFromFlags } from '../../cli/run-options';
import { randomSplit } from '../../model/data/split';
import { caffeBgr, preprocessImages, type PreprocessSpec } from '../../model/preprocess';
import { hyperparametersOf } from '../../model/run/config';
import { decodeFile, readLocalDataset } from '../../node/data';
import { loadModel } from '../../node/model-store';
import { useBackend } from '../../test/helpers/backend';
import { INTEL, PRETRAINED } from '../../test/helpers/intel';

// Debian's python3-torch; the python3 first on PATH may be another interpreter without torch.
const PYTHON = '/usr/bin/python3';
const CLOUD = path.resolve(import.meta.dirname, '..');
const tmp = mkdtempSync(path.join(tmpdir(), 'scenelab-trainer-'));
const DATA = path.join(tmp, 'data');
const GCS = path.join(tmp, 'gcs');

interface Run {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** Runs the interpreter in cloud/ (where `trainer` is a package), with no distributed or Vertex variables inherited. */
function python(args: string[], env: Record<string, string> = {}): Promise<Run> {
  const base = Object.fromEntries(
    Object.entries(process.env).filter(([k]) => !/^(WORLD_SIZE|RANK|LOCAL_RANK|MASTER_ADDR|MASTER_PORT|CLUSTER_SPEC|AIP_MODEL_DIR|CLOUD_ML_.*)$/.test(k)),
  );
  return new Promise((resolve, reject) => {
    const child = spawn(PYTHON, args, { cwd: CLOUD, env: { ...base, PYTHONDONTWRITEBYTECODE: '1', ...env } });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    child.on('error', reject);
    child.on('close', (code) => resolve({ code, stdout, stderr }));
  });
}

async function ok(args: string[], env: Record<string, string> = {}): Promise<Run> {
  const r = await python(args, env);
  if (r.code !== 0) throw new Error(`${PYTHON} ${args.join(' ')} exited ${r.code}:\n${r.stderr}`);
  return r;
}

type Event = Record<string, unknown> & { event: string };
const events = (stdout: string): Event[] => stdout.trim().split('\n').map((l) => JSON.parse(l) as Event);
const readJson = (file: string): unknown => JSON.parse(readFileSync(file, 'utf8'));

async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.listen(0, '127.0.0.1', () => {
      const { port } = s.address() as { port: number };
      s.close(() => resolve(port));
    });
    s.on('error', reject);
  });
}

/** Links to the first `n` shared training images of a class (by numeric name). */
function linkImages(dir: string, cls: string, n: number): void {
  mkdirSync(dir, { recursive: true });
  const files = readdirSync(path.join(INTEL, 'train', cls))
    .sort((a, b) => parseInt(a, 10) - parseInt(b, 10))
    .slice(0, n);
  for (const f of files) symlinkSync(path.join(INTEL, 'train', cls, f), path.join(dir, f));
}

beforeAll(async () => {
  // A small Intel-layout folder built from links: one class folder is itself a link, names that
  // code-point order and ICU order sort differently, a corrupt image, a stray file and a loop.
  linkImages(path.join(DATA, 'buildings'), 'buildings', 12);
  const more = readdirSync(path.join(INTEL, 'train', 'buildings')).sort((a, b) => parseInt(a, 10) - parseInt(b, 10));
  ['B.jpg', 'a_1.jpg', 'a1.jpg', 'A.jpg', 'é.jpg'].forEach((name, k) => symlinkSync(path.join(INTEL, 'train', 'buildings', more[20 + k]!), path.join(DATA, 'buildings', name)));
  linkImages(path.join(tmp, 'forest-elsewhere'), 'forest', 12);
  symlinkSync(path.join(tmp, 'forest-elsewhere'), path.join(DATA, 'forest'));
  linkImages(path.join(DATA, 'sea'), 'sea', 12);
  // A download cut short: a JPEG header and half the scan.
  writeFileSync(path.join(DATA, 'sea', 'broken.jpg'), readFileSync(path.join(DATA, 'sea', readdirSync(path.join(DATA, 'sea'))[0]!)).subarray(0, 3000));
  writeFileSync(path.join(DATA, 'notes.txt'), 'not an image');
  symlinkSync(DATA, path.join(DATA, 'sea', 'loop'));

  // The same images as a Cloud Storage bucket seen through FUSE, and import files naming them.
  mkdirSync(GCS);
  symlinkSync(DATA, path.join(GCS, 'bkt'));
  const sea = readdirSync(path.join(DATA, 'sea')).filter((f) => f.endsWith('.jpg'));
  const csv = [
    ...readdirSync(path.join(DATA, 'buildings')).map((f, i) => `${i % 4 === 0 ? 'validation' : 'training'},gs://bkt/buildings/${f},buildings`),
    ...sea.map((f, i) => `${i % 4 === 0 ? 'VALIDATION' : ''}${i % 4 === 0 ? ',' : ''}gs://bkt/sea/${f},"sea"`),
    'test,gs://bkt/forest/0.jpg,forest',
    'sometimes,gs://bkt/sea/x.jpg,sea',
    'gs://bkt/forest/unlabelled.jpg',
  ];
  writeFileSync(path.join(tmp, 'import.csv'), '\ufeff' + csv.join('\r\n') + '\n');
  const jsonl = readdirSync(path.join(DATA, 'forest')).map((f, i) =>
    JSON.stringify({ imageGcsUri: `gs://bkt/forest/${f}`, classificationAnnotation: { displayName: i % 2 ? 'forest' : 'woods' }, dataItemResourceLabels: { 'aiplatform.googleapis.com/ml_use': i % 3 ? 'training' : 'validation' } }),
  );
  writeFileSync(path.join(tmp, 'import.jsonl'), [...jsonl, '{"imageGcsUri": 3}', 'not json', JSON.stringify({ imageGcsUri: 'gs://bkt/x.jpg', classificationAnnotations: [{ displayName: 'a' }, { displayName: 'b' }] })].join('\n'));
  await useBackend('wasm');
});

afterAll(() => rmSync(tmp, { recursive: true, force: true }));

describe('cloud trainer: reading data as SceneLab does', () => {
  it.each([['folder', () => DATA], ['CSV import file', () => path.join(tmp, 'import.csv')], ['JSONL import file', () => path.join(tmp, 'import.jsonl')]])(
    '%s: the same records in the same order, the same problems',
    async (_kind, data) => {
      const ours = JSON.parse((await ok(['-m', 'trainer.data', data(), GCS])).stdout) as { records: unknown[]; problems: unknown[] };
      const theirs = await readLocalDataset(data(), GCS);
      expect(ours.records).toEqual(theirs.records);
      expect(ours.problems).toEqual(theirs.problems);
    },
  );

  it('the seeded split holds out the indices model/data/split.ts does (JavaScript rounding, any seed)', async () => {
    const cases: Array<[number, number, number]> = [[0, 0.1, 0], [1, 0.5, 0], [10, 0.25, 1], [42, 0.25, 0], [7, 0.5, 123456789], [2400, 0.1, 0], [2400, 0.2, 42], [333, 0.15, -1], [100, 0.05, 2 ** 32 + 7], [5, 0, 3]];
    const ours = JSON.parse((await ok(['-m', 'trainer.split', JSON.stringify(cases)])).stdout) as unknown[];
    expect(ours).toEqual(cases.map(([n, f, seed]) => randomSplit(n, f, seed)));
  });

  it('preprocessing gives the tensor model/preprocess.ts gives: box filter, stretch, centre crop, pad', async () => {
    const width = 157;
    const height = 61;
    const pixels = Buffer.alloc(width * height * 3);
    for (let i = 0; i < pixels.length; i++) pixels[i] = (i * 7919 + (i >> 5) * 31) % 256;
    const png = path.join(tmp, 'odd.png');
    await sharp(pixels, { raw: { width, height, channels: 3 } }).png().toFile(png);
    const image = await decodeFile(png);
    const specs: PreprocessSpec[] = [
      caffeBgr(20, 'stretch'),
      { name: 'small', inputSize: [24, 20], channelOrder: 'rgb', scale: 1 / 255, mean: [0.485, 0.456, 0.406], std: [0.229, 0.224, 0.225], resize: 'center-crop' },
      { ...caffeBgr(32, 'pad'), name: 'padded', inputSize: [32, 48] },
    ];
    for (const spec of specs) {
      const ours = JSON.parse((await ok(['-m', 'trainer.preprocessing', JSON.stringify(spec), png])).stdout) as { shape: number[]; values: number[] };
      const x = preprocessImages([image], spec);
      const theirs = await x.data();
      expect(ours.shape).toEqual(x.shape.slice(1));
      x.dispose();
      const worst = ours.values.reduce((m, v, i) => Math.max(m, Math.abs(v - theirs[i]!)), 0);
      expect(worst, spec.name).toBeLessThan(2e-3);
    }
  });
});

describe('cloud trainer: a run', () => {
  it('one process, head only on the shared weights: progress lines, the run files SceneLab writes, a model torchvision and SceneLab load', async () => {
    const out = path.join(tmp, 'run');
    const metricFile = path.join(tmp, 'hypertune', 'output.metrics');
    const flags = ['--arch', 'squeezenet1_1', '--weights', PRETRAINED, '--freeze', '--epochs', '2', '--batch-size', '8', '--val-split', '0.25', '--seed', '3'];
    const r = await ok(['-m', 'trainer.task', '--data', DATA, '--out', out, '--workers', '0', ...flags], { CLOUD_ML_HP_METRIC_FILE: metricFile });
    const ev = events(r.stdout);
    expect(ev.map((e) => e.event).filter((e) => e !== 'features')).toEqual(['data', 'model', 'weights', 'epoch', 'epoch', 'done']);
    expect(ev.filter((e) => e.event === 'features').at(-1)).toMatchObject({ done: 42, total: 42 });
    // 42 images in the pool (the corrupt one counts until it is read): JavaScript rounds 10.5 up, 11 held out.
    const split = randomSplit(42, 0.25, 3);
    expect(ev[0]).toMatchObject({ classes: ['buildings', 'forest', 'sea'], train: split.train.length, validation: 11, validationFrom: 'hold-out' });
    expect(ev[2]).toMatchObject({ filled: 50, kept: ['classifier.1.weight', 'classifier.1.bias'], headReplaced: [] });
    expect(r.stderr).toMatch(/^skipped sea\/broken\.jpg: cannot decode image/m);
    expect(r.stderr).toMatch(/^skipped sea\/loop: symbolic link loops back/m);
    expect(r.stderr).toMatch(/^skipped notes\.txt: not an image file/m);
    const done = ev.at(-1)!;
    expect(done).toMatchObject({ epochs: 2, bestEpoch: 2, cancelled: false, stoppedEarly: false, worldSize: 1 });
    expect(done.skipped).toEqual([{ source: 'sea/broken.jpg', reason: expect.stringMatching(/^cannot decode image/) as unknown }]);

    expect(readdirSync(out).sort()).toEqual(['history.json', 'hyperparameters.json', 'labels.json', 'metrics.json', 'model.pth', 'preprocessing.json']);
    // Byte for byte what `scenelab train` writes for the same flags.
    const config = runConfigFromFlags({ data: DATA, arch: 'squeezenet1_1', weights: PRETRAINED, freeze: true, epochs: '2', 'batch-size': '8', 'val-split': '0.25', seed: '3' });
    const text = (v: unknown): string => JSON.stringify(v, null, 2) + '\n';
    expect(readFileSync(path.join(out, 'hyperparameters.json'), 'utf8')).toBe(text(hyperparametersOf(config, PRETRAINED, 'caffe-bgr')));
    expect(readFileSync(path.join(out, 'preprocessing.json'), 'utf8')).toBe(text(caffeBgr()));
    expect(readFileSync(path.join(out, 'labels.json'), 'utf8')).toBe(text(['buildings', 'forest', 'sea']));

    const history = readJson(path.join(out, 'history.json')) as Array<Record<string, number>>;
    expect(history.map((h) => Object.keys(h))).toEqual(Array(2).fill(['epoch', 'trainLoss', 'trainAccuracy', 'valLoss', 'valAccuracy', 'seconds', 'learningRate']));
    expect(history.map((h) => h.epoch)).toEqual([1, 2]);
    for (const h of history) for (const v of Object.values(h)) expect(Number.isFinite(v)).toBe(true);
    expect(ev.filter((e) => e.event === 'epoch').map((e) => e.valAccuracy)).toEqual(history.map((h) => h.valAccuracy));

    // The validation images are the ones SceneLab's split picks: class supports match its records.
    const metrics = readJson(path.join(out, 'metrics.json')) as { split: string; n: number; perClass: Array<{ support: number }>; confusion: number[][]; skipped: unknown[] };
    expect(Object.keys(metrics)).toEqual(['split', 'n', 'accuracy', 'topK', 'classes', 'perClass', 'macroF1', 'confusion', 'skipped']);
    const pool = (await readLocalDataset(DATA)).records.filter((rec) => rec.label !== null);
    const held = split.val.map((i) => pool[i]!).filter((rec) => !rec.uri.endsWith('broken.jpg'));
    expect(metrics.split).toBe('validation');
    expect(metrics.n).toBe(held.length);
    expect(metrics.perClass.map((c) => c.support)).toEqual(['buildings', 'forest', 'sea'].map((c) => held.filter((rec) => rec.label === c).length));
    expect(metrics.confusion.flat().reduce((a, b) => a + b, 0)).toBe(metrics.n);

    // The tuning metric, as cloudml-hypertune writes it: one sorted-key line per epoch, values as strings.
    const lines = readFileSync(metricFile, 'utf8').trim().split('\n').map((l) => JSON.parse(l) as Record<string, unknown>);
    expect(lines.map((l) => Object.keys(l))).toEqual(Array(2).fill(['global_step', 'timestamp', 'trial', 'val_accuracy']));
    expect(lines.map((l) => [l.global_step, l.trial, Number(l.val_accuracy)])).toEqual(history.map((h) => [String(h.epoch), '0', h.valAccuracy]));

    const check = await ok(['-c', `import torch, torchvision\nm = torchvision.models.squeezenet1_1(num_classes=3)\nprint(m.load_state_dict(torch.load(${JSON.stringify(path.join(out, 'model.pth'))})))`]);
    expect(check.stdout.trim()).toBe('<All keys matched successfully>');
    const model = await loadModel(out);
    expect(model.labels).toEqual(['buildings', 'forest', 'sea']);
    model.dispose();

    const scored = JSON.parse((await ok(['-m', 'trainer.evaluate', '--model', out, '--data', DATA, '--workers', '0'])).stdout) as { n: number; accuracy: number; skipped: Array<{ source: string }> };
    expect(scored.n).toBe(41);
    expect(scored.accuracy).toBeGreaterThan(0.5);
    expect(scored.skipped.map((s) => s.source)).toEqual(['sea/loop', 'notes.txt', 'sea/broken.jpg']);
  });

  it('two processes under torchrun (gloo) train one model: the same weights on both ranks, one voice on stdout', async () => {
    const sums = path.join(tmp, 'sums-torchrun');
    const port = await freePort();
    // --redirects/--tee as a mapping: Debian's torch 1.13 on Python 3.11 cannot read their default "0".
    const launcher = ['-m', 'torch.distributed.run', '--nproc_per_node', '2', '--master_port', String(port), '--redirects', '9:0', '--tee', '9:0'];
    // 30 readable training images (the corrupt one is held in) in batches of 29: one rank sits the last batch out.
    const r = await ok([...launcher, '-m', 'trainer.task', '--data', DATA, '--out', path.join(tmp, 'run-ddp'), '--arch', 'squeezenet1_1', '--weights', PRETRAINED, '--freeze', '--epochs', '2', '--batch-size', '29', '--val-split', '0.25', '--workers', '0'], {
      SCENELAB_TRAINER_CHECKSUMS: sums,
    });
    const ev = events(r.stdout.split('\n').filter((l) => l.startsWith('{')).join('\n'));
    expect(ev.filter((e) => e.event === 'done')).toEqual([expect.objectContaining({ epochs: 2, worldSize: 2 })]);
    const ranks = readdirSync(sums).sort().map((f) => readJson(path.join(sums, f)) as { rank: number; worldSize: number; sha256: string });
    expect(ranks.map((x) => [x.rank, x.worldSize])).toEqual([[0, 2], [1, 2]]);
    expect(ranks[0]!.sha256).toBe(ranks[1]!.sha256);
  });

  it("Vertex AI's CLUSTER_SPEC: each replica's rank and the chief's address; two replicas train from an import file into AIP_MODEL_DIR through FUSE", async () => {
    const spec = (type: string, index: number, cluster: Record<string, string[]> = { workerpool0: ['chief.local:2222'], workerpool1: ['w0:2222', 'w1:2222'] }): string =>
      JSON.stringify({ cluster, environment: 'cloud', task: { type, index } });
    const derived = await Promise.all(
      [spec('workerpool0', 0), spec('workerpool1', 1), spec('workerpool3', 0), spec('worker', 0, { chief: ['10.0.0.2:2222'], worker: ['10.0.0.3:2222'] })].map(async (s) => JSON.parse((await ok(['-m', 'trainer.distributed', s])).stdout) as unknown),
    );
    expect(derived).toEqual([
      { MASTER_ADDR: 'chief.local', MASTER_PORT: '2222', WORLD_SIZE: '3', RANK: '0' },
      { MASTER_ADDR: 'chief.local', MASTER_PORT: '2222', WORLD_SIZE: '3', RANK: '2' },
      null,
      { MASTER_ADDR: '10.0.0.2', MASTER_PORT: '2222', WORLD_SIZE: '2', RANK: '1' },
    ]);

    // Full fine-tuning of MobileNetV3 (BatchNorm re-estimated, then kept in step across replicas).
    const sums = path.join(tmp, 'sums-cluster');
    const cluster = { workerpool0: [`127.0.0.1:${await freePort()}`], workerpool1: [`127.0.0.1:${await freePort()}`] };
    const args = ['-m', 'trainer.task', '--data', 'gs://bkt/import.csv', '--gs-root', GCS, '--arch', 'mobilenet_v3_small', '--epochs', '1', '--batch-size', '8', '--workers', '0'];
    writeFileSync(path.join(DATA, 'import.csv'), readFileSync(path.join(tmp, 'import.csv')));
    const env = (type: string): Record<string, string> => ({ CLUSTER_SPEC: spec(type, 0, cluster), AIP_MODEL_DIR: 'gs://bkt/jobs/j1/model/', SCENELAB_TRAINER_CHECKSUMS: sums });
    const [chief, worker] = await Promise.all([ok(args, env('workerpool0')), ok(args, env('workerpool1'))]);
    rmSync(path.join(DATA, 'import.csv'));
    expect(worker.stdout).toBe('');
    const ev = events(chief.stdout);
    // Validation comes from the file's own ml_use column: every fourth row of each class.
    expect(ev[0]).toMatchObject({ classes: ['buildings', 'sea'], train: 12 + 9, validation: 5 + 4, validationFrom: 'data', worldSize: 2 });
    expect(ev.at(-1)).toMatchObject({ event: 'done', out: path.join(GCS, 'bkt/jobs/j1/model'), epochs: 1 });
    expect(readdirSync(path.join(DATA, 'jobs/j1/model')).sort()).toEqual(['history.json', 'hyperparameters.json', 'labels.json', 'metrics.json', 'model.pth', 'preprocessing.json']);
    const ranks = readdirSync(sums).map((f) => (readJson(path.join(sums, f)) as { sha256: string }).sha256);
    expect(ranks).toHaveLength(2);
    expect(ranks[0]).toBe(ranks[1]);
    rmSync(path.join(DATA, 'jobs'), { recursive: true });
  });
});

describe('cloud trainer: bad input', () => {
  it('gives one line on stderr and a non-zero exit, never a traceback', async () => {
    const one = path.join(tmp, 'one-class');
    linkImages(path.join(one, 'forest'), 'forest', 2);
    const run = ['-m', 'trainer.task', '--arch', 'squeezenet1_1'];
    const cases: Array<[string[], RegExp]> = [
      [[...run, '--data', path.join(tmp, 'nope'), '--out', path.join(tmp, 'x')], /no such file or folder/],
      [[...run, '--data', one, '--out', path.join(tmp, 'x')], /found 1 class folder\(s\) with images; need at least 2/],
      [[...run, '--data', path.join(DATA, 'notes.txt'), '--out', path.join(tmp, 'x')], /expected a folder or a Vertex AI import file/],
      [[...run, '--data', DATA, '--out', path.join(tmp, 'x'), '--epochs', 'abc'], /--epochs expects an integer, got "abc"/],
      [[...run, '--data', DATA, '--out', path.join(tmp, 'x'), '--optimizer', 'rmsprop'], /--optimizer must be adam or sgd/],
      [[...run, '--data', DATA, '--out', path.join(tmp, 'x'), '--val-split', '1'], /--val-split must be in \[0, 1\), got 1/],
      [[...run, '--data', DATA, '--out', path.join(tmp, 'x'), '--batch-size', '0'], /batch size must be an integer from 1 to 4096/],
      [[...run, '--data', DATA, '--out', path.join(tmp, 'x'), '--lr'], /--lr: expected one argument/],
      [[...run, '--data', DATA, '--out', path.join(tmp, 'x'), '--learning-rate', '0.1'], /unrecognized arguments: --learning-rate/],
      [[...run, '--data', DATA], /--out is required/],
      [[...run, '--data', DATA, '--out', path.join(tmp, 'x'), '--weights', path.join(tmp, 'missing.pth')], /--weights .*missing\.pth: no such file/],
      [[...run, '--data', DATA, '--out', path.join(tmp, 'x'), '--weights', path.join(DATA, 'notes.txt')], /not a PyTorch state_dict/],
      [['-m', 'trainer.task', '--arch', 'mobilenet_v3_small', '--data', DATA, '--out', path.join(tmp, 'x'), '--weights', PRETRAINED], /unknown key "features\.0\.weight" for mobilenet_v3_small/],
      [['-m', 'trainer.evaluate', '--model', DATA, '--data', DATA], /hyperparameters\.json is missing/],
    ];
    const results = await Promise.all(cases.map(([args]) => python(args)));
    results.forEach((r, i) => {
      const [args, message] = cases[i]!;
      expect(r.code, args.join(' ')).not.toBe(0);
      expect(r.stderr.trim().split('\n').filter((l) => !l.startsWith('skipped ')), args.join(' ')).toEqual([expect.stringMatching(message) as unknown]);
      expect(r.stderr).not.toContain('Traceback');
    });
  });
});
