import { expect, test, type Page } from '@playwright/test';
import { go, importFolder, importWeights, makeSubset, openApp, requireSharedData } from './fixtures';

requireSharedData();

/** The value cells of the trials that are complete, by trial number. */
async function completeTrials(page: Page): Promise<Map<string, string>> {
  const rows = page.getByTestId('trials').locator('tbody tr[data-state="complete"]');
  const out = new Map<string, string>();
  for (const row of await rows.all()) {
    const number = ((await row.locator('td').nth(0).textContent()) ?? '').replace(/\s*\(again.*$/, '').trim();
    out.set(number, (await row.locator('td').nth(2).textContent()) ?? '');
  }
  return out;
}

test('a head-only search: trial table and charts, a reload mid-study continues without rerunning finished trials, the best trial becomes a model', async ({ page }) => {
  const folder = makeSubset(4, 1);
  await openApp(page);
  await importFolder(page, folder);
  await importWeights(page);

  await go(page, 'tune');
  await expect(page.getByTestId('study-weights')).not.toHaveValue('');
  await page.getByTestId('study-trials').fill('3');
  // Head-only trials after the first reuse its backbone features: twenty epochs keep each one
  // running long enough to reload in the middle of one.
  await page.getByTestId('epochs-low').fill('20');
  await page.getByTestId('epochs-high').fill('20');
  await page.getByTestId('start-study').click();
  await expect(page.getByTestId('study-status')).toHaveText('running');
  await expect(page.getByTestId('live-trial')).toBeVisible({ timeout: 60_000 });

  // One trial finished, the next one running: the tab goes away mid-study.
  // Watched in the page (every frame), so the reload comes while that trial runs.
  await page.waitForFunction(() => {
    const rows = document.querySelectorAll('[data-testid="trials"] tbody tr');
    const states = Array.from(rows, (r) => r.getAttribute('data-state'));
    return states.includes('complete') && states.includes('running');
  }, undefined, { timeout: 180_000, polling: 'raf' });
  const before = await completeTrials(page);
  await page.reload();
  await go(page, 'tune');
  await expect(page.getByTestId('study-status')).toContainText('interrupted', { timeout: 30_000 });
  const kept = await completeTrials(page);
  expect(kept.size).toBeGreaterThanOrEqual(before.size);
  for (const [n, v] of before) expect(kept.get(n)).toBe(v);

  await page.getByTestId('continue-study').click();
  await expect(page.getByTestId('message')).toContainText('Search finished', { timeout: 240_000 });
  await expect(page.getByTestId('study-status')).toHaveText('finished');
  const after = await completeTrials(page);
  expect(after.size).toBe(3);
  // Trials finished before the reload are the same trials with the same values; the cut-off one ran again.
  for (const [n, v] of kept) expect(after.get(n)).toBe(v);
  await expect(page.getByTestId('trials')).toContainText('interrupted (runs again)');
  await expect(page.getByTestId('trials')).toContainText(/\(again #\d\)/);

  // The views: history (a point per complete trial), per-epoch curves, importance bars.
  await expect(page.getByTestId('history-chart').locator('circle[data-state="complete"]')).toHaveCount(3);
  await expect(page.getByTestId('intermediate-chart').locator('g[data-state="complete"]')).toHaveCount(3);
  await expect(page.getByTestId('importance').locator('li')).not.toHaveCount(0);
  await expect(page.getByTestId('best-trial')).toContainText('learningRate');

  const bestNumber = /Trial #(\d+)/.exec((await page.getByTestId('best-trial').textContent()) ?? '')?.[1];
  expect(bestNumber).toBeDefined();
  await page.getByTestId('make-model').click();
  await expect(page.getByTestId('message')).toContainText(`best trial #${bestNumber}`, { timeout: 60_000 });
  await go(page, 'models');
  await expect(page.getByTestId('model-card').filter({ hasText: `best trial #${bestNumber}` })).toBeVisible();

  await test.step('on a 360 px phone the Tune screen fits: every trial cell and chart inside the screen', async () => {
    await page.setViewportSize({ width: 360, height: 740 });
    await go(page, 'tune');
    for (const cell of await page.getByTestId('trials').locator('tbody td').all()) {
      const box = await cell.boundingBox();
      expect(box && box.x >= 0 && box.x + box.width <= 360, `cell at ${JSON.stringify(box)}`).toBe(true);
    }
    for (const id of ['history-chart', 'intermediate-chart', 'importance']) {
      const box = await page.getByTestId(id).boundingBox();
      expect(box && box.x >= 0 && box.x + box.width <= 360, `${id} at ${JSON.stringify(box)}`).toBe(true);
    }
    expect(await page.evaluate(() => document.documentElement.scrollWidth)).toBeLessThanOrEqual(360);
  });

  await test.step('by keyboard: the best trial becomes a model from its button', async () => {
    await page.getByTestId('make-model').focus();
    await page.keyboard.press('Enter');
    await expect(page.getByTestId('message')).toContainText('is ready', { timeout: 60_000 });
  });
});
