/**
 * Head-only training end to end for `npm run bench`: JPEGs on disk to a trained model and its
 * test accuracy, the same recipe (frozen pretrained backbone, 5 epochs, batch 32, Adam 1e-3,
 * flips, 10 % held out) run by `scenelab train` and by the PyTorch trainer in cloud/trainer
 * (torchvision, Debian's torch), each a whole process timed from start to exit, decoding
 * included; both models are then scored by `scenelab eval` on the same test images.
 */
import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readdirSync, rmSync, symlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';

export interface HeadOnlyResult {
  contender: string;
  threads: number;
  seconds: number;
  testAccuracy: number;
  peakRssMiB: number;
}

export interface HeadOnlyOptions {
  root: string;
  train: string;
  test: string;
  weights: string;
  epochs: number;
  /** Thread counts PyTorch gets (SceneLab's wasm in Node runs on one). */
  threads: number[];
}

const SHARED = '../shared';

/** The shared Intel scenes and weights, or a few images of each class linked into a temp folder for a short run. */
export function headOnlyData(root: string, short: boolean): { train: string; test: string; weights: string; cleanup: () => void } {
  const intel = path.resolve(root, SHARED, 'datasets/intel-scenes');
  const weights = path.resolve(root, SHARED, 'weights/squeezenet1_1-features-imagenet.pth');
  if (!short) return { train: path.join(intel, 'train'), test: path.join(intel, 'test'), weights, cleanup: () => {} };
  const dir = mkdtempSync(path.join(tmpdir(), 'scenelab-bench-data-'));
  for (const [split, n] of [['train', 4], ['test', 2]] as const) {
    for (const cls of readdirSync(path.join(intel, split))) {
      mkdirSync(path.join(dir, split, cls), { recursive: true });
      for (const f of readdirSync(path.join(intel, split, cls)).sort().slice(0, n)) symlinkSync(path.join(intel, split, cls, f), path.join(dir, split, cls, f));
    }
  }
  return { train: path.join(dir, 'train'), test: path.join(dir, 'test'), weights, cleanup: () => rmSync(dir, { recursive: true, force: true }) };
}

/** Runs a command to its exit: wall seconds, and its peak RSS (spawnSync reports none, so a small Python parent reads it from getrusage). */
function timed(cmd: string, args: string[], cwd: string, env: NodeJS.ProcessEnv): { seconds: number; peakRssMiB: number } {
  const t0 = performance.now();
  const r = spawnSync('/usr/bin/env', ['python3', '-c', RUSAGE_WRAPPER, cmd, ...args], { cwd, env, encoding: 'utf8', maxBuffer: 64 << 20 });
  const seconds = (performance.now() - t0) / 1000;
  if (r.status !== 0) throw new Error(`${cmd} ${args.join(' ')} failed:\n${r.stderr.slice(-2000)}`);
  const rss = /peak-rss-kib (\d+)/.exec(r.stderr);
  return { seconds, peakRssMiB: rss ? Number(rss[1]) / 1024 : NaN };
}

/** Runs argv[1:] as a child and prints its peak RSS (getrusage of children) on stderr. */
const RUSAGE_WRAPPER = `
import resource, subprocess, sys
code = subprocess.call(sys.argv[1:])
sys.stderr.write("peak-rss-kib %d\\n" % resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss)
sys.exit(code)
`;

function testAccuracy(root: string, run: string, test: string): number {
  const r = spawnSync(process.execPath, [path.join(root, 'bin/scenelab.js'), 'eval', '--model', run, '--data', test, '--json'], { cwd: root, encoding: 'utf8', maxBuffer: 64 << 20 });
  if (r.status !== 0) throw new Error(`scenelab eval ${run} failed:\n${r.stderr.slice(-2000)}`);
  return (JSON.parse(r.stdout) as { accuracy: number }).accuracy;
}

/** SceneLab and PyTorch at each thread count (SceneLab's extra threads compute backbone features); each model scored on the test set. */
export function headOnlyEndToEnd(o: HeadOnlyOptions): HeadOnlyResult[] {
  const work = mkdtempSync(path.join(tmpdir(), 'scenelab-bench-runs-'));
  const recipe = ['--arch', 'squeezenet1_1', '--epochs', String(o.epochs), '--batch-size', '32', '--lr', '0.001', '--optimizer', 'adam', '--val-split', '0.1', '--seed', '0'];
  try {
    const results: HeadOnlyResult[] = [];
    for (const threads of o.threads) {
      const sceneRun = path.join(work, `scenelab-${threads}`);
      const s = timed(process.execPath, [path.join(o.root, 'bin/scenelab.js'), 'train', '--data', o.train, '--weights', o.weights, '--freeze', '--threads', String(threads), '--out', sceneRun, ...recipe], o.root, process.env);
      results.push({ contender: 'scenelab-node', threads, ...s, testAccuracy: testAccuracy(o.root, sceneRun, o.test) });
      const torchRun = path.join(work, `pytorch-${threads}`);
      const args = ['-m', 'trainer.task', '--data', o.train, '--weights', o.weights, '--freeze', '--out', torchRun, ...recipe];
      const p = timed('/usr/bin/python3', args, path.join(o.root, 'cloud'), { ...process.env, OMP_NUM_THREADS: String(threads), MKL_NUM_THREADS: String(threads) });
      results.push({ contender: 'pytorch', threads, ...p, testAccuracy: testAccuracy(o.root, torchRun, o.test) });
    }
    return results;
  } finally {
    rmSync(work, { recursive: true, force: true });
  }
}
