/**
 * Downloads one file safely: bytes stream into a hidden temporary file next to the target while
 * being hashed, a dropped connection is resumed with an HTTP Range request, and only a file whose
 * size and sha256 match is renamed into place. On any failure the partial file is removed, so the
 * target either appears complete and verified or not at all.
 */
import { open, rename, rm, type FileHandle } from 'node:fs/promises';
import { createHash, randomBytes, type Hash } from 'node:crypto';
import { basename, dirname, join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import {
  ChecksumMismatchError,
  DownloadCancelledError,
  HttpStatusError,
  NetworkError,
  SizeMismatchError,
  describeCause,
} from './download-errors.ts';
import { parseContentRange, RateMeter } from './transfer-meter.ts';

/** One progress report; `finished` is true on the last one, when every byte is in (before verification). */
export interface DownloadProgress {
  url: string;
  bytesDone: number;
  /** Known from the expected size or the server's headers; undefined when neither says. */
  bytesTotal: number | undefined;
  /** Over the last few seconds, so it follows the current speed rather than the average. */
  bytesPerSecond: number;
  etaSeconds: number | undefined;
  /** 1 for the first request, 2 for the first retry, … */
  attempt: number;
  finished: boolean;
}

export interface DownloadOptions {
  url: string;
  /** Final path; the temporary file is created in the same folder so the last step is a rename. */
  target: string;
  expectedSize?: number;
  /** Lower-case hex. When given, a file with another digest is discarded with ChecksumMismatchError. */
  expectedSha256?: string;
  onProgress?: (progress: DownloadProgress) => void;
  /** For tests and proxies; defaults to the global fetch. */
  fetchImpl?: typeof fetch;
  /** Attempts in a row that may fail without receiving a new byte (default 5). */
  maxAttempts?: number;
  /** First back-off delay; doubled after each failure up to 30 s (default 1000 ms). */
  retryDelayMs?: number;
  /** A connection that delivers no byte for this long is dropped and resumed (default 30 s). */
  stallTimeoutMs?: number;
  signal?: AbortSignal;
  /** Told before each wait between attempts: with no byte coming, the progress bar alone would show nothing. */
  onRetry?: (retry: DownloadRetry) => void;
}

/** The options as the attempts use them: the URL without credentials, which travel as a header. */
type Download = DownloadOptions & { authorization?: string };

export interface DownloadRetry {
  url: string;
  /** The attempt that failed, of at most `maxAttempts` in a row without a new byte. */
  failed: number;
  maxAttempts: number;
  reason: string;
  delayMs: number;
}

export interface DownloadResult {
  path: string;
  sizeBytes: number;
  sha256: string;
  /** Requests made, including the successful one. */
  attempts: number;
}

const DEFAULTS = { maxAttempts: 5, retryDelayMs: 1000, stallTimeoutMs: 30_000, maxDelayMs: 30_000 };

/**
 * Downloads `url` to `target`, verifying size and sha256 when given.
 * @throws HttpStatusError, NetworkError, SizeMismatchError, ChecksumMismatchError, DownloadCancelledError,
 *   or a file-system error when the temporary file cannot be written (those are not retried).
 */
export async function downloadFile(given: DownloadOptions): Promise<DownloadResult> {
  const { url, authorization } = credentialsApart(given.url);
  const opts: Download = { ...given, url, authorization };
  const tempPath = join(dirname(opts.target), `.${basename(opts.target)}.${randomBytes(4).toString('hex')}.part`);
  const file = await open(tempPath, 'w');
  const transfer: Transfer = { file, hash: createHash('sha256'), done: 0, total: opts.expectedSize, validator: undefined };
  try {
    const attempts = await transferWithRetries(opts, transfer);
    await file.datasync();
    await file.close();
    if (opts.expectedSize !== undefined && transfer.done !== opts.expectedSize) {
      throw new SizeMismatchError(opts.url, opts.expectedSize, transfer.done);
    }
    const sha256 = transfer.hash.digest('hex');
    if (opts.expectedSha256 !== undefined && sha256 !== opts.expectedSha256.toLowerCase()) {
      throw new ChecksumMismatchError(opts.url, opts.expectedSha256.toLowerCase(), sha256);
    }
    await rename(tempPath, opts.target);
    return { path: opts.target, sizeBytes: transfer.done, sha256, attempts };
  } catch (err) {
    // The download already failed; a second failure while closing must not replace the first error,
    // and the handle may already be closed. The temporary file is removed either way.
    await file.close().catch(() => undefined);
    await rm(tempPath, { force: true });
    throw err;
  }
}

/** What survives between attempts: the bytes on disk, their running hash, and what the server said. */
interface Transfer {
  file: FileHandle;
  hash: Hash;
  done: number;
  total: number | undefined;
  /** ETag or Last-Modified of the first response, sent as If-Range so a changed file restarts cleanly. */
  validator: string | undefined;
}

/** A connection problem worth retrying: the request failed, the body broke off, or it stalled. */
class TransferInterrupted extends Error {
  constructor(cause: unknown) {
    super(describeCause(cause), { cause });
  }
}

async function transferWithRetries(opts: Download, transfer: Transfer): Promise<number> {
  const maxAttempts = opts.maxAttempts ?? DEFAULTS.maxAttempts;
  const meter = new RateMeter();
  let failuresInARow = 0;
  for (let attempt = 1; ; attempt += 1) {
    const before = transfer.done;
    try {
      await runAttempt(opts, transfer, attempt, meter);
      return attempt;
    } catch (err) {
      if (opts.signal?.aborted) throw new DownloadCancelledError(opts.url);
      const retryable = err instanceof TransferInterrupted || (err instanceof HttpStatusError && err.retryable);
      if (!retryable) throw err;
      // Progress proves the link works, so only failures that brought no new byte use up attempts.
      failuresInARow = transfer.done > before ? 1 : failuresInARow + 1;
      if (failuresInARow >= maxAttempts) {
        if (err instanceof HttpStatusError) throw err.withAttempts(attempt);
        throw new NetworkError(opts.url, attempt, err.cause ?? err);
      }
      const jittered = backOffDelay(opts, failuresInARow);
      opts.onRetry?.({ url: opts.url, failed: failuresInARow, maxAttempts, reason: retryReason(err), delayMs: jittered });
      await backOff(opts, jittered);
    }
  }
}

/** Why an attempt failed, in a few words: the HTTP status, or the network's reason. */
const retryReason = (err: unknown): string => (err instanceof HttpStatusError ? `HTTP ${err.status}` : (err as Error).message);

function backOffDelay(opts: Download, failures: number): number {
  const base = opts.retryDelayMs ?? DEFAULTS.retryDelayMs;
  const delay = Math.min(base * 2 ** (failures - 1), DEFAULTS.maxDelayMs);
  // Jitter keeps several clients that failed together from retrying in lockstep.
  return Math.round(delay * (0.75 + Math.random() * 0.5));
}

async function backOff(opts: Download, jittered: number): Promise<void> {
  try {
    await sleep(jittered, undefined, { signal: opts.signal });
  } catch (err) {
    if (opts.signal?.aborted) throw new DownloadCancelledError(opts.url);
    throw err;
  }
}

/** One HTTP request: from the start, or from `transfer.done` with a Range header when resuming. */
async function runAttempt(opts: Download, transfer: Transfer, attempt: number, meter: RateMeter): Promise<void> {
  // An abort before this attempt would never fire the listener below.
  if (opts.signal?.aborted) throw new DownloadCancelledError(opts.url);
  const controller = new AbortController();
  const forwardAbort = (): void => controller.abort(opts.signal?.reason);
  opts.signal?.addEventListener('abort', forwardAbort, { once: true });
  const stallMs = opts.stallTimeoutMs ?? DEFAULTS.stallTimeoutMs;
  let stallTimer: NodeJS.Timeout | undefined;
  const armStallTimer = (): void => {
    clearTimeout(stallTimer);
    stallTimer = setTimeout(
      () => controller.abort(new Error(`no data received for ${Math.round(stallMs / 1000)} s`)),
      stallMs,
    );
  };
  try {
    armStallTimer();
    const response = await request(opts, transfer, controller);
    const body = response === 'already-complete' ? null : response.body;
    if (body) {
      const reader = body.getReader();
      for (;;) {
        let next: Awaited<ReturnType<typeof reader.read>>;
        try {
          next = await reader.read();
        } catch (err) {
          throw new TransferInterrupted(controller.signal.aborted ? controller.signal.reason : err);
        }
        if (next.done) break;
        armStallTimer();
        await appendChunk(transfer, next.value);
        meter.add(next.value.byteLength);
        opts.onProgress?.(progressOf(opts.url, transfer, meter, attempt, false));
      }
    }
    if (transfer.total !== undefined && transfer.done < transfer.total) {
      throw new TransferInterrupted(new Error(`connection closed after ${transfer.done} of ${transfer.total} bytes`));
    }
    if (transfer.total !== undefined && transfer.done > transfer.total) {
      throw new SizeMismatchError(opts.url, transfer.total, transfer.done);
    }
    opts.onProgress?.(progressOf(opts.url, transfer, meter, attempt, true));
  } finally {
    clearTimeout(stallTimer);
    opts.signal?.removeEventListener('abort', forwardAbort);
    // Releases the socket when we stop early (bad status, write error); a no-op after a complete body.
    controller.abort();
  }
}

/** Sends the request and reconciles its answer with what is already on disk. */
async function request(
  opts: Download,
  transfer: Transfer,
  controller: AbortController,
): Promise<Response | 'already-complete'> {
  const resuming = transfer.done > 0;
  // identity: a compressed body would make Content-Length and Range count other bytes than the file's.
  const headers: Record<string, string> = { 'accept-encoding': 'identity' };
  if (opts.authorization) headers.authorization = opts.authorization;
  if (resuming) {
    headers.range = `bytes=${transfer.done}-`;
    if (transfer.validator) headers['if-range'] = transfer.validator;
  }
  let response: Response;
  try {
    response = await (opts.fetchImpl ?? fetch)(opts.url, { headers, signal: controller.signal, redirect: 'follow' });
  } catch (err) {
    throw new TransferInterrupted(controller.signal.aborted ? controller.signal.reason : err);
  }

  if (resuming && response.status === 206) {
    const range = parseContentRange(response.headers.get('content-range'));
    if (range?.start !== transfer.done) {
      await discard(response);
      await restart(transfer);
      throw new TransferInterrupted(new Error(`server resumed at the wrong offset (${response.headers.get('content-range')})`));
    }
    checkTotal(opts, transfer, range.total);
    return response;
  }
  if (response.status === 200) {
    // A 200 to a Range request means the server cannot resume or the file changed (If-Range): start over.
    if (resuming) await restart(transfer);
    transfer.validator = response.headers.get('etag') ?? response.headers.get('last-modified') ?? undefined;
    const length = response.headers.get('content-encoding') ? undefined : parseLength(response.headers.get('content-length'));
    checkTotal(opts, transfer, length);
    return response;
  }
  if (resuming && response.status === 416 && transfer.total !== undefined && transfer.done >= transfer.total) {
    await discard(response);
    return 'already-complete';
  }
  await discard(response);
  throw new HttpStatusError(opts.url, response.status, response.statusText);
}

/** Fails fast when the server announces another size than the catalog's, rather than after the whole body. */
function checkTotal(opts: Download, transfer: Transfer, announced: number | undefined): void {
  if (announced === undefined) return;
  if (opts.expectedSize !== undefined && announced !== opts.expectedSize) {
    throw new SizeMismatchError(opts.url, opts.expectedSize, announced);
  }
  transfer.total = announced;
}

async function restart(transfer: Transfer): Promise<void> {
  await transfer.file.truncate(0);
  transfer.hash = createHash('sha256');
  transfer.done = 0;
  transfer.validator = undefined;
}

async function appendChunk(transfer: Transfer, chunk: Uint8Array): Promise<void> {
  let offset = 0;
  while (offset < chunk.byteLength) {
    const { bytesWritten } = await transfer.file.write(chunk, offset, chunk.byteLength - offset, transfer.done + offset);
    offset += bytesWritten;
  }
  transfer.hash.update(chunk);
  transfer.done += chunk.byteLength;
}

async function discard(response: Response): Promise<void> {
  // The body is unwanted; cancelling may race the connection closing, which changes nothing here.
  await response.body?.cancel().catch(() => undefined);
}

function parseLength(raw: string | null): number | undefined {
  if (raw === null || !/^\d+$/.test(raw.trim())) return undefined;
  return Number(raw);
}

function progressOf(url: string, transfer: Transfer, meter: RateMeter, attempt: number, finished: boolean): DownloadProgress {
  const bytesPerSecond = meter.bytesPerSecond();
  const remaining = transfer.total === undefined ? undefined : Math.max(0, transfer.total - transfer.done);
  const etaSeconds = remaining === undefined ? undefined : remaining === 0 ? 0 : bytesPerSecond > 0 ? remaining / bytesPerSecond : undefined;
  return { url, bytesDone: transfer.done, bytesTotal: transfer.total, bytesPerSecond, etaSeconds, attempt, finished };
}

/**
 * A private mirror's user and password (`https://user:password@mirror.example/zoo`) sent as Basic
 * authentication, as curl does: fetch refuses a URL with credentials outright, and every message
 * and progress line shows the URL, which must not carry the password.
 */
function credentialsApart(raw: string): { url: string; authorization?: string } {
  const u = new URL(raw);
  if (u.username === '' && u.password === '') return { url: raw };
  const user = decodeURIComponent(u.username);
  const password = decodeURIComponent(u.password);
  u.username = '';
  u.password = '';
  return { url: u.href, authorization: `Basic ${Buffer.from(`${user}:${password}`).toString('base64')}` };
}
