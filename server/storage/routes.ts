import type { FastifyInstance } from 'fastify';
import type { ServerConfig } from '../config';
import { HttpError } from '../errors';
import type { ServerMetrics } from '../metrics';
import { checkListPrefix, checkObjectName, checkReadableName, checkWritableName, checkWrite } from './object-names';
import type { ObjectStore } from './types';

/** `POST /api/storage/signed-url` body. */
interface SignedUrlBody {
  op: 'read' | 'write';
  object: string;
  contentType?: string;
  size?: number;
}

const signedUrlSchema = {
  type: 'object',
  required: ['op', 'object'],
  additionalProperties: false,
  properties: {
    op: { type: 'string', enum: ['read', 'write'] },
    object: { type: 'string', minLength: 1, maxLength: 4096 },
    contentType: { type: 'string', minLength: 1, maxLength: 255 },
    size: { type: 'integer', minimum: 1, maximum: 1099511627776 },
  },
} as const;

interface ListQuery {
  prefix?: string;
  pageToken?: string;
  maxResults?: string;
  signed?: string;
}

const listSchema = {
  type: 'object',
  additionalProperties: false,
  properties: {
    prefix: { type: 'string', maxLength: 1024 },
    pageToken: { type: 'string', minLength: 1, maxLength: 2048 },
    maxResults: { type: 'string', pattern: '^[0-9]{1,4}$' },
    signed: { type: 'string', enum: ['true', 'false', '1', '0'] },
  },
} as const;

const verifySchema = {
  type: 'object',
  required: ['object'],
  additionalProperties: false,
  properties: { object: { type: 'string', minLength: 1, maxLength: 4096 } },
} as const;

/** Most objects one listing page returns. */
export const MAX_LIST_RESULTS = 1000;

/**
 * The storage broker: signs URLs for objects whose names the server checked, lists readable
 * prefixes, and verifies uploads. The bytes never pass through these routes.
 */
export async function storageRoutes(app: FastifyInstance, opts: { config: ServerConfig; store: ObjectStore; metrics: ServerMetrics }): Promise<void> {
  const { config, store, metrics } = opts;
  const signLimit = { rateLimit: { max: config.rateLimits.sign, timeWindow: 60_000 } };

  /**
   * The embedded bucket signs URLs on the address the server listens on (127.0.0.1). A page
   * opened as http://localhost:PORT would then PUT cross-origin, which the browser refuses
   * under COEP/CORS; so when the request named this server by another loopback name on the
   * same port, the URL keeps that name. The signature does not cover the host; any other
   * Host header (or a configured SCENELAB_PUBLIC_URL) leaves the URL as signed.
   */
  const asRequested = (url: string, host: string | undefined): string => {
    if (config.publicUrl || store.kind !== 'local' || !host) return url;
    const m = /^(localhost|127\.0\.0\.1|\[::1\]):(\d{1,5})$/i.exec(host);
    const signedOrigin = /^http:\/\/[^/]+/.exec(url)?.[0];
    if (!m || !signedOrigin || !signedOrigin.endsWith(`:${m[2]}`)) return url;
    return `http://${host.toLowerCase()}${url.slice(signedOrigin.length)}`;
  };

  app.post<{ Body: SignedUrlBody }>('/api/storage/signed-url', { schema: { body: signedUrlSchema }, config: signLimit }, async (req) => {
    const { op, object } = req.body;
    if (op === 'read') {
      if (req.body.contentType !== undefined || req.body.size !== undefined) {
        throw new HttpError(400, 'unexpected_field', 'contentType and size apply to op "write" only');
      }
      checkReadableName(object, config.readPrefixes);
      const signed = await store.signRead(object);
      metrics.signedUrls.inc({ op, store: store.kind });
      return { ...signed, url: asRequested(signed.url, req.headers.host) };
    }
    checkWritableName(object);
    const { contentType, size } = checkWrite(object, req.body.contentType, req.body.size, config.limits);
    const signed = await store.signWrite(object, contentType, size);
    metrics.signedUrls.inc({ op, store: store.kind });
    return { ...signed, url: asRequested(signed.url, req.headers.host) };
  });

  app.get<{ Querystring: ListQuery }>('/api/storage/list', { schema: { querystring: listSchema }, config: signLimit }, async (req) => {
    const prefix = checkListPrefix(req.query.prefix ?? '', config.readPrefixes);
    const maxResults = req.query.maxResults === undefined ? MAX_LIST_RESULTS : Number(req.query.maxResults);
    if (maxResults < 1 || maxResults > MAX_LIST_RESULTS) throw new HttpError(400, 'invalid_query', `maxResults must be from 1 to ${MAX_LIST_RESULTS}`);
    const page = await store.list(prefix, { maxResults, ...(req.query.pageToken ? { pageToken: req.query.pageToken } : {}) });
    if (req.query.signed === 'true' || req.query.signed === '1') {
      // One call signs a whole page, so importing a 14,000-image dataset takes 14 requests, not 14,000.
      for (const o of page.objects) {
        checkObjectName(o.name);
        o.url = asRequested((await store.signRead(o.name)).url, req.headers.host);
      }
      metrics.signedUrls.inc({ op: 'read', store: store.kind }, page.objects.length);
    }
    return { prefix, ...page };
  });

  app.post<{ Body: { object: string } }>('/api/storage/verify', { schema: { body: verifySchema }, config: signLimit }, async (req) => {
    // Uploads only happen under the writable prefixes; nothing else is checked (or deleted).
    const object = checkWritableName(req.body.object);
    return { verified: true, ...(await store.verify(object)) };
  });
}
