/**
 * Writes a synthetic image-classification dataset in the Intel layout, for import benchmarks:
 *
 *   npx tsx scripts/make-synthetic-dataset.ts --out /tmp/synthetic-20k --count 20000 [--classes 6] [--zip] [--size 150]
 *
 * gives `<out>/seg_train/seg_train/<class>/<n>.jpg` (85%) and `<out>/seg_test/seg_test/<class>/<n>.jpg`
 * (15%), and with --zip also `<out>.zip` holding the same tree. Each class has its own colour
 * and stripe direction plus noise, so the images are distinguishable but not trivially equal.
 * JPEGs are encoded by sharp, a few at a time on all cores.
 */
import { createWriteStream, mkdirSync } from 'node:fs';
import { writeFile } from 'node:fs/promises';
import { availableParallelism } from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { Zip, ZipPassThrough } from 'fflate';
import sharp from 'sharp';

const { values } = parseArgs({
  options: {
    out: { type: 'string' },
    count: { type: 'string', default: '20000' },
    classes: { type: 'string', default: '6' },
    size: { type: 'string', default: '150' },
    zip: { type: 'boolean', default: false },
    seed: { type: 'string', default: '1' },
  },
});
if (!values.out) {
  process.stderr.write('usage: make-synthetic-dataset.ts --out DIR [--count 20000] [--classes 6] [--size 150] [--zip]\n');
  process.exit(2);
}
const out = path.resolve(values.out);
const count = Number(values.count);
const nClasses = Number(values.classes);
const size = Number(values.size);
const CLASS_NAMES = ['buildings', 'forest', 'glacier', 'mountain', 'sea', 'street', 'desert', 'field', 'lake', 'snow'];
const classes = Array.from({ length: nClasses }, (_, i) => CLASS_NAMES[i] ?? `class_${i}`);

/** mulberry32: the same dataset for the same seed. */
function rng(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (s + 0x6d2b79f5) >>> 0;
    let t = s;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

function pixels(k: number, random: () => number): Buffer {
  const buf = Buffer.alloc(size * size * 3);
  const hue = (k / nClasses) * Math.PI * 2;
  const base = [128 + 100 * Math.cos(hue), 128 + 100 * Math.cos(hue + 2.1), 128 + 100 * Math.cos(hue + 4.2)];
  const angle = (k * Math.PI) / nClasses + (random() - 0.5) * 0.4;
  const freq = 0.05 + 0.1 * random();
  const [c, s] = [Math.cos(angle), Math.sin(angle)];
  for (let y = 0; y < size; y++) {
    for (let x = 0; x < size; x++) {
      const stripe = 40 * Math.sin((x * c + y * s) * freq * Math.PI * 2);
      const o = (y * size + x) * 3;
      for (let ch = 0; ch < 3; ch++) buf[o + ch] = Math.max(0, Math.min(255, base[ch]! + stripe + (random() - 0.5) * 60));
    }
  }
  return buf;
}

const started = performance.now();
const random = rng(Number(values.seed));
const jobs = Array.from({ length: count }, (_, i) => {
  const k = i % nClasses;
  const split = random() < 0.85 ? 'seg_train' : 'seg_test';
  return { k, rel: `${split}/${split}/${classes[k]}/${i}.jpg`, seed: Math.floor(random() * 2 ** 31) };
});
for (const split of ['seg_train', 'seg_test']) for (const c of classes) mkdirSync(path.join(out, split, split, c), { recursive: true });

let zip: Zip | null = null;
let zipDone: Promise<void> = Promise.resolve();
if (values.zip) {
  const stream = createWriteStream(`${out}.zip`);
  zipDone = new Promise((resolve, reject) => {
    stream.on('finish', () => resolve());
    stream.on('error', reject);
  });
  zip = new Zip((err, chunk, final) => {
    if (err) throw err;
    stream.write(chunk);
    if (final) stream.end();
  });
}

let next = 0;
let written = 0;
async function worker(): Promise<void> {
  while (next < jobs.length) {
    const job = jobs[next++]!;
    const jpeg = await sharp(pixels(job.k, rng(job.seed)), { raw: { width: size, height: size, channels: 3 } }).jpeg({ quality: 85 }).toBuffer();
    await writeFile(path.join(out, job.rel), jpeg);
    if (zip) {
      // JPEGs do not compress: store them.
      const entry = new ZipPassThrough(job.rel);
      zip.add(entry);
      entry.push(new Uint8Array(jpeg), true);
    }
    if (++written % 2000 === 0) process.stderr.write(`${written}/${count}\n`);
  }
}
await Promise.all(Array.from({ length: Math.max(2, availableParallelism()) }, worker));
zip?.end();
await zipDone;
process.stdout.write(`wrote ${count} images in ${classes.length} classes to ${out}${values.zip ? ` and ${out}.zip` : ''} in ${((performance.now() - started) / 1000).toFixed(1)} s\n`);
