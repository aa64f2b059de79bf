/**
 * An error meant for the HTTP client as it is: the error handler answers with its status, a
 * stable machine-readable `code` and the message, which says what to change.
 */
export class HttpError extends Error {
  constructor(
    readonly statusCode: number,
    readonly code: string,
    message: string,
    /** Extra response headers (for example `WWW-Authenticate`). */
    readonly headers: Readonly<Record<string, string>> = {},
  ) {
    super(message);
    this.name = 'HttpError';
  }
}

/** The server cannot start with this configuration; the message names the variable. */
export class ConfigError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'ConfigError';
  }
}

/** Body of every error response. */
export interface ErrorBody {
  statusCode: number;
  /** The HTTP reason phrase. */
  error: string;
  code: string;
  message: string;
}
