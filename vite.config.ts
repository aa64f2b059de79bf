import { copyFileSync, mkdirSync, readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { svelte } from '@sveltejs/vite-plugin-svelte';
import { defineConfig, type Plugin } from 'vite';
import { VitePWA } from 'vite-plugin-pwa';

const here = path.dirname(fileURLToPath(import.meta.url));
const WASM_DIR = path.join(here, 'node_modules/@tensorflow/tfjs-backend-wasm/dist');

/**
 * Cross-origin isolation (SharedArrayBuffer, so tfjs-wasm can use threads). dist/web is served
 * by server/ with the same two headers; the dev and preview servers here need them too.
 */
export const ISOLATION_HEADERS = {
  'Cross-Origin-Opener-Policy': 'same-origin',
  'Cross-Origin-Embedder-Policy': 'require-corp',
};

/**
 * The tfjs-wasm binaries are served by the app itself, never from a CDN: dev serves them from
 * node_modules under /tfjs-wasm/, the build copies them there, and the service worker precaches them.
 */
export function tfjsWasmFiles(): Plugin {
  let outDir = '';
  return {
    name: 'scenelab:tfjs-wasm',
    configResolved(config) {
      outDir = path.resolve(config.root, config.build.outDir);
    },
    configureServer(server) {
      server.middlewares.use('/tfjs-wasm/', (req, res, next) => {
        const name = (req.url ?? '').replace(/^\/+/, '').split('?')[0] ?? '';
        if (!/^[\w.-]+\.wasm$/.test(name)) return next();
        res.setHeader('Content-Type', 'application/wasm');
        res.end(readFileSync(path.join(WASM_DIR, name)));
      });
    },
    writeBundle() {
      const dest = path.join(outDir, 'tfjs-wasm');
      mkdirSync(dest, { recursive: true });
      for (const f of readdirSync(WASM_DIR)) if (f.endsWith('.wasm')) copyFileSync(path.join(WASM_DIR, f), path.join(dest, f));
    },
  };
}

export default defineConfig({
  root: 'web',
  base: './',
  publicDir: 'public',
  build: {
    outDir: '../dist/web',
    emptyOutDir: true,
    target: 'es2022',
    chunkSizeWarningLimit: 4096,
    // tfjs-backend-wasm starts its pthread workers from `wasmFactoryThreadedSimd.toString()`:
    // minified, that source refers to renamed outer variables and every thread dies with
    // "e is not defined", silently leaving WASM single-threaded. Unminified it works (gzip
    // still shrinks the bundles ~4x, and the service worker serves them from cache).
    minify: false,
  },
  worker: { format: 'es' },
  server: { headers: ISOLATION_HEADERS },
  preview: { headers: ISOLATION_HEADERS },
  plugins: [
    svelte(),
    tfjsWasmFiles(),
    VitePWA({
      // The page decides when a new version takes over (never during a training run).
      registerType: 'prompt',
      injectRegister: false,
      strategies: 'generateSW',
      includeAssets: ['icons/*.png', 'icons/*.svg'],
      manifest: {
        name: 'SceneLab',
        short_name: 'SceneLab',
        description: 'Train, evaluate and run an image classifier on your own device, offline.',
        display: 'standalone',
        start_url: './',
        scope: './',
        theme_color: '#1f4e79',
        background_color: '#ffffff',
        icons: [
          { src: 'icons/icon-192.png', sizes: '192x192', type: 'image/png' },
          { src: 'icons/icon-512.png', sizes: '512x512', type: 'image/png' },
          { src: 'icons/icon-512-maskable.png', sizes: '512x512', type: 'image/png', purpose: 'maskable' },
        ],
      },
      workbox: {
        globPatterns: ['**/*.{js,css,html,svg,png,webmanifest,wasm}'],
        // The threaded-SIMD tfjs binary is the largest file of the app shell.
        maximumFileSizeToCacheInBytes: 32 * 1024 * 1024,
        navigateFallback: 'index.html',
        navigateFallbackDenylist: [/^\/api\//],
        cleanupOutdatedCaches: true,
      },
    }),
  ],
});
