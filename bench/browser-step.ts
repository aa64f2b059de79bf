/**
 * SceneLab's Chromium contender for `npm run bench`: builds bench/browser (the app's backend
 * set-up and bench/step.ts in a worker), serves it cross-origin isolated on localhost, and runs
 * it in Debian's Chromium headless — wasm with SIMD and the thread count asked for. Prints one
 * JSON line like the other contenders, with the peak memory of the page and its workers.
 *
 *   npx tsx bench/browser-step.ts --threads 2 --size 150 --train-batch 32 --infer-batch 64 --repeats 5 [--no-build]
 */
import path from 'node:path';
import { chromium } from '@playwright/test';
import { build, preview } from 'vite';
import { contenderArgs } from './contender-args';

const a = contenderArgs();
const ROOT = path.resolve(import.meta.dirname, '..');
const configFile = path.join(ROOT, 'bench/browser/vite.config.ts');
const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';
// ForceEagerMeasureMemory: measureUserAgentSpecificMemory answers at once instead of after the next GC.
const FLAGS = ['--no-sandbox', '--disable-background-networking', '--disable-component-update', '--disable-sync', '--no-first-run', '--disable-quic', '--enable-blink-features=ForceEagerMeasureMemory'];

if (!a.noBuild) await build({ configFile, logLevel: 'error' });
const server = await preview({ configFile, logLevel: 'error', preview: { port: 0, host: 'localhost' } });
const browser = await chromium.launch({ executablePath: CHROMIUM, args: FLAGS });
try {
  const address = server.httpServer.address();
  if (!address || typeof address === 'string') throw new Error('the preview server has no port');
  const q = new URLSearchParams({ arch: a.arch, size: String(a.size), trainBatch: String(a.trainBatch), inferBatch: String(a.inferBatch), repeats: String(a.repeats), threads: String(a.threads) });
  const page = await browser.newPage();
  const errors: string[] = [];
  page.on('pageerror', (e) => errors.push(e.message));
  await page.goto(`http://localhost:${address.port}/?${q}`);
  await page.waitForFunction(() => (globalThis as unknown as { benchResult?: unknown }).benchResult !== undefined, undefined, { timeout: 30 * 60_000, polling: 500 });
  const result = (await page.evaluate(() => (globalThis as unknown as { benchResult: unknown }).benchResult)) as Record<string, unknown>;
  if ('error' in result) throw new Error(`the benchmark page failed: ${String(result.error)}${errors.length ? `\n${errors.join('\n')}` : ''}`);
  process.stdout.write(JSON.stringify(result) + '\n');
} finally {
  await browser.close();
  await new Promise<void>((resolve) => server.httpServer.close(() => resolve()));
}
