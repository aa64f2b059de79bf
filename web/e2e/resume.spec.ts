import { expect, test } from '@playwright/test';
import { expectRunOnAllCores, go, importFolder, importWeights, makeSubset, openApp, requireSharedData } from './fixtures';

requireSharedData();

test('a reload in the middle of training resumes from the last checkpoint and finishes', async ({ page }) => {
  const folder = makeSubset(6, 1);
  await openApp(page);
  await importFolder(page, folder);
  await importWeights(page);

  // Whole-network fine-tuning: epochs long enough (seconds) to reload between two of them.
  await go(page, 'train');
  await page.getByTestId('preset').selectOption('finetune');
  await page.getByTestId('epochs').fill('4');
  await page.getByTestId('batch-size').fill('12');
  await page.getByTestId('start-training').click();
  await expect(page.getByTestId('live')).toContainText('checkpoint saved after epoch 1', { timeout: 180_000 });

  await page.reload();
  await go(page, 'train');
  const card = page.getByTestId('resume-card');
  await expect(card).toContainText(/[1-3] of 4 epochs saved/, { timeout: 30_000 });
  const saved = Number(/(\d) of 4 epochs saved/.exec((await card.textContent()) ?? '')?.[1]);
  await card.getByTestId('resume').first().click();
  await expect(page.getByTestId('live')).toContainText(`Resumed from the checkpoint of epoch ${saved}`);
  await expect(page.getByTestId('message')).toContainText('Training finished', { timeout: 240_000 });
  await expect(page.getByTestId('runs')).toContainText('4/4');
  await expect(page.getByTestId('runs')).toContainText('finished');
  // Every batch was split across the engine and its replica workers, before the reload and after.
  await expectRunOnAllCores(page);
});
