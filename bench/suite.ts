/**
 * `npm run bench`: SceneLab against PyTorch on this machine, one contender after another in one
 * run, the same model, input size, batch sizes and thread count. Prints a table of ratios
 * (SceneLab ÷ PyTorch; above 1 is faster for throughput, below 1 is faster for latency), the
 * fraction of this CPU's multiply-add rate each reaches, and writes the raw numbers as JSON and
 * a chart as SVG under bench/results/.
 *
 *   npm run bench                 # full: repeats 5, batch 32 train / 64 inference, 1 and 2 threads
 *   npm run bench -- --short      # CI: tiny repeats and batches, checks the harness runs (asserts no speed)
 */
import { spawnSync } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { headOnlyData, headOnlyEndToEnd, type HeadOnlyResult } from './head-only';

const { values: v } = parseArgs({
  options: { short: { type: 'boolean' }, arch: { type: 'string', default: 'squeezenet1_1' }, out: { type: 'string' }, 'no-head-only': { type: 'boolean' } },
});
const ROOT = path.resolve(import.meta.dirname, '..');
const short = v.short ?? false;
const params = short
  ? { size: 64, trainBatch: 4, inferBatch: 4, repeats: 1, threads: [1] }
  : { size: 150, trainBatch: 32, inferBatch: 64, repeats: 5, threads: [1, 2] };
const headOnlyEpochs = short ? 1 : 5;

interface Result {
  contender: string;
  version: string;
  threads: number;
  /** Absent for inference-only contenders (ONNX Runtime). */
  trainImagesPerSecond: number;
  latencyMs: number;
  inferImagesPerSecond: number;
  peakRssMiB: number;
  peakMacsPerSecond?: number;
  forwardMacsPerImage?: number;
}

function run(cmd: string, args: string[]): Result {
  const r = spawnSync(cmd, args, { cwd: ROOT, encoding: 'utf8', maxBuffer: 16 << 20 });
  if (r.status !== 0) throw new Error(`${cmd} ${args.join(' ')} failed:\n${r.stderr}`);
  return JSON.parse(r.stdout.trim().split('\n').pop()!) as Result;
}

// Other work on the machine slows the contenders unevenly (PyTorch's thread pool suffers most):
// the load is recorded beside the numbers so a run on a busy machine reads as one.
const loadAtStart = os.loadavg()[0]!;
const common = ['--arch', v.arch!, '--size', String(params.size), '--train-batch', String(params.trainBatch), '--infer-batch', String(params.inferBatch), '--repeats', String(params.repeats)];
type ChromiumResult = Omit<Result, 'peakRssMiB'> & { peakMemoryMiB: number };
const rows: Array<{ threads: number; scenelab: Result; chromium: ChromiumResult; pytorch: Result; onnxruntime: Omit<Result, 'trainImagesPerSecond'> }> = [];
for (const threads of params.threads) {
  const scenelab = run(process.execPath, ['--import', 'tsx', 'bench/scenelab-step.ts', ...common, '--threads', String(threads)]);
  // The page is built once, by the first Chromium run.
  const chromium = run(process.execPath, ['--import', 'tsx', 'bench/browser-step.ts', ...common, '--threads', String(threads), ...(rows.length ? ['--no-build'] : [])]) as unknown as ChromiumResult;
  const pytorch = run('/usr/bin/python3', ['bench/reference/torch_bench.py', ...common, '--threads', String(threads)]);
  const onnxruntime = run(process.execPath, ['--import', 'tsx', 'bench/ort-infer.ts', ...common, '--threads', String(threads)]);
  rows.push({ threads, scenelab, chromium, pytorch, onnxruntime });
}

