import { Storage, type Bucket } from '@google-cloud/storage';
import { HttpError } from '../errors';
import { contentProblem, isArtifactType, isImageType, SNIFF_BYTES, typeForName } from './content';
import type { ObjectInfo, ObjectPage, ObjectStore, SignedUrl } from './types';

export interface GcsStoreOptions {
  bucket: string;
  /** A configured client; tests pass one with a throwaway service-account key or an emulator endpoint. */
  storage: Storage;
  /** Lifetimes in seconds; callers cap them at 15 min (write) and 1 h (read). */
  expiry: { write: number; read: number };
  now?: () => number;
}

/** Builds the client the server uses: Application Default Credentials, or the JSON-API endpoint given for an emulator. */
export function createStorageClient(options: { projectId?: string | undefined; apiEndpoint?: string | undefined }): Storage {
  return new Storage({
    ...(options.projectId ? { projectId: options.projectId } : {}),
    ...(options.apiEndpoint ? { apiEndpoint: options.apiEndpoint } : {}),
  });
}

/** Turns a Cloud Storage failure into an HTTP error that says what to check. */
export function gcsError(e: unknown, object: string): HttpError {
  const code = typeof e === 'object' && e !== null && 'code' in e ? (e as { code: unknown }).code : undefined;
  const message = e instanceof Error ? e.message.split('\n')[0] : String(e);
  if (code === 404) return new HttpError(404, 'not_found', `no object named ${object}`);
  if (code === 401 || code === 403) return new HttpError(502, 'gcs_forbidden', `Cloud Storage refused the server (${message}): check the service account's roles on the bucket`);
  if (e instanceof Error && e.name === 'SigningError') {
    return new HttpError(502, 'gcs_signing', `cannot sign Cloud Storage URLs (${message}): use a service-account key, or grant the runtime account roles/iam.serviceAccountTokenCreator on itself`);
  }
  return new HttpError(502, 'gcs_error', `Cloud Storage error: ${message}`);
}

/**
 * A Cloud Storage bucket behind V4 signed URLs. Write URLs bind the content type, a
 * `x-goog-content-length-range` and `x-goog-if-generation-match: 0` (never overwrite); the
 * bucket itself is fixed by the server's configuration.
 */
export class GcsStore implements ObjectStore {
  readonly kind = 'gcs' as const;
  private readonly bucket: Bucket;
  private readonly now: () => number;

  constructor(private readonly options: GcsStoreOptions) {
    this.bucket = options.storage.bucket(options.bucket);
    this.now = options.now ?? Date.now;
  }

  describe(): string {
    return `Cloud Storage bucket gs://${this.options.bucket}`;
  }

  async signRead(object: string): Promise<SignedUrl> {
    const expires = this.now() + this.options.expiry.read * 1000;
    try {
      const [url] = await this.bucket.file(object).getSignedUrl({ version: 'v4', action: 'read', expires, accessibleAt: new Date(this.now()) });
      return { url, method: 'GET', headers: {}, expiresAt: new Date(expires).toISOString(), object };
    } catch (e) {
      throw gcsError(e, object);
    }
  }

  async signWrite(object: string, contentType: string, size: number): Promise<SignedUrl> {
    const expires = this.now() + this.options.expiry.write * 1000;
    // Headers the browser must send as they are; they are signed, so changing one voids the URL.
    const extensionHeaders = { 'x-goog-content-length-range': `0,${size}`, 'x-goog-if-generation-match': '0' };
    try {
      const [url] = await this.bucket.file(object).getSignedUrl({ version: 'v4', action: 'write', expires, accessibleAt: new Date(this.now()), contentType, extensionHeaders });
      return { url, method: 'PUT', headers: { 'Content-Type': contentType, ...extensionHeaders }, expiresAt: new Date(expires).toISOString(), object };
    } catch (e) {
      throw gcsError(e, object);
    }
  }

  async list(prefix: string, options: { pageToken?: string; maxResults: number }): Promise<ObjectPage> {
    try {
      const [files, next] = await this.bucket.getFiles({ prefix, maxResults: options.maxResults, autoPaginate: false, ...(options.pageToken ? { pageToken: options.pageToken } : {}) });
      const objects: ObjectInfo[] = files
        .filter((f) => !f.name.endsWith('/'))
        .map((f) => ({
          name: f.name,
          size: Number(f.metadata.size ?? 0),
          updated: String(f.metadata.updated ?? ''),
          ...(typeof f.metadata.contentType === 'string' ? { contentType: f.metadata.contentType } : {}),
        }));
      const token = (next as { pageToken?: unknown } | null | undefined)?.pageToken;
      return typeof token === 'string' ? { objects, nextPageToken: token } : { objects };
    } catch (e) {
      throw gcsError(e, prefix);
    }
  }

  async verify(object: string): Promise<ObjectInfo> {
    const file = this.bucket.file(object);
    let info: ObjectInfo & { created?: string };
    let head: Buffer;
    try {
      const [meta] = await file.getMetadata();
      info = {
        name: object,
        size: Number(meta.size ?? 0),
        updated: String(meta.updated ?? ''),
        ...(typeof meta.timeCreated === 'string' ? { created: meta.timeCreated } : {}),
        ...(typeof meta.contentType === 'string' ? { contentType: meta.contentType } : {}),
      };
      [head] = info.size === 0 ? [Buffer.alloc(0)] : await file.download({ start: 0, end: SNIFF_BYTES - 1 });
    } catch (e) {
      throw gcsError(e, object);
    }
    const declared = (info.contentType ?? '').toLowerCase();
    const byName = typeForName(object);
    const problem =
      !isImageType(declared) && !isArtifactType(declared)
        ? `stored with content type "${info.contentType ?? ''}", which is neither an image nor a model artifact`
        : byName !== declared
          ? `stored as ${declared} under a name that implies ${byName ?? 'another type'}`
          : contentProblem(declared, head, info.size);
    if (problem) {
      // Only an object young enough to have come through one of our write URLs is deleted;
      // anything older was put there another way and is reported, not touched.
      const created = Date.parse(info.created ?? '');
      const fresh = Number.isFinite(created) && this.now() - created <= (this.options.expiry.write + 60) * 1000;
      if (fresh) {
        await file.delete({ ignoreNotFound: true }).catch(() => undefined);
        throw new HttpError(422, 'content_mismatch', `${object} was deleted: ${problem}`);
      }
      throw new HttpError(422, 'content_mismatch', `${object} does not hold what its type says (${problem}); it is older than an upload and was left in place`);
    }
    const { created: _created, ...rest } = info;
    return rest;
  }
}
