import { existsSync } from 'node:fs';
import path from 'node:path';
import fastifyStatic from '@fastify/static';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';

/** Files that must be revalidated on every load: a stale one would pin users to an old build. */
const ALWAYS_REVALIDATE = new Set(['index.html', 'sw.js', 'service-worker.js', 'registerSW.js', 'manifest.webmanifest']);
/**
 * Content-hashed output, safe to cache forever: everything Vite emits under `assets/`, and
 * Workbox's runtime (`workbox-5f3a9c1d.js`). Files copied under their own names (the tfjs
 * `.wasm` binaries, icons) are revalidated instead: a new tfjs would otherwise hide behind an
 * old immutable copy.
 */
const HASHED = /^assets\/|(?:^|\/)workbox-[0-9a-f]{8}\.js$/;

/** The `Cache-Control` value for a file of the built app, by its path relative to the build folder. */
export function cacheControlFor(relative: string): string {
  const name = relative.split('/').pop() ?? '';
  if (ALWAYS_REVALIDATE.has(name)) return 'no-cache';
  if (HASHED.test(relative)) return 'public, max-age=31536000, immutable';
  return 'no-cache';
}

const notBuiltPage = (webDir: string): string => `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>SceneLab: app not built</title>
<style>body{font:16px/1.5 system-ui,sans-serif;max-width:40rem;margin:4rem auto;padding:0 1rem}code{background:#eee;padding:0 .3em}</style></head>
<body><h1>The SceneLab app is not built yet</h1>
<p>The server is running (the API answers under <code>/api/</code>), but <code>${webDir.replace(/[<>&"]/g, '')}</code> holds no build.</p>
<p>Run <code>npm run build</code>, then reload this page.</p></body></html>
`;

/**
 * Serves the built Svelte app from `webDir` (`dist/web`): hashed assets immutable, the
 * entry points `no-cache`, client-side routes falling back to `index.html`. Without a build,
 * every page answers 503 with a page that says how to make one; the build may appear while
 * the server runs.
 */
export async function webAppRoutes(app: FastifyInstance, opts: { webDir: string }): Promise<void> {
  const { webDir } = opts;
  const built = (): boolean => existsSync(path.join(webDir, 'index.html'));

  await app.register(fastifyStatic, {
    root: webDir,
    wildcard: true,
    index: ['index.html'],
    cacheControl: false,
    suppressWarning: true,
    setHeaders: (reply, file) => {
      reply.header('cache-control', cacheControlFor(path.relative(webDir, file).split(path.sep).join('/')));
    },
  });

  app.setNotFoundHandler(async (req: FastifyRequest, reply: FastifyReply) => {
    const urlPath = (req.raw.url ?? '/').split('?')[0]!;
    const isPage = (req.method === 'GET' || req.method === 'HEAD') && !urlPath.startsWith('/api/') && !urlPath.startsWith('/bucket/');
    if (isPage && !built()) {
      return reply.code(503).header('content-type', 'text/html; charset=utf-8').header('cache-control', 'no-store').header('retry-after', '30').send(notBuiltPage(webDir));
    }
    // A client-side route (/classify, /train…) gets the app shell; a missing asset stays a 404.
    if (isPage && !/\.[A-Za-z0-9]+$/.test(urlPath) && (req.headers.accept ?? '').includes('text/html')) {
      return reply.header('cache-control', 'no-cache').sendFile('index.html');
    }
    return reply.code(404).send({ statusCode: 404, error: 'Not Found', code: 'not_found', message: `no route for ${req.method} ${urlPath}` });
  });
}
