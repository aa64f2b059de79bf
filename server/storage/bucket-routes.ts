import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { HttpError } from '../errors';
import type { ServerMetrics } from '../metrics';
import { BUCKET_ROUTE, type LocalBucket, type SignedQuery } from './local-bucket';

const querySchema = {
  type: 'object',
  properties: {
    expires: { type: 'string' },
    size: { type: 'string' },
    signature: { type: 'string' },
  },
} as const;

/** The object name of a `/bucket/…` request, decoded segment by segment from the raw URL. */
function objectOf(req: FastifyRequest): string {
  const rawPath = (req.raw.url ?? '').split('?')[0]!;
  try {
    return rawPath.slice(BUCKET_ROUTE.length).split('/').map(decodeURIComponent).join('/');
  } catch {
    throw new HttpError(400, 'invalid_object_name', 'object name in the URL is not valid percent-encoding');
  }
}

/**
 * Routes of the embedded bucket: signed `PUT` (upload) and `GET` (download). They sit outside
 * `/api/` because the signature is the credential, as with Cloud Storage signed URLs.
 */
export async function bucketRoutes(app: FastifyInstance, opts: { bucket: LocalBucket; metrics: ServerMetrics }): Promise<void> {
  const { bucket, metrics } = opts;
  // Uploads are streamed to disk by the bucket, whatever their type: no body parsing here.
  app.removeAllContentTypeParsers();
  app.addContentTypeParser('*', (_req, _payload, done) => done(null));

  app.put<{ Querystring: SignedQuery }>(`${BUCKET_ROUTE}*`, { schema: { querystring: querySchema } }, async (req, reply: FastifyReply) => {
    try {
      const info = await bucket.receive(objectOf(req), req.query, req.headers['content-type'], req.headers['content-length'], req.raw);
      metrics.uploads.inc({ result: 'stored' });
      return reply.code(201).send(info);
    } catch (e) {
      metrics.uploads.inc({ result: 'refused' });
      // The rest of a refused body is not read: close the connection after the answer
      // rather than letting the client stream up to the full size into a kept-alive socket.
      reply.header('connection', 'close');
      throw e;
    }
  });

  app.get<{ Querystring: SignedQuery }>(`${BUCKET_ROUTE}*`, { schema: { querystring: querySchema } }, async (req, reply) => {
    const { stream, info } = await bucket.openRead(objectOf(req), req.query);
    return reply
      .header('content-type', info.contentType ?? 'application/octet-stream')
      .header('content-length', String(info.size))
      .header('cache-control', 'private, max-age=300')
      // Objects are user content: never run as a page of this origin (an SVG could hold script).
      .header('content-security-policy', "default-src 'none'; style-src 'unsafe-inline'; sandbox")
      .send(stream);
  });
}
