import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { expect, test } from '@playwright/test';
import { CLASSES, go, heldOutImage, importFolder, makeSubset, openApp, PTH, requireSharedData } from './fixtures';

requireSharedData();

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');

/** A head-only model trained by the CLI on the subset, as a bundle to import (training in the page is another spec's). */
function trainedBundle(folder: string): string {
  const run = path.join(folder, '..', 'run');
  const bundle = path.join(folder, '..', 'model.zip');
  for (const args of [
    ['train', '--data', path.join(folder, 'train'), '--arch', 'squeezenet1_1', '--weights', PTH, '--freeze', '--epochs', '2', '--batch-size', '8', '--out', run],
    ['export', '--model', run, '--bundle', bundle],
  ]) {
    const r = spawnSync(process.execPath, [path.join(ROOT, 'bin/scenelab.js'), ...args], { cwd: ROOT, encoding: 'utf8' });
    if (r.status !== 0) throw new Error(`scenelab ${args[0]}: ${r.stderr}`);
  }
  return bundle;
}

test('export a model quantized to uint8, with accuracy before and after, and classify with the new model', async ({ page }) => {
  const folder = makeSubset(4, 3);
  const bundle = trainedBundle(folder);
  await openApp(page);
  await importFolder(page, folder);
  await go(page, 'models');
  await page.getByTestId('bundle-input').setInputFiles({ name: 'scenes.zip', mimeType: 'application/zip', buffer: readFileSync(bundle) });
  const card = page.getByTestId('model-card').filter({ has: page.getByRole('heading', { name: 'scenes', exact: true }) });
  await expect(card).toHaveCount(1);

  await card.getByTestId('export-details').locator('summary').click();
  await card.getByTestId('quantize').selectOption('uint8');
  await card.getByTestId('export-dataset').selectOption({ index: 1 });
  await card.getByTestId('export-split').selectOption('test');
  const download = page.waitForEvent('download');
  await card.getByTestId('export-run').click();
  expect((await download).suggestedFilename()).toBe('scenes_uint8.zip');
  const before = card.getByTestId('export-before');
  const after = card.getByTestId('export-after');
  await expect(after).toContainText('of 18', { timeout: 120_000 });
  await expect(before).toContainText('of 18');
  // The bundle's size in the table: uint8 weights take about a quarter of float32's.
  const kib = async (row: typeof before): Promise<number> => {
    const text = (await row.locator('td').first().textContent()) ?? '';
    const m = /([\d.]+)\s*(KB|MB|KiB|MiB)/.exec(text);
    if (!m) throw new Error(`no size in "${text}"`);
    return Number(m[1]) * (m[2]!.startsWith('M') ? 1024 : 1);
  };
  expect(await kib(after)).toBeLessThan(0.35 * (await kib(before)));

  const compressed = page.getByTestId('model-card').filter({ has: page.getByRole('heading', { name: 'scenes (uint8)', exact: true }) });
  await expect(compressed).toContainText('test accuracy');
  // Switch Classify to the original and back to the compressed model, as a user choosing between them.
  await card.getByRole('button', { name: 'Use for Classify' }).click();
  await expect(card).toContainText('● active');
  await compressed.getByRole('button', { name: 'Use for Classify' }).click();
  await expect(compressed).toContainText('● active');
  await go(page, 'classify');
  await expect(page.getByTestId('active-model')).toContainText('scenes (uint8)');
  await page.getByTestId('classify-input').setInputFiles(heldOutImage('forest', 3));
  await expect(page.getByTestId('top1')).toHaveText(new RegExp(`^(${CLASSES.join('|')})$`), { timeout: 60_000 });
});
