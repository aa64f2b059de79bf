/**
 * Builds the Chromium benchmark page the way the app is built (wasm binaries served by the page
 * itself, ES-module workers, unminified so tfjs-wasm's pthreads start), and previews it with the
 * cross-origin isolation headers that give wasm its threads.
 */
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { defineConfig } from 'vite';
import { ISOLATION_HEADERS, tfjsWasmFiles } from '../../vite.config';

const here = path.dirname(fileURLToPath(import.meta.url));

export default defineConfig({
  root: here,
  base: './',
  publicDir: false,
  build: { outDir: path.join(here, '../../dist/bench-browser'), emptyOutDir: true, target: 'es2022', minify: false, chunkSizeWarningLimit: 8192 },
  worker: { format: 'es' },
  server: { headers: ISOLATION_HEADERS },
  preview: { headers: ISOLATION_HEADERS },
  plugins: [tfjsWasmFiles()],
});
