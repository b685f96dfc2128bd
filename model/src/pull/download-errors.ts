/**
 * What can go wrong with a download, one class each, so callers branch on the kind of failure
 * (retry, tell the user to check the URL, distrust the mirror) instead of parsing messages.
 */

/** Base class: every download failure names the URL it was fetching. */
export class DownloadError extends Error {
  override name = 'DownloadError';
  constructor(
    message: string,
    readonly url: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
  }
}

/** What a final status asks of the user, appended to its message. */
const STATUS_HINTS: Readonly<Record<number, string>> = {
  401: " (the server asks for a user and password: give them in the mirror's URL, https://user:password@host/…, with special characters %-escaped)",
  403: ' (access denied)',
  404: ' (no such file at that address: check the URL or the mirror)',
};

/** The server answered with a status other than 200/206. 4xx are final; 5xx, 408 and 429 are retried first. */
export class HttpStatusError extends DownloadError {
  override name = 'HttpStatusError';
  constructor(
    url: string,
    readonly status: number,
    readonly statusText: string,
    /** How many requests got an error status before giving up (more than 1 only for retryable ones). */
    readonly attempts = 1,
  ) {
    const hint = STATUS_HINTS[status] ?? '';
    const tries = attempts > 1 ? ` (${attempts} attempts)` : '';
    super(`GET ${url} answered HTTP ${status}${statusText ? ` ${statusText}` : ''}${hint}${tries}`, url);
  }

  /** The same error, counting the attempts made before giving up. */
  withAttempts(attempts: number): HttpStatusError {
    return new HttpStatusError(this.url, this.status, this.statusText, attempts);
  }

  /** Server-side or throttling trouble that may pass; a 404 will not. */
  get retryable(): boolean {
    return this.status >= 500 || this.status === 408 || this.status === 429;
  }
}

/** The connection kept failing (refused, reset, dropped, stalled) until the attempts ran out. */
export class NetworkError extends DownloadError {
  override name = 'NetworkError';
  constructor(
    url: string,
    readonly attempts: number,
    cause: unknown,
  ) {
    super(`could not download ${url} after ${attempts} attempt${attempts === 1 ? '' : 's'}: ${describeCause(cause)}`, url, {
      cause,
    });
  }
}

/** The bytes arrived but are not the expected ones: corrupted in transit, or changed at the source. */
export class ChecksumMismatchError extends DownloadError {
  override name = 'ChecksumMismatchError';
  constructor(
    url: string,
    readonly expected: string,
    readonly actual: string,
  ) {
    super(
      `sha256 mismatch for ${url}: expected ${expected}, got ${actual}; the download was discarded ` +
        '(corrupted in transit, or the file changed at the source or mirror)',
      url,
    );
  }
}

/** The transfer ended with more or fewer bytes than expected. */
export class SizeMismatchError extends DownloadError {
  override name = 'SizeMismatchError';
  constructor(
    url: string,
    readonly expected: number,
    readonly actual: number,
  ) {
    super(`size mismatch for ${url}: expected ${expected} bytes, got ${actual}; the download was discarded`, url);
  }
}

/** The caller's AbortSignal fired (e.g. Ctrl-C); the partial file was removed. */
export class DownloadCancelledError extends DownloadError {
  override name = 'DownloadCancelledError';
  constructor(url: string) {
    super(`download of ${url} was cancelled; the partial file was removed`, url);
  }
}

/**
 * undici reports network trouble as `TypeError: fetch failed` with the useful part in `cause`
 * (`connect ECONNREFUSED 127.0.0.1:9`, `other side closed`), so walk the chain for the words a user needs.
 */
export function describeCause(err: unknown): string {
  const parts: string[] = [];
  let current: unknown = err;
  for (let depth = 0; current !== undefined && current !== null && depth < 4; depth += 1) {
    const message = current instanceof Error ? current.message : String(current);
    if (message && !parts.includes(message)) parts.push(message);
    current = current instanceof Error ? current.cause : undefined;
  }
  return parts.join(': ') || 'unknown error';
}
