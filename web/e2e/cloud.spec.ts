import { expect, test } from '@playwright/test';
import { go, heldOutImage, importFolder, importWeights, makeSubset, openApp, requireSharedData, startHeadOnlyRun } from './fixtures';

requireSharedData();
// Playwright's routing does not see requests a service worker handles.
test.use({ serviceWorkers: 'block' });

test('the cloud fallback asks POST /api/predict when the device is unsure, and says so when the server is down', async ({ page }) => {
  const bodies: unknown[] = [];
  let up = true;
  await page.route('**/api/predict', async (route) => {
    bodies.push(route.request().postDataJSON());
    if (!up) return route.fulfill({ status: 503, contentType: 'application/json', body: JSON.stringify({ code: 'vertex_unavailable', message: 'Vertex AI is not answering' }) });
    return route.fulfill({
      contentType: 'application/json',
      body: JSON.stringify({ predictions: [{ label: 'glacier', probabilities: { glacier: 0.9, sea: 0.1 } }], source: 'vertex', model: { id: 'endpoint-1' } }),
    });
  });
  await openApp(page);
  await importFolder(page, makeSubset(4, 1));
  await importWeights(page);
  await startHeadOnlyRun(page, 1);
  await expect(page.getByTestId('message')).toContainText('Training finished', { timeout: 120_000 });

  await go(page, 'classify');
  await page.getByText('Cloud fallback').click();
  await page.getByLabel(/Ask the server/).check();
  // A threshold above any answer: every image goes to the cloud too.
  await page.getByLabel(/Below confidence/).fill('0.99');
  await page.getByLabel(/Below confidence/).dispatchEvent('change');
  await page.getByTestId('classify-input').setInputFiles(heldOutImage('glacier', 1));
  await expect(page.getByTestId('cloud-answer')).toContainText('Cloud (Vertex AI): glacier 90.0%');
  await expect(page.getByTestId('top1')).toBeVisible();
  expect(bodies[0]).toMatchObject({ instances: [{ data: { b64: expect.stringMatching(/^\/9j\//) } }] });

  up = false;
  await page.getByTestId('classify-input').setInputFiles(heldOutImage('sea', 1));
  await expect(page.getByTestId('classify-result')).toContainText('Cloud: Vertex AI is not answering');
  await expect(page.getByTestId('top1')).toBeVisible();
});
