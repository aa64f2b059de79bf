import { expect, test } from '@playwright/test';
import { go, heldOutImage, importFolder, importWeights, makeSubset, openApp, requireSharedData, startHeadOnlyRun } from './fixtures';

requireSharedData();

test('after one online visit, import, train and classify work with the network off', async ({ page, context }) => {
  const folder = makeSubset(6, 2);
  await openApp(page);
  // The service worker has precached the app shell, the engine worker and the WASM binaries once it is active.
  await page.evaluate(async () => {
    await navigator.serviceWorker.ready;
  });

  await context.setOffline(true);
  await page.reload();
  await expect(page.getByTestId('backend')).toContainText('wasm', { timeout: 60_000 });
  expect(await page.evaluate(() => navigator.onLine)).toBe(false);
  expect(await page.evaluate(() => navigator.serviceWorker.controller !== null)).toBe(true);

  await importFolder(page, folder);
  await importWeights(page);
  await startHeadOnlyRun(page, 2);
  await expect(page.getByTestId('message')).toContainText('Training finished', { timeout: 240_000 });

  await go(page, 'classify');
  await page.getByTestId('classify-input').setInputFiles(heldOutImage('forest', 2));
  await expect(page.getByTestId('top1')).toBeVisible({ timeout: 60_000 });

  // A second offline reload keeps everything: the model is in IndexedDB, the app in the cache.
  await page.reload();
  await go(page, 'classify');
  await expect(page.getByTestId('active-model')).toBeVisible();
  await page.getByTestId('classify-input').setInputFiles(heldOutImage('forest', 2));
  await expect(page.getByTestId('top1')).toBeVisible({ timeout: 60_000 });
  await context.setOffline(false);
});
