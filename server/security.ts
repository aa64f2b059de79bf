import { createHash, timingSafeEqual } from 'node:crypto';
import type { FastifyReply, FastifyRequest } from 'fastify';
import { HttpError } from './errors';

const digest = (s: string): Buffer => createHash('sha256').update(s, 'utf8').digest();

/** Whether a path is an API route (token and origin checks apply). */
export const isApiPath = (url: string | undefined): boolean => (url ?? '').startsWith('/api/');

/**
 * Requires `Authorization: Bearer <token>` on `/api/` routes when a token is configured.
 * Both sides are hashed first, so the comparison is constant-time whatever their lengths.
 */
export function bearerTokenHook(token: string | undefined) {
  const expected = token === undefined ? undefined : digest(token);
  return async (req: FastifyRequest): Promise<void> => {
    if (!expected || !isApiPath(req.raw.url) || req.method === 'OPTIONS') return;
    const header = req.headers.authorization;
    const m = header === undefined ? null : /^Bearer\s+(\S+)\s*$/i.exec(header);
    if (!m) throw new HttpError(401, 'unauthorized', 'this server requires Authorization: Bearer <SCENELAB_TOKEN>', { 'www-authenticate': 'Bearer' });
    if (!timingSafeEqual(digest(m[1]!), expected)) throw new HttpError(401, 'unauthorized', 'the bearer token is not valid', { 'www-authenticate': 'Bearer error="invalid_token"' });
  };
}

/** Whether a browser origin may call the API: same host as the request, or on the allow-list. */
export function originAllowed(origin: string, host: string | undefined, allowList: readonly string[]): boolean {
  if (allowList.includes(origin)) return true;
  try {
    return host !== undefined && new URL(origin).host === host;
  } catch {
    return false;
  }
}

/**
 * Refuses API calls made by pages of other origins that are not on the allow-list. CORS
 * already keeps such pages from reading answers; this also keeps them from causing effects.
 */
export function originHook(allowList: readonly string[]) {
  return async (req: FastifyRequest): Promise<void> => {
    const origin = req.headers.origin;
    if (origin === undefined || !isApiPath(req.raw.url) || req.method === 'OPTIONS') return;
    if (!originAllowed(origin, req.headers.host, allowList)) {
      throw new HttpError(403, 'origin_not_allowed', `origin ${origin} is not allowed: add it to SCENELAB_CORS_ORIGINS`);
    }
  };
}

/**
 * Headers on every response. COOP + COEP give the app cross-origin isolation, which
 * `SharedArrayBuffer` (tfjs wasm threads) needs; `no-referrer` keeps signed URLs out of
 * Referer headers; `nosniff` keeps browsers from reinterpreting stored objects.
 */
export async function securityHeaders(_req: FastifyRequest, reply: FastifyReply): Promise<void> {
  reply.header('cross-origin-opener-policy', 'same-origin');
  reply.header('cross-origin-embedder-policy', 'require-corp');
  reply.header('x-content-type-options', 'nosniff');
  reply.header('referrer-policy', 'no-referrer');
}
