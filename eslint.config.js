// Lint for what the type checker cannot see: promises nobody awaits or catches, and promises
// passed where a plain callback is expected (an event handler that throws asynchronously).
import tseslint from 'typescript-eslint';

export default tseslint.config(
  { ignores: ['dist/**', 'node_modules/**', 'test-results/**', 'playwright-report/**', '**/*.svelte', '**/*.mjs', '**/*.js', 'scratch/**', 'web/vitest.config.ts'] },
  {
    files: ['**/*.ts'],
    extends: [tseslint.configs.base],
    languageOptions: {
      parserOptions: {
        // One tsconfig per runtime (Node, the DOM-free model core, the page, the worker, the web tests).
        project: ['tsconfig.json', 'model/tsconfig.json', 'web/tsconfig.json', 'web/tsconfig.worker.json', 'web/tsconfig.node.json', 'test/integration/tsconfig.json'],
        tsconfigRootDir: import.meta.dirname,
      },
    },
    rules: {
      '@typescript-eslint/no-floating-promises': 'error',
      '@typescript-eslint/no-misused-promises': 'error',
    },
  },
);
