import { createHmac, randomBytes, randomUUID, timingSafeEqual } from 'node:crypto';
import { createReadStream, type ReadStream } from 'node:fs';
import { link, mkdir, open, readdir, readFile, rm, stat, unlink, writeFile } from 'node:fs/promises';
import { walkFiles } from '../../node/walk';
import path from 'node:path';
import type { Readable } from 'node:stream';
import { HttpError } from '../errors';
import { contentProblem, isArtifactType, isImageType, SNIFF_BYTES, typeForName } from './content';
import { checkObjectName } from './object-names';
import type { ObjectInfo, ObjectPage, ObjectStore, SignedUrl } from './types';

/** URL path under which the embedded bucket serves objects (outside `/api/`: the signature is the credential). */
export const BUCKET_ROUTE = '/bucket/';

/** Query parameters of a local signed URL. */
export interface SignedQuery {
  expires?: string;
  size?: string;
  signature?: string;
}

export interface LocalBucketOptions {
  /** Folder holding `objects/`, `.uploads/` and `signing-key`. */
  root: string;
  /** HMAC key; generated once and kept in `root/signing-key` when not given. */
  secret?: string;
  /** Origin signed URLs point at (scheme://host:port), read when a URL is made. */
  publicUrl: () => string;
  /** Lifetimes in seconds. */
  expiry: { write: number; read: number };
  /** Milliseconds since the epoch; tests move it. */
  now?: () => number;
}

const encodeObject = (name: string): string => name.split('/').map(encodeURIComponent).join('/');
const forbidden = (message: string): HttpError => new HttpError(403, 'signature_invalid', message);

/**
 * The embedded bucket: objects are files under `root/objects/`, reached through URLs signed
 * with HMAC-SHA256 over method, object, expiry, content type and size bound. Uploads stream
 * to `root/.uploads/` and are linked into place only when complete, within the signed size
 * and of the declared type; `link` refuses an existing name, so nothing is ever overwritten
 * and a cut connection or crash leaves no partial object.
 */
export class LocalBucket implements ObjectStore {
  readonly kind = 'local' as const;
  readonly objectsDir: string;
  readonly uploadsDir: string;
  private readonly key: Buffer;
  private readonly now: () => number;
  private readonly listeners = new Set<(object: ObjectInfo) => void>();

  private constructor(
    private readonly options: LocalBucketOptions,
    key: Buffer,
  ) {
    this.key = key;
    this.objectsDir = path.join(options.root, 'objects');
    this.uploadsDir = path.join(options.root, '.uploads');
    this.now = options.now ?? Date.now;
  }

  /** Creates the folders, loads or makes the signing key, and removes uploads abandoned by a crash. */
  static async open(options: LocalBucketOptions): Promise<LocalBucket> {
    await mkdir(path.join(options.root, 'objects'), { recursive: true });
    await mkdir(path.join(options.root, '.uploads'), { recursive: true });
    let key: Buffer;
    if (options.secret) key = Buffer.from(options.secret, 'utf8');
    else {
      const file = path.join(options.root, 'signing-key');
      try {
        key = Buffer.from((await readFile(file, 'utf8')).trim(), 'hex');
        if (key.length < 32) throw new Error('short key');
      } catch {
        key = randomBytes(32);
        // Kept so URLs signed before a restart stay valid; mode 0600 as it is a credential.
        await writeFile(file, key.toString('hex') + '\n', { mode: 0o600 });
      }
    }
    const bucket = new LocalBucket(options, key);
    await bucket.removeStaleUploads();
    return bucket;
  }

  describe(): string {
    return `embedded bucket at ${this.objectsDir}`;
  }