const macs = rows[0]!.pytorch.forwardMacsPerImage!;
// A training step costs about three forward passes (forward, gradients of inputs and of weights).
const trainMacs = 3 * macs;
const peak = rows[0]!.scenelab.peakMacsPerSecond!;
const fmt = (x: number, d = 1): string => x.toFixed(d);
console.log(`${v.arch} at ${params.size}x${params.size}, 6 classes; train batch ${params.trainBatch} (Adam, full fine-tuning), inference batch ${params.inferBatch}; ${os.cpus().length} cores (${os.cpus()[0]?.model ?? 'cpu'}); load average ${loadAtStart.toFixed(1)} at the start, ${os.loadavg()[0]!.toFixed(1)} after the step contenders`);
console.log(`forward: ${(macs / 1e6).toFixed(0)} M multiply-adds per image (a training step counted as 3 forwards); wasm peak = this CPU with tfjs-wasm's own kernels (XNNPACK, 128-bit SIMD, 1024^3 matmul, 1 thread): ${(peak / 1e9).toFixed(2)} G multiply-adds/s. PyTorch's native kernels (AVX2/AVX-512) can exceed it.`);
console.log('| threads | measure | SceneLab (Node, wasm) | PyTorch | SceneLab ÷ PyTorch | SceneLab, % of wasm peak | PyTorch, % of wasm peak |');
console.log('|--:|---|--:|--:|--:|--:|--:|');
for (const { threads, scenelab: s, pytorch: p } of rows) {
  // The fraction of the peak of the threads used: Node's inference runs on one (tfjs-wasm has no threads in Node).
  const pct = (imagesPerSecond: number, perImage: number, used: number): string => `${fmt((100 * imagesPerSecond * perImage) / (peak * used))}%`;
  console.log(`| ${threads} | train images/s | ${fmt(s.trainImagesPerSecond)} | ${fmt(p.trainImagesPerSecond)} | ${fmt(s.trainImagesPerSecond / p.trainImagesPerSecond, 2)}x | ${pct(s.trainImagesPerSecond, trainMacs, s.threads)} | ${pct(p.trainImagesPerSecond, trainMacs, threads)} |`);
  console.log(`| ${threads} | batch-1 latency ms | ${fmt(s.latencyMs)} | ${fmt(p.latencyMs)} | ${fmt(s.latencyMs / p.latencyMs, 2)}x | | |`);
  console.log(`| ${threads} | inference images/s | ${fmt(s.inferImagesPerSecond)} | ${fmt(p.inferImagesPerSecond)} | ${fmt(s.inferImagesPerSecond / p.inferImagesPerSecond, 2)}x | ${pct(s.inferImagesPerSecond, macs, 1)} | ${pct(p.inferImagesPerSecond, macs, threads)} |`);
  console.log(`| ${threads} | peak RSS MiB | ${fmt(s.peakRssMiB, 0)} | ${fmt(p.peakRssMiB, 0)} | ${fmt(s.peakRssMiB / p.peakRssMiB, 2)}x | | |`);
}
console.log('\nSceneLab in Chromium (headless, in a worker, wasm with SIMD on one thread; at N threads training splits its batches with N - 1 replica workers); memory is the page and its workers at their peak:');
console.log('| threads | measure | SceneLab (Chromium) | PyTorch | Chromium ÷ PyTorch | Chromium ÷ Node |');
console.log('|--:|---|--:|--:|--:|--:|');
for (const { threads, scenelab: s, chromium: c, pytorch: p } of rows) {
  const t = `${threads} (${c.threads})`;
  console.log(`| ${t} | train images/s | ${fmt(c.trainImagesPerSecond)} | ${fmt(p.trainImagesPerSecond)} | ${fmt(c.trainImagesPerSecond / p.trainImagesPerSecond, 2)}x | ${fmt(c.trainImagesPerSecond / s.trainImagesPerSecond, 2)}x |`);
  console.log(`| ${t} | batch-1 latency ms | ${fmt(c.latencyMs)} | ${fmt(p.latencyMs)} | ${fmt(c.latencyMs / p.latencyMs, 2)}x | ${fmt(c.latencyMs / s.latencyMs, 2)}x |`);
  console.log(`| ${t} | inference images/s | ${fmt(c.inferImagesPerSecond)} | ${fmt(p.inferImagesPerSecond)} | ${fmt(c.inferImagesPerSecond / p.inferImagesPerSecond, 2)}x | ${fmt(c.inferImagesPerSecond / s.inferImagesPerSecond, 2)}x |`);
  console.log(`| ${t} | memory MiB (page + workers / RSS) | ${fmt(c.peakMemoryMiB, 0)} | ${fmt(p.peakRssMiB, 0)} | ${fmt(c.peakMemoryMiB / p.peakRssMiB, 2)}x | |`);
}
console.log('\nONNX Runtime (onnxruntime-web, wasm, in Node) on the model SceneLab exports, inference only:');
console.log('| threads | measure | ONNX Runtime | PyTorch | ONNX Runtime ÷ PyTorch | SceneLab ÷ ONNX Runtime |');
console.log('|--:|---|--:|--:|--:|--:|');
for (const { threads, scenelab: s, pytorch: p, onnxruntime: o } of rows) {
  console.log(`| ${threads} (ORT ${o.threads}) | batch-1 latency ms | ${fmt(o.latencyMs)} | ${fmt(p.latencyMs)} | ${fmt(o.latencyMs / p.latencyMs, 2)}x | ${fmt(s.latencyMs / o.latencyMs, 2)}x |`);
  console.log(`| ${threads} (ORT ${o.threads}) | inference images/s | ${fmt(o.inferImagesPerSecond)} | ${fmt(p.inferImagesPerSecond)} | ${fmt(o.inferImagesPerSecond / p.inferImagesPerSecond, 2)}x | ${fmt(s.inferImagesPerSecond / o.inferImagesPerSecond, 2)}x |`);
}

