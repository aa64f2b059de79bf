// The acceptance run of the CLI, timed: `scenelab train --freeze` on the shared Intel scenes
// and `scenelab eval` on its test split, with flip augmentation (the default) side by side with
// the same run without it (the reference), so the cost of augmentation is a ratio, not a clock.
//   npx tsx bench/train-frozen.ts [--epochs 10]
import { spawnSync } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';

const shared = path.resolve(import.meta.dirname, '../../shared');
const epochs = process.argv.includes('--epochs') ? process.argv[process.argv.indexOf('--epochs') + 1]! : '10';
const tmp = mkdtempSync(path.join(tmpdir(), 'scenelab-bench-'));

function scenelab(args: string[]): { seconds: number; stdout: string } {
  const t = performance.now();
  const r = spawnSync(process.execPath, [path.resolve(import.meta.dirname, '../bin/scenelab.js'), ...args], { encoding: 'utf8', maxBuffer: 64 << 20 });
  if (r.status !== 0) throw new Error(`scenelab ${args[0]} failed: ${r.stderr}`);
  return { seconds: (performance.now() - t) / 1000, stdout: r.stdout };
}

const rows: Array<{ run: string; trainSeconds: number; accuracy: number }> = [];
for (const [name, extra] of [['frozen, flip (default)', []], ['frozen, no flip (reference)', ['--no-flip']]] as const) {
  const out = path.join(tmp, name.replace(/\W+/g, '-'));
  const t = scenelab(['train', '--data', `${shared}/datasets/intel-scenes/train`, '--arch', 'squeezenet1_1', '--weights', `${shared}/weights/squeezenet1_1-features-imagenet.pth`, '--freeze', '--epochs', epochs, '--out', out, ...extra]);
  const e = scenelab(['eval', '--model', out, '--data', `${shared}/datasets/intel-scenes/test`, '--json']);
  rows.push({ run: name, trainSeconds: t.seconds, accuracy: JSON.parse(e.stdout).accuracy });
}
const ref = rows[1]!;
console.log(`squeezenet1_1 --freeze --epochs ${epochs}, 2400 train / 900 test images, wall time of the whole CLI command`);
console.log('| run | train s | test accuracy | time vs reference |');
console.log('|---|--:|--:|--:|');
for (const r of rows) console.log(`| ${r.run} | ${r.trainSeconds.toFixed(1)} | ${r.accuracy.toFixed(4)} | ${(r.trainSeconds / ref.trainSeconds).toFixed(2)}x |`);
