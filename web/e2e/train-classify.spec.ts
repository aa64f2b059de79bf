import { readFileSync } from 'node:fs';
import path from 'node:path';
import { expect, test } from '@playwright/test';
import { expectRunOnAllCores, heldOutImage, importFolder, importWeights, makeSubset, openApp, go, requireSharedData, startHeadOnlyRun } from './fixtures';

requireSharedData();

test('import a labelled folder and a .pth, train head-only, evaluate, classify a held-out image', async ({ page }) => {
  const folder = makeSubset(10, 4);
  await openApp(page);

  await importFolder(page, folder);
  await expect(page.getByTestId('dataset-summary')).toContainText('84 images · 6 classes');
  await expect(page.getByTestId('counts')).toContainText('forest');

  await importWeights(page);

  await startHeadOnlyRun(page, 3);
  await expect(page.getByTestId('live')).toBeVisible();
  await expect(page.getByTestId('message')).toContainText('Training finished', { timeout: 240_000 });
  // The backbone features were computed by the engine and its replica workers together.
  await expectRunOnAllCores(page);

  await go(page, 'evaluate');
  await page.getByTestId('evaluate').click();
  const acc = page.getByTestId('test-accuracy');
  await expect(acc).toBeVisible({ timeout: 120_000 });
  // 6 classes, 24 test images: chance is 17%; pretrained features give far more even from 10 images a class.
  expect(Number((await acc.textContent())!.replace('%', ''))).toBeGreaterThan(40);
  await page.locator('table.confusion button.cell').first().click();
  await expect(page.getByTestId('cell-images').locator('img').first()).toBeVisible();

  await go(page, 'classify');
  await page.getByTestId('classify-input').setInputFiles(heldOutImage('forest', 4));
  await expect(page.getByTestId('top1')).toHaveText('forest', { timeout: 60_000 });
  await expect(page.getByTestId('latency')).toContainText('wasm');

  await test.step('paste an image', async () => {
    const bytes = Array.from(readFileSync(heldOutImage('sea', 4)));
    await page.evaluate((b) => {
      const dt = new DataTransfer();
      dt.items.add(new File([new Uint8Array(b)], 'pasted.jpg', { type: 'image/jpeg' }));
      window.dispatchEvent(new ClipboardEvent('paste', { clipboardData: dt }));
    }, bytes);
    await expect(page.getByTestId('classify-result').getByRole('img', { name: 'pasted.jpg' })).toBeVisible();
  });

  await test.step('camera capture (Chromium fake camera)', async () => {
    await page.getByRole('button', { name: 'Camera' }).click();
    await page.getByRole('button', { name: 'Capture' }).click();
    await expect(page.getByTestId('classify-result').getByRole('img', { name: 'camera frame' })).toBeVisible();
    await page.getByRole('button', { name: 'Stop camera' }).click();
  });

  await test.step('classify a folder into a table and download it as CSV', async () => {
    await page.getByTestId('classify-folder').setInputFiles(path.join(folder, 'test'));
    await expect(page.getByTestId('classify-table').locator('tbody tr')).toHaveCount(24);
    const download = page.waitForEvent('download');
    await page.getByTestId('csv').click();
    const csv = readFileSync(await (await download).path(), 'utf8').trim().split(/\r?\n/);
    expect(csv[0]).toBe('file,label,probability,top3,error');
    expect(csv).toHaveLength(25);
    // Listed by file name (natural order), and sortable by class and by probability.
    const column = async (n: number): Promise<string[]> => page.getByTestId('classify-table').locator(`tbody tr td:nth-child(${n})`).allTextContents();
    const names = await column(1);
    expect(names).toEqual([...names].sort(new Intl.Collator(undefined, { numeric: true, sensitivity: 'base' }).compare));
    await page.getByTestId('sort-class').click();
    const classes = await column(2);
    expect(classes).toEqual([...classes].sort(new Intl.Collator(undefined, { numeric: true, sensitivity: 'base' }).compare));
    await page.getByTestId('sort-probability').click();
    const probabilities = (await column(3)).map((t) => Number(t.replace('%', '')));
    expect(probabilities).toEqual([...probabilities].sort((a, b) => b - a));
  });

  await test.step('on a 360 px phone the runs table shows every column of every run', async () => {
    await page.setViewportSize({ width: 360, height: 740 });
    await go(page, 'train');
    const cells = page.getByTestId('runs').locator('tbody td');
    expect(await cells.count()).toBeGreaterThanOrEqual(7);
    for (const cell of await cells.all()) {
      const box = await cell.boundingBox();
      expect(box && box.x >= 0 && box.x + box.width <= 360, `cell at ${JSON.stringify(box)}`).toBe(true);
    }
    await page.setViewportSize({ width: 1280, height: 800 });
  });

  await test.step('export the model as a bundle and import it back', async () => {
    await go(page, 'models');
    const download = page.waitForEvent('download');
    await page.getByTestId('model-card').first().getByRole('button', { name: 'Export bundle' }).click();
    const file = await (await download).path();
    await page.getByTestId('bundle-input').setInputFiles({ name: 'exported.zip', mimeType: 'application/zip', buffer: readFileSync(file) });
    await expect(page.getByTestId('model-card')).toHaveCount(2);
    await expect(page.getByTestId('model-card').filter({ hasText: 'exported' })).toContainText('validation accuracy');
  });
});
