/**
 * The browser's side of the storage broker, framework-free: list a prefix of the bucket with
 * signed read URLs, download through them, and upload through a signed write URL followed by
 * the server's check of what arrived. The bytes go straight between the browser and the bucket
 * (the embedded one or Cloud Storage); the server only signs.
 */

/** One object of a listing. */
export interface BucketObject {
  name: string;
  size: number;
  updated: string;
  contentType?: string;
  /** A signed read URL (listings are asked for with `signed=true`). */
  url?: string;
}

export interface BucketClientOptions {
  /** Origin of the server; '' (the default) for the page's own origin. */
  baseUrl?: string;
  /** Bearer token (`SCENELAB_TOKEN`), or a function returning the current one. */
  token?: string | (() => string | undefined);
  fetch?: typeof fetch;
}

/** A storage call the server or the bucket refused; `status` is the HTTP status (0: no answer). */
export class BucketError extends Error {
  constructor(
    message: string,
    readonly status: number,
  ) {
    super(message);
    this.name = 'BucketError';
  }
}

/** Content types the server accepts for uploads, by file extension. */
const TYPES: Record<string, string> = {
  '.jpg': 'image/jpeg',
  '.jpeg': 'image/jpeg',
  '.png': 'image/png',
  '.webp': 'image/webp',
  '.gif': 'image/gif',
  '.bmp': 'image/bmp',
  '.zip': 'application/zip',
  '.pth': 'application/zip',
  '.json': 'application/json',
  '.bin': 'application/octet-stream',
  '.svg': 'image/svg+xml',
  '.csv': 'text/csv',
  '.jsonl': 'application/jsonl',
};

/** The content type an object name implies, or undefined when the server would not store it. */
export function contentTypeFor(name: string): string | undefined {
  const ext = /\.[A-Za-z0-9]+$/.exec(name)?.[0]?.toLowerCase();
  return ext ? TYPES[ext] : undefined;
}

/**
 * A folder-safe object name part: letters, digits, dot, dash and underscore; anything else
 * becomes "-". The server checks names again; this only keeps user-given names acceptable.
 */
export function safeName(part: string): string {
  const s = part.normalize('NFKD').replace(/[^A-Za-z0-9._-]+/g, '-').replace(/^[-.]+|[-.]+$/g, '');
  return s.slice(0, 100) || 'unnamed';
}

export class BucketClient {
  private readonly baseUrl: string;
  private readonly fetchImpl: typeof fetch;

  constructor(private readonly options: BucketClientOptions = {}) {
    this.baseUrl = (options.baseUrl ?? '').replace(/\/+$/, '');
    this.fetchImpl = options.fetch ?? ((...a) => fetch(...a));
  }

  private headers(json: boolean): Record<string, string> {
    const token = typeof this.options.token === 'function' ? this.options.token() : this.options.token;
    return { ...(json && { 'content-type': 'application/json' }), ...(token && { authorization: `Bearer ${token}` }) };
  }

  private async api<T>(path: string, init: RequestInit): Promise<T> {
    let res: Response;
    try {
      res = await this.fetchImpl(`${this.baseUrl}${path}`, init);
    } catch (e) {
      if ((e as Error).name === 'AbortError') throw e;
      throw new BucketError('the SceneLab server cannot be reached (offline?)', 0);
    }
    const body = (await res.json().catch(() => null)) as { message?: string } | null;
    if (!res.ok) throw new BucketError(body?.message ?? `the server answered ${res.status}`, res.status);
    return body as T;
  }

  /** Every object under a prefix (all pages), each with a signed read URL. */
  async list(prefix: string, signal?: AbortSignal): Promise<BucketObject[]> {
    const out: BucketObject[] = [];
    let pageToken: string | undefined;
    do {
      const q = new URLSearchParams({ prefix, signed: 'true', ...(pageToken && { pageToken }) });
      const page = await this.api<{ objects: BucketObject[]; nextPageToken?: string }>(`/api/storage/list?${q}`, { headers: this.headers(false), ...(signal && { signal }) });
      out.push(...page.objects);
      pageToken = page.nextPageToken;
    } while (pageToken);
    return out;
  }

  /** The bytes behind a signed read URL. */
  async download(object: BucketObject, signal?: AbortSignal): Promise<Blob> {
    let url = object.url;
    if (!url) url = (await this.api<{ url: string }>('/api/storage/signed-url', { method: 'POST', headers: this.headers(true), body: JSON.stringify({ op: 'read', object: object.name }), ...(signal && { signal }) })).url;
    let res: Response;
    try {
      res = await this.fetchImpl(url, signal ? { signal } : {});
    } catch (e) {
      if ((e as Error).name === 'AbortError') throw e;
      throw new BucketError(`cannot download ${object.name} (offline, or the bucket's CORS settings refuse this site)`, 0);
    }
    if (!res.ok) throw new BucketError(`downloading ${object.name} failed with ${res.status}`, res.status);
    return res.blob();
  }

  /**
   * Uploads one object: a signed write URL bound to its type and size, a PUT straight to the
   * bucket, then the server's check of the stored bytes. Objects are never overwritten: the
   * server refuses a name that exists.
   */
  async upload(object: string, data: Blob, signal?: AbortSignal): Promise<{ name: string; size: number }> {
    const contentType = contentTypeFor(object);
    if (!contentType) throw new BucketError(`${object}: the server stores images, zips, JSON, .bin, .svg and label files (.csv, .jsonl) only`, 400);
    const signed = await this.api<{ url: string; method: 'PUT'; headers: Record<string, string> }>('/api/storage/signed-url', {
      method: 'POST',
      headers: this.headers(true),
      body: JSON.stringify({ op: 'write', object, contentType, size: data.size }),
      ...(signal && { signal }),
    });
    let res: Response;
    try {
      res = await this.fetchImpl(signed.url, { method: signed.method, headers: signed.headers, body: data, ...(signal && { signal }) });
    } catch (e) {
      if ((e as Error).name === 'AbortError') throw e;
      throw new BucketError(`cannot upload ${object} (offline, or the bucket's CORS settings refuse this site)`, 0);
    }
    if (!res.ok) {
      const text = await res.text().catch(() => '');
      const message = /"message"\s*:\s*"([^"]+)"/.exec(text)?.[1] ?? /<Message>([^<]+)<\/Message>/.exec(text)?.[1] ?? `status ${res.status}`;
      throw new BucketError(`uploading ${object} failed: ${message}`, res.status);
    }
    await this.api('/api/storage/verify', { method: 'POST', headers: this.headers(true), body: JSON.stringify({ object }), ...(signal && { signal }) });
    return { name: object, size: data.size };
  }
}