  /** Called after each completed upload (the local predictor watches `models/`). */
  onObjectWritten(listener: (object: ObjectInfo) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  private signature(method: 'GET' | 'PUT', object: string, expires: number, contentType: string, maxSize: number): Buffer {
    return createHmac('sha256', this.key).update(['SCENELAB-HMAC-SHA256', method, object, String(expires), contentType, String(maxSize)].join('\n')).digest();
  }

  private url(method: 'GET' | 'PUT', object: string, ttl: number, contentType: string, size: number): { url: string; expiresAt: string } {
    const expires = Math.floor(this.now() / 1000) + ttl;
    const q = new URLSearchParams({ expires: String(expires) });
    if (method === 'PUT') q.set('size', String(size));
    q.set('signature', this.signature(method, object, expires, contentType, size).toString('hex'));
    return { url: `${this.options.publicUrl()}${BUCKET_ROUTE}${encodeObject(object)}?${q}`, expiresAt: new Date(expires * 1000).toISOString() };
  }

  /** Checks a request's signature; throws 403 naming the reason. */
  private verifySignature(method: 'GET' | 'PUT', object: string, q: SignedQuery, contentType: string): { expires: number; size: number } {
    if (!q.signature || !q.expires || (method === 'PUT' && !q.size)) throw forbidden('this URL is not signed: ask POST /api/storage/signed-url for one');
    if (!/^\d{1,12}$/.test(q.expires) || (q.size !== undefined && !/^\d{1,15}$/.test(q.size))) throw forbidden('malformed signed URL (expires/size)');
    if (!/^[0-9a-f]{64}$/.test(q.signature)) throw forbidden('malformed signature');
    const expires = Number(q.expires);
    const size = method === 'PUT' ? Number(q.size) : 0;
    const expected = this.signature(method, object, expires, contentType, size);
    // Constant-time: the comparison must not reveal how many leading bytes matched.
    if (!timingSafeEqual(expected, Buffer.from(q.signature, 'hex'))) {
      throw forbidden(
        method === 'PUT'
          ? 'signature does not match: the URL was signed for another object, content type, size or method'
          : 'signature does not match: the URL was signed for another object or method',
      );
    }
    if (Math.floor(this.now() / 1000) > expires) throw forbidden(`signed URL expired at ${new Date(expires * 1000).toISOString()}; ask for a new one`);
    return { expires, size };
  }

  private file(object: string): string {
    const file = path.join(this.objectsDir, ...object.split('/'));
    // Names were checked already; this guards against a future caller that forgets.
    if (!file.startsWith(this.objectsDir + path.sep)) throw new HttpError(400, 'invalid_object_name', 'object name leaves the bucket');
    return file;
  }

  private async info(object: string): Promise<ObjectInfo | null> {
    try {
      const st = await stat(this.file(object));
      if (!st.isFile()) return null;
      const contentType = typeForName(object);
      return { name: object, size: st.size, updated: st.mtime.toISOString(), ...(contentType ? { contentType } : {}) };
    } catch {
      return null;
    }
  }

  async signRead(object: string): Promise<SignedUrl> {
    if (!(await this.info(object))) throw new HttpError(404, 'not_found', `no object named ${object}`);
    return { ...this.url('GET', object, this.options.expiry.read, '', 0), method: 'GET', headers: {}, object };
  }

  async signWrite(object: string, contentType: string, size: number): Promise<SignedUrl> {
    if (await this.info(object)) throw new HttpError(412, 'already_exists', `${object} already exists; uploads never overwrite, choose a new name`);
    return { ...this.url('PUT', object, this.options.expiry.write, contentType, size), method: 'PUT', headers: { 'Content-Type': contentType }, object };
  }

  async list(prefix: string, options: { pageToken?: string; maxResults: number }): Promise<ObjectPage> {
    let after = '';
    if (options.pageToken !== undefined) {
      after = Buffer.from(options.pageToken, 'base64url').toString('utf8');
      if (!after.startsWith(prefix)) throw new HttpError(400, 'invalid_page_token', 'pageToken does not belong to this prefix: pass back the nextPageToken of the previous page');
    }
    // Enter only the folders on the way to the prefix and under it; a partial last segment filters by name.
    // Folders linked in by the operator (a dataset symlinked into the bucket) are followed.
    let names: string[] = [];
    try {
      const { files } = await walkFiles(this.objectsDir, { enter: (rel) => (rel + '/').startsWith(prefix) || prefix.startsWith(rel + '/') });
      names = files.filter((name) => name.startsWith(prefix) && name > after);
    } catch {
      names = [];
    }
    names.sort((a, b) => Buffer.compare(Buffer.from(a), Buffer.from(b)));
    const page = names.slice(0, options.maxResults);
    const objects = (await Promise.all(page.map((n) => this.info(n)))).filter((o): o is ObjectInfo => o !== null);
    const last = page[page.length - 1];
    return names.length > page.length && last !== undefined ? { objects, nextPageToken: Buffer.from(last).toString('base64url') } : { objects };
  }

  async verify(object: string): Promise<ObjectInfo> {
    const info = await this.info(object);
    if (!info) throw new HttpError(404, 'not_found', `no object named ${object}`);
    // Uploads were checked before they were linked into place.
    return info;
  }

  /**
   * Receives the body of a signed PUT. The object appears only when every byte arrived,
   * the count is within the signed size and the first bytes match the signed type.
   */
  async receive(object: string, q: SignedQuery, contentTypeHeader: string | undefined, contentLength: string | undefined, body: Readable): Promise<ObjectInfo> {
    checkObjectName(object);
    const contentType = (contentTypeHeader ?? '').trim().toLowerCase();
    const { size: maxSize } = this.verifySignature('PUT', object, q, contentType);
    if (contentLength !== undefined && Number(contentLength) > maxSize) {
      throw new HttpError(413, 'too_large', `Content-Length ${contentLength} exceeds the ${maxSize} bytes this URL was signed for`);
    }
    const target = this.file(object);
    if (await this.info(object)) throw new HttpError(412, 'already_exists', `${object} already exists; uploads never overwrite`);
    const tmp = path.join(this.uploadsDir, `${randomUUID()}.part`);
    const fh = await open(tmp, 'wx', 0o644);
    let closed = false;
    try {
      const head = Buffer.alloc(SNIFF_BYTES);
      let received = 0;
      // destroyOnReturn: false keeps the socket open when we stop reading early, so the
      // client still receives the 413 (sent with Connection: close) instead of a reset.
      for await (const chunk of body.iterator({ destroyOnReturn: false }) as AsyncIterable<Buffer>) {
        if (received + chunk.length > maxSize) throw new HttpError(413, 'too_large', `upload exceeds the ${maxSize} bytes this URL was signed for`);
        if (received < SNIFF_BYTES) chunk.copy(head, received, 0, Math.min(chunk.length, SNIFF_BYTES - received));
        received += chunk.length;
        await fh.write(chunk);
      }
      // The signature bound this content type, and only stored types are ever signed.
      if (!isImageType(contentType) && !isArtifactType(contentType)) throw new HttpError(415, 'unsupported_type', `content type ${contentType} is not stored here`);
      const problem = contentProblem(contentType, head.subarray(0, Math.min(received, SNIFF_BYTES)), received);
      if (problem) throw new HttpError(415, 'content_mismatch', `upload refused: ${problem}`);
      await fh.sync();
      await fh.close();
      closed = true;
      await mkdir(path.dirname(target), { recursive: true });
      try {
        await link(tmp, target);
      } catch (e) {
        const code = (e as NodeJS.ErrnoException).code;
        if (code === 'EEXIST') throw new HttpError(412, 'already_exists', `${object} already exists; uploads never overwrite`);
        if (code === 'ENOTDIR' || code === 'EISDIR') throw new HttpError(409, 'name_conflict', `${object} clashes with an existing object or folder of the same name`);
        throw e;
      }
      const info: ObjectInfo = { name: object, size: received, updated: new Date().toISOString(), contentType };
      for (const l of this.listeners) l(info);
      return info;
    } finally {
      if (!closed) await fh.close().catch(() => undefined);
      await rm(tmp, { force: true });
    }
  }

  /** Opens a signed GET. */
  async openRead(object: string, q: SignedQuery): Promise<{ stream: ReadStream; info: ObjectInfo }> {
    checkObjectName(object);
    this.verifySignature('GET', object, q, '');
    const info = await this.info(object);
    if (!info) throw new HttpError(404, 'not_found', `no object named ${object}`);
    return { stream: createReadStream(this.file(object)), info };
  }

  /** Deletes uploads older than an hour: left by a crash, never part of an object. */
  private async removeStaleUploads(): Promise<void> {
    const cutoff = this.now() - 3600_000;
    for (const name of await readdir(this.uploadsDir)) {
      const file = path.join(this.uploadsDir, name);
      const st = await stat(file).catch(() => null);
      if (st && st.mtimeMs < cutoff) await unlink(file).catch(() => undefined);
    }
  }
}
