import { defineConfig } from '@playwright/test';

/** Debian's Chromium: Playwright never downloads a browser here. */
const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';
const BASE_FLAGS = ['--no-sandbox', '--disable-background-networking', '--disable-component-update', '--disable-sync', '--no-first-run', '--disable-quic'];
const PORT = Number(process.env.E2E_PORT ?? 4173);
/** E2E_BASE_URL runs the suite against an app already served elsewhere (e.g. `npm start`, server/), not vite preview. */
const EXTERNAL = process.env.E2E_BASE_URL;

export default defineConfig({
  testDir: 'web/e2e',
  forbidOnly: !!process.env.CI,
  retries: 0,
  // Two cores: tests train models; one at a time keeps their timings honest.
  workers: 1,
  timeout: 5 * 60_000,
  expect: { timeout: 30_000 },
  reporter: process.env.CI ? [['list'], ['junit', { outputFile: 'test-results/e2e-junit.xml' }]] : 'list',
  use: {
    baseURL: EXTERNAL ?? `http://localhost:${PORT}/`,
    trace: 'retain-on-failure',
    serviceWorkers: 'allow',
  },
  projects: [
    {
      name: 'chromium',
      testIgnore: /webgpu\.spec\.ts/,
      // A fake camera (a test pattern) for the Classify screen's capture.
      use: { launchOptions: { executablePath: CHROMIUM, args: [...BASE_FLAGS, '--use-fake-ui-for-media-stream', '--use-fake-device-for-media-stream'] } },
    },
    {
      // Chromium's software adapter (SwiftShader) is exposed on localhost with this flag alone.
      name: 'webgpu',
      testMatch: /webgpu\.spec\.ts/,
      use: { launchOptions: { executablePath: CHROMIUM, args: [...BASE_FLAGS, '--enable-unsafe-webgpu', '--enable-features=Vulkan', '--use-angle=swiftshader'] } },
    },
  ],
  // The built app, served the way users get it (COOP/COEP headers from vite.config.ts's preview).
  webServer: EXTERNAL ? undefined : {
    command: `npx vite build && npx vite preview --port ${PORT} --strictPort`,
    url: `http://localhost:${PORT}/`,
    reuseExistingServer: !process.env.CI,
    timeout: 180_000,
    stdout: 'ignore',
  },
});
