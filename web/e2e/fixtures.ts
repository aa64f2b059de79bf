/**
 * Shared e2e helpers: small labelled subsets of ../shared/datasets/intel-scenes copied into
 * a temporary folder (so the file input sees a real folder), and page helpers.
 */
import { cpSync, existsSync, mkdirSync, mkdtempSync, readdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { expect, type Page } from '@playwright/test';

const here = path.dirname(fileURLToPath(import.meta.url));
export const SHARED = process.env.SCENELAB_SHARED ?? path.resolve(here, '../../../shared');
export const INTEL = path.join(SHARED, 'datasets/intel-scenes');
export const PTH = path.join(SHARED, 'weights/squeezenet1_1-features-imagenet.pth');
export const CLASSES = ['buildings', 'forest', 'glacier', 'mountain', 'sea', 'street'];

/** `<root>/intel-small/{train,test}/<class>/…`: the first `perClass` train and `testPerClass` test images of each class. */
export function makeSubset(perClass: number, testPerClass: number): string {
  const root = path.join(mkdtempSync(path.join(tmpdir(), 'scenelab-e2e-')), 'intel-small');
  for (const [split, n] of [['train', perClass], ['test', testPerClass]] as const) {
    for (const c of CLASSES) {
      const src = path.join(INTEL, split, c);
      const dst = path.join(root, split, c);
      mkdirSync(dst, { recursive: true });
      for (const f of readdirSync(src).sort().slice(0, n)) cpSync(path.join(src, f), path.join(dst, f));
    }
  }
  return root;
}

/** A test image of `cls` that is not in a subset made with `testPerClass` (the subset takes the first ones). */
export function heldOutImage(cls: string, testPerClass: number): string {
  const dir = path.join(INTEL, 'test', cls);
  const f = readdirSync(dir).sort()[testPerClass + 3];
  if (!f) throw new Error(`no held-out image for ${cls}`);
  return path.join(dir, f);
}

/** The suite runs on the shared data; without it every spec fails at once, saying why (never skipped). */
export function requireSharedData(): void {
  for (const p of [INTEL, PTH]) if (!existsSync(p)) throw new Error(`e2e tests need ${p} (the shared Intel scenes and pretrained weights beside the repository)`);
}

/** Opens the app on the WASM backend (the test machine has no GPU; WebGL on SwiftShader is slower than WASM). */
export async function openApp(page: Page, screen = 'datasets', backend = 'wasm'): Promise<void> {
  await page.goto(`./?backend=${backend}#/${screen}`);
  await expect(page.getByTestId('backend')).toContainText(backend, { timeout: 60_000 });
}

export async function go(page: Page, screen: string): Promise<void> {
  await page.getByRole('navigation', { name: 'Screens' }).getByRole('link', { name: new RegExp(`^${screen}$`, 'i') }).click();
}

export async function importFolder(page: Page, folder: string): Promise<void> {
  await go(page, 'datasets');
  await page.getByTestId('folder-input').setInputFiles(folder);
  await expect(page.getByTestId('message')).toContainText(/Imported \d+ images/, { timeout: 120_000 });
}

export async function importWeights(page: Page): Promise<void> {
  await go(page, 'weights');
  await page.getByTestId('pth-input').setInputFiles(PTH);
  await expect(page.getByTestId('weights-table')).toContainText('squeezenet1_1');
}

/** Starts a head-only run from the pretrained features. */
export async function startHeadOnlyRun(page: Page, epochs: number, batchSize = 16): Promise<void> {
  await go(page, 'train');
  await page.getByTestId('preset').selectOption('head');
  await expect(page.getByTestId('train-weights')).not.toHaveValue('');
  await page.getByTestId('epochs').fill(String(epochs));
  await page.getByTestId('batch-size').fill(String(batchSize));
  await page.getByTestId('start-training').click();
}

/**
 * What the runs table says a run trained on: wasm, and with the replica workers the app
 * starts beside the engine (one per core besides its own, at most 3) the threads in all.
 */
export async function expectRunOnAllCores(page: Page): Promise<void> {
  const cores = await page.evaluate(() => navigator.hardwareConcurrency);
  const threads = Math.min(3, cores - 1) + 1;
  const cell = page.getByTestId('runs').getByTestId('run-backend').first();
  if (threads > 1) await expect(cell).toHaveText(`wasm · ${threads} threads`);
  else await expect(cell).toHaveText('wasm');
}
