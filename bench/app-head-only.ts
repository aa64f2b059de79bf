/**
 * The app's *Quick: head only* preset on a whole dataset, as a user runs it: builds the app,
 * serves it cross-origin isolated on localhost, and in Debian's Chromium imports a folder in the
 * Intel layout, imports the pretrained SqueezeNet features, picks the preset (its own epochs,
 * batch size and flips) and times Start → "Training finished". Prints the time of each stage the
 * Train screen showed, the images/s it reported, the validation accuracy, and one JSON line.
 *
 *   npx tsx bench/app-head-only.ts [--data ../shared/datasets/intel-scenes/train] [--backend wasm] [--no-build]
 */
import { cpSync, mkdirSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { chromium } from '@playwright/test';
import { build, preview } from 'vite';

const ROOT = path.resolve(import.meta.dirname, '..');
const { values: v } = parseArgs({
  options: {
    data: { type: 'string', default: path.resolve(ROOT, '../shared/datasets/intel-scenes/train') },
    weights: { type: 'string', default: path.resolve(ROOT, '../shared/weights/squeezenet1_1-features-imagenet.pth') },
    backend: { type: 'string', default: 'wasm' },
    'no-build': { type: 'boolean' },
  },
});
/** The little of the page's DOM the sampler reads (this file compiles without DOM typings). */
interface PageNode {
  textContent: string | null;
  getAttribute(name: string): string | null;
  querySelector(selector: string): PageNode | null;
}
interface PageDom {
  document: PageNode;
}

const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';
const FLAGS = ['--no-sandbox', '--disable-background-networking', '--disable-component-update', '--disable-sync', '--no-first-run', '--disable-quic'];

// The import expects <root>/train/<class>/…: a temporary folder of copies (a file input sees real files).
const root = path.join(mkdtempSync(path.join(tmpdir(), 'scenelab-bench-')), 'intel-train');
for (const cls of readdirSync(v.data!)) {
  mkdirSync(path.join(root, 'train', cls), { recursive: true });
  cpSync(path.join(v.data!, cls), path.join(root, 'train', cls), { recursive: true });
}
const images = readdirSync(path.join(root, 'train')).reduce((n, c) => n + readdirSync(path.join(root, 'train', c)).length, 0);

if (!v['no-build']) await build({ configFile: path.join(ROOT, 'vite.config.ts'), logLevel: 'error' });
const server = await preview({ configFile: path.join(ROOT, 'vite.config.ts'), logLevel: 'error', preview: { port: 0, host: 'localhost' } });
const browser = await chromium.launch({ executablePath: CHROMIUM, args: FLAGS });
try {
  const address = server.httpServer.address();
  if (!address || typeof address === 'string') throw new Error('the preview server has no port');
  const page = await browser.newPage();
  page.setDefaultTimeout(30 * 60_000);
  const nav = (name: RegExp) => page.getByRole('navigation', { name: 'Screens' }).getByRole('link', { name });
  await page.goto(`http://localhost:${address.port}/?backend=${v.backend}#/datasets`);
  await page.getByTestId('backend').filter({ hasText: v.backend! }).waitFor();

  let t = performance.now();
  await page.getByTestId('folder-input').setInputFiles(root);
  await page.getByTestId('message').filter({ hasText: /Imported \d+ images/ }).waitFor();
  const importSeconds = (performance.now() - t) / 1000;

  await nav(/^weights$/i).click();
  await page.getByTestId('pth-input').setInputFiles(v.weights!);
  await page.getByTestId('weights-table').filter({ hasText: 'squeezenet1_1' }).waitFor();

  await nav(/^train$/i).click();
  await page.getByTestId('preset').selectOption('head');
  const recipe = {
    epochs: Number(await page.getByTestId('epochs').inputValue()),
    batchSize: Number(await page.getByTestId('batch-size').inputValue()),
  };
  t = performance.now();
  await page.getByTestId('start-training').click();
  // Sample the live panel: when each stage began, and the last images/s it showed per stage.
  const stages: Array<{ stage: string; at: number; imagesPerSecond: string }> = [];
  for (;;) {
    // Read without waiting: the banner is absent while a run is going.
    const message = await page.evaluate(() => (globalThis as unknown as PageDom).document.querySelector('[data-testid=message]')?.textContent ?? '');
    if (/Training finished/.test(message)) break;
    if (/fail|error/i.test(message)) throw new Error(`training failed: ${message}`);
    const sample = await page.evaluate(() => {
      const live = (globalThis as unknown as PageDom).document.querySelector('[data-testid=live]');
      return live ? { stage: live.querySelector('progress')?.getAttribute('aria-label') ?? '', stats: live.querySelector('.stats')?.textContent ?? '' } : null;
    });
    if (sample) {
      const ips = /([\d.]+) images\/s/.exec(sample.stats)?.[1] ?? '';
      const last = stages.at(-1);
      if (!last || last.stage !== sample.stage) stages.push({ stage: sample.stage, at: (performance.now() - t) / 1000, imagesPerSecond: ips });
      else if (ips) last.imagesPerSecond = ips;
    }
    await page.waitForTimeout(250);
  }
  const trainSeconds = (performance.now() - t) / 1000;
  const accuracy = await page.getByTestId('runs').locator('tbody tr').first().textContent();
  console.log(`${images} images imported in ${importSeconds.toFixed(1)} s; head-only preset (${recipe.epochs} epochs, batch ${recipe.batchSize}) on ${v.backend}: ${trainSeconds.toFixed(1)} s from Start to "Training finished"`);
  for (const s of stages) console.log(`  from ${s.at.toFixed(1).padStart(6)} s  ${s.stage}${s.imagesPerSecond ? `  (${s.imagesPerSecond} images/s)` : ''}`);
  console.log(`  newest run: ${accuracy?.replace(/\s+/g, ' ').trim()}`);
  process.stdout.write(JSON.stringify({ images, backend: v.backend, ...recipe, importSeconds, trainSeconds, stages }) + '\n');
} finally {
  await browser.close();
  await new Promise<void>((resolve) => server.httpServer.close(() => resolve()));
  rmSync(path.dirname(root), { recursive: true, force: true });
}