let headOnly: HeadOnlyResult[] = [];
if (!v['no-head-only']) {
  const data = headOnlyData(ROOT, short);
  try {
    headOnly = headOnlyEndToEnd({ root: ROOT, ...data, epochs: headOnlyEpochs, threads: params.threads });
  } finally {
    data.cleanup();
  }
  const sceneAt = (threads: number): HeadOnlyResult | undefined => headOnly.find((r) => r.contender === 'scenelab-node' && r.threads === threads);
  console.log(`\nHead-only training end to end (${short ? 'a few linked images' : 'the shared train set, scored on its test set'}; frozen pretrained backbone, ${headOnlyEpochs} epoch(s), batch 32, Adam 1e-3, flips; whole processes, decoding included):`);
  console.log('| contender | threads | seconds | test accuracy | peak RSS MiB | SceneLab ÷ this at these threads (time) |');
  console.log('|---|--:|--:|--:|--:|--:|');
  for (const r of headOnly) console.log(`| ${r.contender} | ${r.threads} | ${fmt(r.seconds)} | ${fmt(r.testAccuracy, 4)} | ${fmt(r.peakRssMiB, 0)} | ${fmt(sceneAt(r.threads)!.seconds / r.seconds, 2)}x |`);
}
if (rows.some((r) => r.threads > 1)) console.log('note: SceneLab trains on N threads by splitting each batch across N - 1 replicas of the model (Node worker threads, browser workers); batch-1 latency and batch inference run on one thread in both (tfjs-wasm has no threads in Node; the bench page keeps one).');

/** One bar per measure and thread count: SceneLab ÷ PyTorch (for latency, PyTorch ÷ SceneLab), with the parity line. */
function chart(): string {
  const bars = rows.flatMap(({ threads, scenelab: s, chromium: c, pytorch: p }) => [
    { label: `train ${threads}t`, ratio: s.trainImagesPerSecond / p.trainImagesPerSecond },
    { label: `latency ${threads}t`, ratio: p.latencyMs / s.latencyMs },
    { label: `infer ${threads}t`, ratio: s.inferImagesPerSecond / p.inferImagesPerSecond },
    { label: `browser train ${threads}t`, ratio: c.trainImagesPerSecond / p.trainImagesPerSecond },
    { label: `browser latency ${threads}t`, ratio: p.latencyMs / c.latencyMs },
    { label: `browser infer ${threads}t`, ratio: c.inferImagesPerSecond / p.inferImagesPerSecond },
  ]);
  const w = 640;
  const h = 40 + bars.length * 28;
  const max = Math.max(1.2, ...bars.map((b) => b.ratio));
  const x = (r: number): number => 150 + (r / max) * (w - 190);
  const rects = bars
    .map((b, i) => `<text x="142" y="${44 + i * 28}" text-anchor="end" font-size="12">${b.label}</text><rect x="150" y="${30 + i * 28}" width="${(x(b.ratio) - 150).toFixed(1)}" height="18" fill="${b.ratio >= 1 ? '#2e7d32' : '#c62828'}"/><text x="${(x(b.ratio) + 4).toFixed(1)}" y="${44 + i * 28}" font-size="12">${b.ratio.toFixed(2)}x</text>`)
    .join('');
  return `<svg xmlns="http://www.w3.org/2000/svg" width="${w}" height="${h}" font-family="sans-serif"><text x="10" y="18" font-size="13">SceneLab vs PyTorch (higher is better for SceneLab; line = parity)</text>${rects}<line x1="${x(1)}" y1="24" x2="${x(1)}" y2="${h - 6}" stroke="#000" stroke-dasharray="4 3"/></svg>\n`;
}

const stamp = new Date().toISOString().replace(/[:.]/g, '-');
const outDir = v.out ?? path.join(ROOT, 'bench/results');
mkdirSync(outDir, { recursive: true });
const base = path.join(outDir, `${short ? 'short-' : ''}${stamp}`);
writeFileSync(`${base}.json`, JSON.stringify({ date: new Date().toISOString(), params, machine: { cores: os.cpus().length, cpu: os.cpus()[0]?.model, loadAverage: { start: loadAtStart, end: os.loadavg()[0] } }, forwardMacsPerImage: macs, peakMacsPerSecond: peak, rows, headOnly }, null, 2) + '\n');
writeFileSync(`${base}.svg`, chart());
console.log(`raw numbers: ${path.relative(ROOT, base)}.json, chart: ${path.relative(ROOT, base)}.svg`);
