import { createHash, createPublicKey, verify, type KeyObject } from 'node:crypto';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';

/** An object held by the emulator. */
export interface EmulatedObject {
  name: string;
  bytes: Buffer;
  contentType: string;
  generation: number;
  updated: string;
}

/** A request the emulator refused or served, for assertions. */
export interface GcsRequestLog {
  method: string;
  path: string;
  status: number;
}

const CRC32C_TABLE = (() => {
  const t = new Uint32Array(256);
  for (let n = 0; n < 256; n++) {
    let c = n;
    for (let k = 0; k < 8; k++) c = c & 1 ? 0x82f63b78 ^ (c >>> 1) : c >>> 1;
    t[n] = c >>> 0;
  }
  return t;
})();

/** CRC32C (Castagnoli), as Cloud Storage reports it: big-endian, base64. */
export function crc32c(bytes: Uint8Array): string {
  let c = 0xffffffff;
  for (const b of bytes) c = CRC32C_TABLE[(c ^ b) & 0xff]! ^ (c >>> 8);
  const out = Buffer.alloc(4);
  out.writeUInt32BE((c ^ 0xffffffff) >>> 0);
  return out.toString('base64');
}

/** RFC 3986 percent-encoding as the V4 signing rules define it (only A-Z a-z 0-9 - . _ ~ stay). */
const rfc3986 = (s: string): string => encodeURIComponent(s).replace(/[!'()*]/g, (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`);

async function readBody(req: IncomingMessage): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const c of req as AsyncIterable<Buffer>) chunks.push(c);
  return Buffer.concat(chunks);
}

function send(res: ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}): void {
  const text = body === undefined ? '' : typeof body === 'string' ? body : JSON.stringify(body);
  res.writeHead(status, { 'content-type': typeof body === 'string' ? 'application/xml' : 'application/json', ...headers });
  res.end(text);
}

const jsonError = (res: ServerResponse, status: number, message: string): void => send(res, status, { error: { code: status, message, errors: [{ message, reason: 'emulator' }] } });

/**
 * A local Cloud Storage emulator written from the published protocols: the JSON API
 * (`objects.insert` multipart/media upload, `objects.list`, `objects.get` with `alt=media`
 * and ranges, `objects.delete`) that `@google-cloud/storage` speaks when given `apiEndpoint`,
 * and XML-API `PUT`/`GET` through V4 signed URLs, whose signatures it verifies with the
 * service account's public key (GOOG4-RSA-SHA256) before enforcing the signed
 * `x-goog-content-length-range` and `x-goog-if-generation-match` headers.
 */
export class GcsEmulator {
  readonly objects = new Map<string, EmulatedObject>();
  readonly log: GcsRequestLog[] = [];
  private generation = 1;
  private publicKey: KeyObject | undefined;
  private clientEmail: string | undefined;

  private constructor(
    private readonly server: Server,
    readonly bucket: string,
    readonly port: number,
  ) {}

  /** `http://127.0.0.1:port`, the `apiEndpoint` to give the storage client. */
  get endpoint(): string {
    return `http://127.0.0.1:${this.port}`;
  }

  /**
   * The bucket's CORS configuration (`gsutil cors set`): browsers on these origins may use the
   * XML API (signed URLs). Cloud Storage answers a matching preflight with the allowed method and
   * the requested headers, and adds `Access-Control-Allow-Origin` to matching responses.
   */
  cors: { origins: string[]; methods: string[]; responseHeaders: string[]; maxAgeSeconds: number } | null = null;

