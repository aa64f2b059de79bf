// Lint for what the type checker cannot see: promises nobody awaits or catches, and promises
// passed where a plain callback is expected (an event handler that throws asynchronously) —
// in TypeScript files and in the Svelte components' scripts and templates alike.
import svelte from 'eslint-plugin-svelte';
import svelteParser from 'svelte-eslint-parser';
import tseslint from 'typescript-eslint';

const rules = {
  '@typescript-eslint/no-floating-promises': 'error',
  '@typescript-eslint/no-misused-promises': 'error',
};

export default tseslint.config(
  { ignores: ['dist/**', 'node_modules/**', 'test-results/**', 'playwright-report/**', '**/*.mjs', '**/*.js', 'scratch/**', 'model/kernels/simd/assembly/**', 'web/vitest.config.ts'] },
  {
    files: ['**/*.ts'],
    extends: [tseslint.configs.base],
    languageOptions: {
      parserOptions: {
        // One tsconfig per runtime (Node, the DOM-free model core, the page, the worker, the web tests).
        project: ['tsconfig.json', 'model/tsconfig.json', 'web/tsconfig.json', 'web/tsconfig.worker.json', 'web/tsconfig.node.json', 'test/integration/tsconfig.json', 'bench/browser/tsconfig.json'],
        tsconfigRootDir: import.meta.dirname,
      },
    },
    rules,
  },
  {
    files: ['web/**/*.svelte'],
    extends: [tseslint.configs.base, ...svelte.configs['flat/base']],
    languageOptions: {
      parser: svelteParser,
      parserOptions: {
        parser: tseslint.parser,
        project: ['web/tsconfig.json'],
        tsconfigRootDir: import.meta.dirname,
        extraFileExtensions: ['.svelte'],
      },
    },
    rules,
  },
);
