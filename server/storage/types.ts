/** What `POST /api/storage/signed-url` answers: the browser sends `method` to `url` with `headers`. */
export interface SignedUrl {
  url: string;
  method: 'GET' | 'PUT';
  /** Headers the request must carry exactly as given (they are part of the signature). */
  headers: Record<string, string>;
  /** ISO 8601. */
  expiresAt: string;
  /** The object the URL is for, as the server checked it. */
  object: string;
}

/** One object of a listing. */
export interface ObjectInfo {
  name: string;
  size: number;
  /** ISO 8601. */
  updated: string;
  contentType?: string;
  /** A signed read URL, when the listing was asked for `signed=true`. */
  url?: string;
}

/** A page of a listing. */
export interface ObjectPage {
  objects: ObjectInfo[];
  /** Pass back as `pageToken` for the next page; absent on the last one. */
  nextPageToken?: string;
}

/**
 * Where objects live: the embedded bucket on disk or a Cloud Storage bucket. Names reaching
 * a store have been checked (object-names.ts); stores never take a bucket or host from a client.
 */
export interface ObjectStore {
  readonly kind: 'local' | 'gcs';
  /** One line for the start-up message. */
  describe(): string;
  signRead(object: string): Promise<SignedUrl>;
  signWrite(object: string, contentType: string, size: number): Promise<SignedUrl>;
  list(prefix: string, options: { pageToken?: string; maxResults: number }): Promise<ObjectPage>;
  /**
   * Checks an uploaded object's bytes against its declared type and deletes it when they do
   * not match (Cloud Storage cannot check before storing; the embedded bucket already has).
   */
  verify(object: string): Promise<ObjectInfo>;
}
