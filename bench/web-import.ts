/**
 * Import benchmark for the browser app: imports folders (or zips) through the Datasets screen's
 * real file inputs in Debian's Chromium and prints import time and the peak JS heap of the page
 * and of the engine worker.
 *
 *   npx tsx bench/web-import.ts [--url http://localhost:4173/] PATH...
 *
 * PATH is a folder (Intel layout) or a .zip. Without --url the app is built and served with
 * `vite preview` on a free port. Each PATH gets a fresh browser profile (empty IndexedDB).
 * Heap: the page via CDP `Performance.getMetrics` (JSHeapUsedSize), the engine worker via
 * `performance.measureUserAgentSpecificMemory()`, both sampled every 200 ms or so.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { statSync } from 'node:fs';
import { createServer } from 'node:net';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { chromium, type Page } from '@playwright/test';

const { values, positionals } = parseArgs({ options: { url: { type: 'string' }, timeout: { type: 'string', default: '3600' } }, allowPositionals: true });
if (positionals.length === 0) {
  process.stderr.write('usage: bench/web-import.ts [--url URL] FOLDER_OR_ZIP...\n');
  process.exit(2);
}

const MiB = 2 ** 20;

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.listen(0, () => {
      const addr = srv.address();
      srv.close(() => (typeof addr === 'object' && addr ? resolve(addr.port) : reject(new Error('no port'))));
    });
  });
}

async function serve(): Promise<{ url: string; server: ChildProcess }> {
  const port = await freePort();
  await new Promise<void>((resolve, reject) => {
    const build = spawn('npx', ['vite', 'build'], { stdio: 'ignore' });
    build.on('exit', (code) => (code === 0 ? resolve() : reject(new Error(`vite build exited ${code}`))));
  });
  const server = spawn('npx', ['vite', 'preview', '--port', String(port), '--strictPort'], { stdio: 'ignore' });
  const url = `http://localhost:${port}/`;
  for (let i = 0; i < 100; i++) {
    try {
      if ((await fetch(url)).ok) return { url, server };
    } catch {
      /* not up yet */
    }
    await new Promise((r) => setTimeout(r, 200));
  }
  throw new Error('vite preview did not start');
}

interface Row {
  input: string;
  files: string;
  imported: number;
  skipped: number;
  seconds: number;
  imagesPerSecond: number;
  pagePeakMiB: number;
  workerPeakMiB: number | null;
  storedMiB: number;
}

/**
 * JS memory of the worker, from `performance.measureUserAgentSpecificMemory()` (the page is
 * cross-origin isolated, which that API needs; --enable-blink-features=ForceEagerMeasureMemory
 * makes it answer at once instead of after the next GC). Playwright has no CDP session for workers.
 */
const MEASURE = `performance.measureUserAgentSpecificMemory().then((m) => m.breakdown
  .filter((b) => b.attribution.some((a) => a.scope === 'DedicatedWorkerGlobalScope'))
  .reduce((n, b) => n + b.bytes, 0))`;

async function sampleHeaps(page: Page, peaks: { page: number; worker: number | null }, stop: { done: boolean }): Promise<void> {
  const cdp = await page.context().newCDPSession(page);
  await cdp.send('Performance.enable');
  while (!stop.done) {
    const { metrics } = await cdp.send('Performance.getMetrics');
    const used = metrics.find((m) => m.name === 'JSHeapUsedSize')?.value ?? 0;
    peaks.page = Math.max(peaks.page, used);
    const w = (await page.evaluate(MEASURE).catch(() => null)) as number | null;
    if (typeof w === 'number') peaks.worker = Math.max(peaks.worker ?? 0, w);
    await new Promise((r) => setTimeout(r, 200));
  }
}

async function run(url: string, input: string): Promise<Row> {
  const browser = await chromium.launch({
    executablePath: process.env.CHROMIUM_PATH ?? '/usr/bin/chromium',
    // --enable-precise-memory-info: performance.memory is otherwise bucketed and delayed.
    args: ['--no-sandbox', '--disable-background-networking', '--disable-component-update', '--disable-sync', '--no-first-run', '--disable-quic', '--enable-precise-memory-info', '--enable-blink-features=ForceEagerMeasureMemory'],
  });
  try {
    const context = await browser.newContext();
    const page = await context.newPage();
    await page.goto(`${url}?backend=wasm#/datasets`);
    await page.getByTestId('backend').filter({ hasText: 'wasm' }).waitFor({ timeout: 120_000 });
    const isZip = statSync(input).isFile();
    const peaks = { page: 0, worker: null as number | null };
    const stop = { done: false };
    const sampler = sampleHeaps(page, peaks, stop);
    const t0 = performance.now();
    await page.getByTestId(isZip ? 'zip-input' : 'folder-input').setInputFiles(input);
    const message = page.getByTestId('message');
    await message.filter({ hasText: /Imported \d+ images|error|full/i }).waitFor({ timeout: Number(values.timeout) * 1000 });
    const seconds = (performance.now() - t0) / 1000;
    stop.done = true;
    await sampler;
    const text = (await message.textContent()) ?? '';
    const imported = Number(/Imported (\d+) images/.exec(text)?.[1] ?? NaN);
    if (!Number.isFinite(imported)) throw new Error(`import failed: ${text}`);
    const skipped = Number(/(\d+) skipped/.exec(text)?.[1] ?? 0);
    const stored = (await page.evaluate('navigator.storage.estimate().then((e) => e.usage)')) as number;
    return {
      input: path.basename(input),
      files: isZip ? 'zip' : 'folder',
      imported,
      skipped,
      seconds: Number(seconds.toFixed(1)),
      imagesPerSecond: Math.round(imported / seconds),
      pagePeakMiB: Number((peaks.page / MiB).toFixed(1)),
      workerPeakMiB: peaks.worker === null ? null : Number((peaks.worker / MiB).toFixed(1)),
      storedMiB: Math.round(stored / MiB),
    };
  } finally {
    await browser.close();
  }
}

const served = values.url ? { url: values.url, server: null } : await serve();
try {
  const rows: Row[] = [];
  for (const input of positionals) {
    process.stderr.write(`importing ${input} …\n`);
    rows.push(await run(served.url, path.resolve(input)));
  }
  console.table(rows);
  process.stdout.write(JSON.stringify(rows) + '\n');
} finally {
  served.server?.kill();
}
