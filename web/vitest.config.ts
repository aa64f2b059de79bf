import { svelte } from '@sveltejs/vite-plugin-svelte';
import { fileURLToPath } from 'node:url';
import { defineConfig } from 'vitest/config';

/**
 * Component and rune-state specs (`web/src/**\/*.spec.ts`): compiled by the Svelte plugin and
 * mounted in happy-dom. The root vitest.config.ts runs the plain-TS tests (`*.test.ts`).
 */
export default defineConfig({
  root: fileURLToPath(new URL('..', import.meta.url)),
  plugins: [svelte({ configFile: false })],
  resolve: {
    conditions: ['browser'],
    alias: { 'virtual:pwa-register': fileURLToPath(new URL('src/test/pwa-register-stub.ts', import.meta.url)) },
  },
  test: {
    include: ['web/src/**/*.spec.ts'],
    environment: 'happy-dom',
  },
});