  static async start(bucket: string, serviceAccount?: { clientEmail: string; publicKeyPem: string }): Promise<GcsEmulator> {
    let emulator: GcsEmulator | undefined;
    const server = createServer((req, res) => {
      void emulator!.handle(req, res).catch((e: unknown) => jsonError(res, 500, String(e)));
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    emulator = new GcsEmulator(server, bucket, (server.address() as AddressInfo).port);
    if (serviceAccount) {
      emulator.publicKey = createPublicKey(serviceAccount.publicKeyPem);
      emulator.clientEmail = serviceAccount.clientEmail;
    }
    return emulator;
  }

  /** Puts an object directly (test set-up). */
  put(name: string, bytes: Uint8Array, contentType: string, created = new Date()): EmulatedObject {
    const o = { name, bytes: Buffer.from(bytes), contentType, generation: this.generation++, updated: created.toISOString() };
    this.objects.set(name, o);
    return o;
  }

  private resource(o: EmulatedObject): Record<string, string> {
    return {
      kind: 'storage#object',
      id: `${this.bucket}/${o.name}/${o.generation}`,
      name: o.name,
      bucket: this.bucket,
      generation: String(o.generation),
      metageneration: '1',
      contentType: o.contentType,
      size: String(o.bytes.length),
      md5Hash: createHash('md5').update(o.bytes).digest('base64'),
      crc32c: crc32c(o.bytes),
      timeCreated: o.updated,
      updated: o.updated,
      etag: `CA${o.generation}=`,
    };
  }

  private async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const url = new URL(req.url ?? '/', `http://${req.headers.host ?? 'localhost'}`);
    const status = (code: number): void => {
      this.log.push({ method: req.method ?? '', path: url.pathname, status: code });
    };
    const reply = (code: number, body?: unknown, headers?: Record<string, string>): void => {
      status(code);
      send(res, code, body, headers);
    };
    const fail = (code: number, message: string): void => {
      status(code);
      jsonError(res, code, message);
    };

    const origin = req.headers.origin;
    const cors = this.cors && origin && (this.cors.origins.includes(origin) || this.cors.origins.includes('*')) ? this.cors : null;
    if (req.method === 'OPTIONS') {
      const method = String(req.headers['access-control-request-method'] ?? '');
      if (!cors || !cors.methods.includes(method)) return reply(403, '<Error><Code>AccessDenied</Code><Message>CORS request not allowed</Message></Error>');
      return reply(200, '', {
        'access-control-allow-origin': origin!,
        'access-control-allow-methods': cors.methods.join(','),
        'access-control-allow-headers': String(req.headers['access-control-request-headers'] ?? ''),
        'access-control-max-age': String(cors.maxAgeSeconds),
        vary: 'Origin',
      });
    }
    if (cors) {
      // Kept by writeHead, which merges headers set before it.
      res.setHeader('access-control-allow-origin', origin!);
      res.setHeader('access-control-expose-headers', cors.responseHeaders.join(','));
      res.setHeader('vary', 'Origin');
    }

    const json = /^\/storage\/v1\/b\/([^/]+)\/o(?:\/([^/]+))?$/.exec(url.pathname);
    const upload = /^\/upload\/storage\/v1\/b\/([^/]+)\/o$/.exec(url.pathname);
    if (upload) {
      if (upload[1] !== this.bucket) return fail(404, 'no such bucket');
      const body = await readBody(req);
      let meta: { name?: string; contentType?: string } = {};
      let data = body;
      const type = url.searchParams.get('uploadType');
      if (type === 'multipart') {
        const boundary = /boundary="?([^";]+)"?/.exec(req.headers['content-type'] ?? '')?.[1];
        if (!boundary) return fail(400, 'multipart upload without a boundary');
        const parts = splitMultipart(body, boundary);
        if (parts.length !== 2) return fail(400, `multipart upload has ${parts.length} parts, expected 2`);
        meta = JSON.parse(parts[0]!.body.toString('utf8')) as typeof meta;
        data = parts[1]!.body;
        meta.contentType ??= parts[1]!.headers['content-type'];
      } else if (type !== 'media') return fail(400, `uploadType ${type ?? '(none)'} is not emulated`);
      const name = url.searchParams.get('name') ?? meta.name;
      if (!name) return fail(400, 'object name missing');
      if (url.searchParams.get('ifGenerationMatch') === '0' && this.objects.has(name)) return fail(412, 'precondition failed: object exists');
      const o = this.put(name, data, meta.contentType ?? req.headers['content-type'] ?? 'application/octet-stream');
      return reply(200, this.resource(o));
    }
    if (json) {
      if (json[1] !== this.bucket) return fail(404, 'no such bucket');
      if (json[2] === undefined) {
        if (req.method !== 'GET') return fail(405, 'method not allowed');
        const prefix = url.searchParams.get('prefix') ?? '';
        const max = Number(url.searchParams.get('maxResults') ?? 1000);
        const after = url.searchParams.get('pageToken') ? Buffer.from(url.searchParams.get('pageToken')!, 'base64url').toString() : '';
        const names = [...this.objects.keys()].filter((n) => n.startsWith(prefix) && n > after).sort();
        const page = names.slice(0, max);
        const last = page[page.length - 1];
        return reply(200, {
          kind: 'storage#objects',
          items: page.map((n) => this.resource(this.objects.get(n)!)),
          ...(names.length > page.length && last ? { nextPageToken: Buffer.from(last).toString('base64url') } : {}),
        });
      }
      const name = decodeURIComponent(json[2]);
      const o = this.objects.get(name);
      if (req.method === 'DELETE') {
        if (!o) return fail(404, 'no such object');
        this.objects.delete(name);
        return reply(204);
      }
      if (req.method !== 'GET') return fail(405, 'method not allowed');
      if (!o) return fail(404, `no such object: ${name}`);
      if (url.searchParams.get('alt') !== 'media') return reply(200, this.resource(o));
      return this.sendMedia(req, res, o, status);
    }
    // XML API through a signed URL: /{bucket}/{object}
    const xml = /^\/([^/]+)\/(.+)$/.exec(url.pathname);
    if (xml && (req.method === 'PUT' || req.method === 'GET')) {
      if (xml[1] !== this.bucket) return fail(404, 'no such bucket');
      const problem = this.checkSignature(req, url);
      if (problem) return fail(403, `SignatureDoesNotMatch: ${problem}`);
      const name = decodeURIComponent(xml[2]!);
      if (req.method === 'GET') {
        const o = this.objects.get(name);
        return o ? this.sendMedia(req, res, o, status) : fail(404, 'NoSuchKey');
      }
      const body = await readBody(req);
      const range = req.headers['x-goog-content-length-range'];
      if (typeof range === 'string') {
        const [lo, hi] = range.split(',').map(Number);
        if (body.length < (lo ?? 0) || body.length > (hi ?? Infinity)) return fail(400, `EntityTooLarge: ${body.length} bytes outside ${range}`);
      }
      if (req.headers['x-goog-if-generation-match'] === '0' && this.objects.has(name)) return fail(412, 'PreconditionFailed');
      this.put(name, body, req.headers['content-type'] ?? 'application/octet-stream');
      return reply(200, '');
    }
    fail(404, `not emulated: ${req.method} ${url.pathname}`);
  }

  private sendMedia(req: IncomingMessage, res: ServerResponse, o: EmulatedObject, status: (code: number) => void): void {
    const range = /^bytes=(\d+)-(\d*)$/.exec(req.headers.range ?? '');
    if (range) {
      const start = Number(range[1]);
      const end = Math.min(o.bytes.length - 1, range[2] ? Number(range[2]) : o.bytes.length - 1);
      status(206);
      res.writeHead(206, { 'content-type': o.contentType, 'content-range': `bytes ${start}-${end}/${o.bytes.length}`, 'content-length': String(end - start + 1) });
      res.end(o.bytes.subarray(start, end + 1));
      return;
    }
    status(200);
    res.writeHead(200, {
      'content-type': o.contentType,
      'content-length': String(o.bytes.length),
      'x-goog-hash': `crc32c=${crc32c(o.bytes)},md5=${createHash('md5').update(o.bytes).digest('base64')}`,
      'x-goog-generation': String(o.generation),
    });
    res.end(o.bytes);
  }

  /** Checks a V4 signed request; returns what is wrong, or null. */
  private checkSignature(req: IncomingMessage, url: URL): string | null {
    if (!this.publicKey) return 'the emulator has no service-account key to verify with';
    const q = url.searchParams;
    if (q.get('X-Goog-Algorithm') !== 'GOOG4-RSA-SHA256') return 'X-Goog-Algorithm must be GOOG4-RSA-SHA256';
    const credential = q.get('X-Goog-Credential') ?? '';
    const [email, date, region, service, terminator] = credential.split('/');
    if (email !== this.clientEmail || region !== 'auto' || service !== 'storage' || terminator !== 'goog4_request') return `bad credential scope ${credential}`;
    const when = q.get('X-Goog-Date') ?? '';
    const m = /^(\d{4})(\d{2})(\d{2})T(\d{2})(\d{2})(\d{2})Z$/.exec(when);
    if (!m || when.slice(0, 8) !== date) return 'X-Goog-Date does not match the credential date';
    const expires = Number(q.get('X-Goog-Expires'));
    if (!Number.isInteger(expires) || expires < 1 || expires > 604800) return 'X-Goog-Expires must be 1..604800';
    const start = Date.UTC(+m[1]!, +m[2]! - 1, +m[3]!, +m[4]!, +m[5]!, +m[6]!);
    if (Date.now() > start + expires * 1000) return 'Request has expired';
    const signedHeaders = (q.get('X-Goog-SignedHeaders') ?? '').split(';');
    if (!signedHeaders.includes('host')) return 'host must be a signed header';
    const canonicalHeaders = signedHeaders
      .map((h) => {
        // The client library signs the host name without a port; an emulator on a port must do the same.
        const raw = h === 'host' ? (req.headers.host ?? '').replace(/:\d+$/, '') : req.headers[h];
        return `${h}:${String(raw ?? '').trim().replace(/\s+/g, ' ')}\n`;
      })
      .join('');
    const canonicalQuery = [...q.entries()]
      .filter(([k]) => k !== 'X-Goog-Signature')
      .map(([k, v]) => [rfc3986(k), rfc3986(v)] as const)
      .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
      .map(([k, v]) => `${k}=${v}`)
      .join('&');
    const canonicalRequest = [req.method, url.pathname, canonicalQuery, canonicalHeaders, signedHeaders.join(';'), 'UNSIGNED-PAYLOAD'].join('\n');
    const stringToSign = ['GOOG4-RSA-SHA256', when, `${date}/auto/storage/goog4_request`, createHash('sha256').update(canonicalRequest).digest('hex')].join('\n');
    const signature = Buffer.from(q.get('X-Goog-Signature') ?? '', 'hex');
    return verify('RSA-SHA256', Buffer.from(stringToSign), this.publicKey, signature) ? null : 'signature does not verify';
  }

  async stop(): Promise<void> {
    this.server.closeAllConnections();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }
}

function splitMultipart(body: Buffer, boundary: string): Array<{ headers: Record<string, string>; body: Buffer }> {
  const delimiter = Buffer.from(`--${boundary}`);
  const parts: Array<{ headers: Record<string, string>; body: Buffer }> = [];
  let at = body.indexOf(delimiter);
  while (at !== -1) {
    const next = body.indexOf(delimiter, at + delimiter.length);
    if (next === -1) break;
    const part = body.subarray(at + delimiter.length, next);
    const headerEnd = part.indexOf('\r\n\r\n');
    if (headerEnd !== -1) {
      const headers: Record<string, string> = {};
      for (const line of part.subarray(0, headerEnd).toString('utf8').split('\r\n')) {
        const i = line.indexOf(':');
        if (i > 0) headers[line.slice(0, i).trim().toLowerCase()] = line.slice(i + 1).trim();
      }
      let content = part.subarray(headerEnd + 4);
      if (content.subarray(-2).toString() === '\r\n') content = content.subarray(0, -2);
      parts.push({ headers, body: content });
    }
    at = next;
  }
  return parts;
}
