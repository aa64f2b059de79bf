import { expect, test } from '@playwright/test';
import { PTH, openApp, requireSharedData } from './fixtures';

const SCREENS = ['datasets', 'weights', 'train', 'tune', 'evaluate', 'models', 'classify', 'settings'];

test('every screen fits a 360 px wide phone without sideways scrolling of the page', async ({ page }) => {
  await page.setViewportSize({ width: 360, height: 740 });
  await openApp(page);
  for (const s of SCREENS) {
    await page.goto(`./?backend=wasm#/${s}`);
    await expect(page.getByRole('navigation', { name: 'Screens' }).getByRole('link', { name: new RegExp(s, 'i') })).toHaveAttribute('aria-current', 'page');
    const overflow = await page.evaluate(() => document.documentElement.scrollWidth - document.documentElement.clientWidth);
    expect(overflow, `${s} overflows by ${overflow}px`).toBeLessThanOrEqual(0);
    // Every screen link is on screen (the nav wraps rather than hiding links off to the side).
    for (const link of await page.getByRole('navigation', { name: 'Screens' }).getByRole('link').all()) {
      const box = await link.boundingBox();
      expect(box && box.x >= 0 && box.x + box.width <= 360).toBe(true);
    }
  }
});

test('keyboard alone: move between screens and import weights through the file input', async ({ page }) => {
  requireSharedData();
  await openApp(page);
  const focusOn = async (match: (el: { tag: string; text: string; testid: string | null }) => boolean, max = 40): Promise<void> => {
    for (let i = 0; i < max; i++) {
      await page.keyboard.press('Tab');
      const el = await page.evaluate(() => {
        const a = document.activeElement as HTMLElement | null;
        return { tag: a?.tagName ?? '', text: a?.textContent?.trim() ?? '', testid: a?.getAttribute('data-testid') ?? null };
      });
      if (match(el)) return;
    }
    throw new Error('focus never reached the element');
  };
  await focusOn((el) => el.tag === 'A' && el.text === 'Weights');
  await page.keyboard.press('Enter');
  await expect(page).toHaveURL(/#\/weights$/);
  await focusOn((el) => el.testid === 'pth-input');
  const chooser = page.waitForEvent('filechooser');
  await page.keyboard.press('Space');
  await (await chooser).setFiles(PTH);
  await expect(page.getByTestId('weights-table')).toContainText('squeezenet1_1');
});

test('the backend chosen in Settings is used, shown, and kept across reloads', async ({ page }) => {
  await page.goto('./#/settings');
  await expect(page.getByTestId('backend-name')).toHaveText(/wasm|webgl|webgpu/, { timeout: 60_000 });
  await page.getByTestId('backend-select').selectOption('cpu');
  await expect(page.getByTestId('backend')).toHaveText('cpu');
  await page.reload();
  await expect(page.getByTestId('backend')).toHaveText('cpu', { timeout: 60_000 });
  await page.getByTestId('backend-select').selectOption('wasm');
  await expect(page.getByTestId('backend')).toContainText('wasm');
});
