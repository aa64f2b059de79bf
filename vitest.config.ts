import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['model/**/*.test.ts', 'node/**/*.test.ts', 'cli/**/*.test.ts', 'server/**/*.test.ts', 'cloud/**/*.test.ts', 'test/**/*.test.ts', 'web/src/**/*.test.ts'],
    exclude: ['node_modules/**', 'web/e2e/**'],
    testTimeout: 180_000,
    hookTimeout: 180_000,
    // Files share the 2 cores of a CI machine; tfjs wasm is single-threaded in Node.
    fileParallelism: true,
    maxWorkers: 2,
  },
});
