import { spawn, spawnSync } from 'node:child_process';
import { copyFileSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Study } from '../model/tune';
import { intelFiles, PRETRAINED } from '../test/helpers/intel';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const BIN = path.join(ROOT, 'bin/scenelab.js');
const tmp = mkdtempSync(path.join(tmpdir(), 'scenelab-tune-'));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));
const CLASSES = ['forest', 'sea', 'street'];
const data = path.join(tmp, 'data');
const test = path.join(tmp, 'test');
const spaceFile = path.join(tmp, 'space.json');

function scenelab(...args: string[]) {
  const r = spawnSync(process.execPath, [BIN, ...args], { cwd: ROOT, encoding: 'utf8', env: { ...process.env, SCENELAB_DEBUG: '' } });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

const readStudy = (file: string): Study => JSON.parse(readFileSync(file, 'utf8')) as Study;

/** The flags of a small head-only study: 8 images a class, a quarter held out, a space of a few epochs. */
const base = (study: string, ...more: string[]) => ['tune', '--data', data, '--weights', PRETRAINED, '--freeze', '--arch', 'squeezenet1_1', '--val-split', '0.25', '--space', spaceFile, '--study', study, ...more];

beforeAll(() => {
  for (const [dir, split, n] of [[data, 'train', 8], [test, 'test', 5]] as const) {
    for (const { file, label } of intelFiles(split, n, CLASSES)) {
      mkdirSync(path.join(dir, CLASSES[label]!), { recursive: true });
      copyFileSync(file, path.join(dir, CLASSES[label]!, path.basename(file)));
    }
  }
  writeFileSync(
    spaceFile,
    JSON.stringify({
      learningRate: { type: 'float', low: 1e-6, high: 0.05, log: true, step: null },
      batchSize: { type: 'categorical', choices: [4, 8] },
      epochs: { type: 'int', low: 2, high: 4, log: false, step: 1 },
      hflip: { type: 'categorical', choices: [false, true] },
    }),
  );
});

describe('scenelab tune', () => {
  const studyFile = path.join(tmp, 'study.json');
  const best = path.join(tmp, 'best');

  it('runs a study end to end: the table, the study file, and the best trial as a run that eval accepts', () => {
    const r = scenelab(...base(studyFile, '--trials', '4', '--sampler', 'random', '--pruner', 'none', '--seed', '2', '--best-out', best));
    expect(r.code, r.stderr).toBe(0);
    const study = readStudy(studyFile);
    expect(study).toMatchObject({ format: 'scenelab-study', objective: 'valAccuracy', direction: 'maximize' });
    expect(Object.keys(study.space)).toEqual(['learningRate', 'batchSize', 'epochs', 'hflip']);
    expect(study.trials.map((t) => t.state)).toEqual(['complete', 'complete', 'complete', 'complete']);
    // One table line per trial: number, parameters, a value per epoch, state and value, best so far.
    const lines = r.stdout.split('\n').filter((l) => l.startsWith('#'));
    expect(lines).toHaveLength(4);
    study.trials.forEach((t, i) => {
      expect(lines[i]).toMatch(new RegExp(`^#${i} lr=\\S+ batch=${t.params.batchSize} epochs=${t.params.epochs} flip=${t.params.hflip} \\| (\\d\\.\\d{3} ?){${t.params.epochs}}\\| complete ${t.value!.toFixed(4)} \\| best \\d\\.\\d{4} #\\d`));
    });
    const bestTrial = study.trials.reduce((a, b) => (b.value! > a.value! ? b : a));
    expect(r.stdout).toMatch(new RegExp(`best: trial #${bestTrial.number}, val_accuracy ${bestTrial.value!.toFixed(4)}`));
    expect(r.stdout).toMatch(/4 trials: 4 complete, 0 pruned, 0 failed/);

    // The best trial is a normal run directory: the files scenelab train writes, with the trial's parameters.
    for (const f of ['model.json', 'weights.bin', 'model.pth', 'labels.json', 'preprocessing.json', 'hyperparameters.json', 'metrics.json', 'history.json', 'curves.svg']) {
      expect(existsSync(path.join(best, f)), f).toBe(true);
    }
    const hp = JSON.parse(readFileSync(path.join(best, 'hyperparameters.json'), 'utf8')) as Record<string, unknown>;
    expect(hp).toMatchObject({ ...bestTrial.params, freeze: true, arch: 'squeezenet1_1', valSplit: 0.25 });
    const metrics = JSON.parse(readFileSync(path.join(best, 'metrics.json'), 'utf8')) as { accuracy: number };
    expect(metrics.accuracy).toBe(bestTrial.value);
    const e = scenelab('eval', '--model', best, '--data', test, '--json');
    expect(e.code, e.stderr).toBe(0);
    expect(JSON.parse(e.stdout)).toMatchObject({ n: 15, classes: CLASSES });
  });

  it('writes the best trial of a finished study on its own, trained again to the same weights', () => {
    const again = path.join(tmp, 'best-again');
    const r = scenelab('tune', '--study', studyFile, '--best-out', again);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toMatch(/training trial #\d again/);
    expect(readFileSync(path.join(again, 'model.pth')).equals(readFileSync(path.join(best, 'model.pth')))).toBe(true);
    expect(readStudy(studyFile).trials).toHaveLength(4);
  });

  /** Starts a study in the background and sends `signal` once trial `trial` or a later one is running. */
  async function interrupt(file: string, args: string[], trial: number, signal: NodeJS.Signals) {
    const child = spawn(process.execPath, [BIN, ...args], { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    const code = new Promise<number | null>((resolve) => child.on('exit', (c) => resolve(c)));
    let sent = false;
    while (!sent && child.exitCode === null) {
      await new Promise((r) => setTimeout(r, 20));
      try {
        const s = readStudy(file);
        if (s.trials.length > trial && s.trials.at(-1)!.state === 'running') sent = child.kill(signal);
      } catch {
        // between writes, or not there yet
      }
    }
    expect(sent, `the study was still running when trial #${trial} started`).toBe(true);
    return { code: await code, stdout };
  }

  it('resumes after a kill without running finished trials again; the cut-off trial runs again', async () => {
    const file = path.join(tmp, 'resume.json');
    // Thirty epochs make a trial last long enough to be killed while it runs.
    const args = (trials: string) => base(file, '--trials', trials, '--pruner', 'none', '--epochs', '30');
    expect(scenelab(...args('2')).code).toBe(0);
    const finished = readStudy(file).trials;

    await interrupt(file, args('5'), 2, 'SIGKILL');
    const killed = readStudy(file);
    const k = killed.trials.length - 1;
    expect(k).toBeGreaterThanOrEqual(2);
    expect(killed.trials.map((t) => t.state)).toEqual([...Array<string>(k).fill('complete'), 'running']);

    const r = scenelab(...args('5'));
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toMatch(new RegExp(`resuming: trial #${k} did not finish and runs again`));
    const study = readStudy(file);
    // Finished trials are exactly as they were; #k is marked interrupted and the next trial runs its parameters again.
    expect(study.trials.slice(0, 2)).toEqual(finished);
    expect(study.trials.slice(0, k)).toEqual(killed.trials.slice(0, k));
    expect(study.trials[k]).toMatchObject({ state: 'failed', failure: { reason: 'interrupted' } });
    expect(study.trials[k + 1]).toMatchObject({ state: 'complete', retryOf: k, params: study.trials[k]!.params });
    expect(study.trials.filter((t) => t.state === 'complete')).toHaveLength(5);
    expect(study.trials).toHaveLength(6);
    const ran = r.stdout.split('\n').filter((l) => l.startsWith('#')).map((l) => Number(l.split(' ')[0]!.slice(1)));
    expect(ran).toEqual(Array.from({ length: 5 - k }, (_, i) => k + 1 + i));
  });

  it('Ctrl-C stops the running trial, saves it as interrupted and exits 130', async () => {
    const file = path.join(tmp, 'sigint.json');
    const { code, stdout } = await interrupt(file, base(file, '--trials', '3', '--pruner', 'none', '--epochs', '200'), 0, 'SIGINT');
    expect(code).toBe(130);
    expect(stdout).toMatch(/stopped; run the same command to continue/);
    const study = readStudy(file);
    expect(study.trials.map((t) => t.state)).toEqual(['failed']);
    expect(study.trials[0]!.failure?.reason).toBe('interrupted');
    expect(study.queue).toEqual([{ params: study.trials[0]!.params, retryOf: 0 }]);
  });

  it('prunes hopeless trials between epochs', () => {
    const file = path.join(tmp, 'pruned.json');
    const r = scenelab(...base(file, '--trials', '8', '--sampler', 'random', '--pruner', 'halving', '--seed', '1'));
    expect(r.code, r.stderr).toBe(0);
    const study = readStudy(file);
    const pruned = study.trials.filter((t) => t.state === 'pruned');
    expect(pruned.length).toBeGreaterThan(0);
    expect(pruned.some((t) => t.intermediate.length < (t.params.epochs as number))).toBe(true);
    for (const t of pruned) expect(r.stdout).toMatch(new RegExp(`^#${t.number} .*\\| pruned@${t.intermediate.length} `, 'm'));
  });
});

describe('scenelab tune: bad input is one line and changes nothing', () => {
  const file = path.join(tmp, 'kept.json');
  const corrupt = path.join(tmp, 'corrupt.json');
  beforeAll(() => {
    expect(scenelab(...base(file, '--trials', '1')).code).toBe(0);
    writeFileSync(corrupt, '{"format": "scenelab-study", "trials": [');
  });

  it.each([
    [['tune', '--data', data, '--trials', '2'], /--study FILE\.json is required/],
    [base(path.join(tmp, 'new.json')), /give --trials N or --time-budget SECONDS/],
    [base(path.join(tmp, 'new.json'), '--trials', 'many'), /--trials expects an integer, got "many"/],
    [base(path.join(tmp, 'new.json'), '--trials', '2', '--sampler', 'grid'), /--sampler must be tpe or random, got "grid"/],
    [base(path.join(tmp, 'new.json'), '--trials', '2', '--pruner', 'hyperband'), /--pruner must be median, halving or none/],
    [base(path.join(tmp, 'new.json'), '--trials', '2', '--objective', 'f1'), /--objective must be val-accuracy or val-loss, got "f1"/],
    [['tune', '--data', path.join(tmp, 'nowhere'), '--study', path.join(tmp, 'new.json'), '--trials', '2'], /--data .*nowhere: no such file or folder/],
    [base(path.join(tmp, 'new.json'), '--trials', '2', '--space', corrupt), /--space .*corrupt\.json: .*JSON/],
    [base(path.join(tmp, 'new.json'), '--trials', '2', '--val-split', '0'), /trials are scored on validation images/],
    [['tune', '--data', data, '--weights', PRETRAINED, '--freeze', '--study', path.join(tmp, 'new.json'), '--trials', '2'], /cannot start a mobilenet_v3_small trial.*fix --arch/],
    [['tune', '--study', path.join(tmp, 'new.json'), '--best-out', path.join(tmp, 'x')], /--data is required to start a study/],
    [base(corrupt, '--trials', '2'), /--study .*corrupt\.json: a study must be JSON/],
  ])('%j', (args, message) => {
    const r = scenelab(...args);
    expect(r.code).not.toBe(0);
    expect(r.stderr).toMatch(message);
    expect(r.stderr).not.toMatch(/\n\s+at /);
    expect(r.stderr.trim().split('\n')).toHaveLength(1);
    expect(existsSync(path.join(tmp, 'new.json'))).toBe(false);
  });

  it.each([
    [['--trials', '3', '--objective', 'val-loss'], /it optimises valAccuracy, this command valLoss/],
    [['--trials', '3', '--lr', '0.01'], /it searches learningRate, batchSize, epochs, hflip over other ranges.*\(batchSize, epochs, hflip\)/],
    [['--trials', '3', '--momentum', '0.5'], /its trials ran with momentum 0\.9, this command gives 0\.5/],
  ])('a study file of another search is refused and left as it was: %j', (more, message) => {
    const before = readFileSync(file);
    const mtime = statSync(file).mtimeMs;
    const r = scenelab(...base(file, ...more));
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(message);
    expect(r.stderr.trim().split('\n')).toHaveLength(1);
    expect(readFileSync(file).equals(before)).toBe(true);
    expect(statSync(file).mtimeMs).toBe(mtime);
  });
});
