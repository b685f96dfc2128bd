/**
 * Keeps UPLOAD_DIR from growing without bound: every upload is stored, so without this any client
 * fills the disk in time. A sweep removes stored uploads not uploaded again for UPLOAD_KEEP_HOURS,
 * except those a feedback report names (a report stays reviewable and exportable with its image).
 * Then, while the rest take more than UPLOAD_DIR_MAX_BYTES, it removes the least recently uploaded,
 * down to 90 % of the bound (so one new upload does not start another sweep): reported uploads last,
 * only when the others cannot bring the folder under it (not even those in use, once they age), since anyone may post a report naming any
 * upload and the bound must hold against that too. An upload of the last minute (or two prediction
 * deadlines) is never removed: its job or its result page may still read it. Temporary files left by
 * a crash (a spill or a write cut short) are removed once no request can still be writing them. A
 * file that cannot be removed is counted and skipped; the sweep goes on.
 *
 * "Recently uploaded" is the file's mtime: an identical upload finds its file already stored and
 * refreshes it (UploadStore.persist), so an image in use is the newest whatever its first upload.
 * Each removal looks at the file again first and spares it when it was refreshed since the scan,
 * so a sweep does not pull an upload from under the job that just re-used it.
 *
 * The api sweeps at start, every SWEEP_EVERY_MS, and at once when its own writes since the last sweep
 * take the folder over the size bound; a sweep kept over the bound by uploads in use sweeps again once
 * they are not. Several api processes sharing the folder each sweep; a file
 * removed by another is skipped.
 */
import { readdir, stat, unlink } from 'node:fs/promises';
import { join } from 'node:path';
import type { Config } from '@icls/lib/config';
import { sleep } from '@icls/lib/deadline';
import { every } from '@icls/lib/every';
import { whenMissing } from '@icls/lib/fs-errors';
import type { Logger } from '@icls/lib/logger';
import { STORED_NAME } from './allowed-file.ts';

export interface RetentionPolicy {
  /** A stored upload not uploaded again for longer is removed; 0: kept for ever. */
  keepMs: number;
  /** Bytes the stored uploads may take; 0: no bound. */
  maxBytes: number;
  /** A temporary file older than this is a leftover: no request can still be writing it. */
  tempKeepMs: number;
  /** An upload this recent may still be read by its job or its result page: never removed. */
  inUseMs: number;
}

export type RemovalReason = 'age' | 'size' | 'leftover';

export interface SweepResult {
  /** Stored uploads left, and their bytes. */
  files: number;
  bytes: number;
  removed: Record<RemovalReason, number>;
  removedBytes: number;
  /** Uploads past the keep time that a feedback report names (kept). */
  keptForReports: number;
  /** Uploads a feedback report names, removed all the same for the size bound. */
  removedReported: number;
  /** Uploads the size bound would have removed but that are in use (uploaded within inUseMs). */
  keptInUse: number;
  /** Files that could not be removed (permissions, a read-only mount…), and the first one's error. */
  failed: number;
  firstFailure?: string;
}

/** The names the api gives temporary files in UPLOAD_DIR (upload-store.ts, writable-dirs.ts). */
const TEMPORARY = /^\.(upload|write-check)-[0-9a-f]+$/;
/**
 * Files looked at or removed at once: libuv's thread pool has 4 threads, so uploads' own file calls
 * wait behind at most this many of the sweep's.
 */
const BATCH = 4;
/** The share of its time a sweep works; the rest it rests. */
const SWEEP_DUTY = 0.2;
/** Items between rests (a multiple of BATCH). */
const PACE_EVERY = 64;
/** A sweep brings an oversized folder down to this share of the bound. */
const SIZE_TARGET = 0.9;
/** The periodic sweep (the age bound is in hours; a paced scan of 50,000 files took 9–10 s). */
export const SWEEP_EVERY_MS = 60 * 60_000;
/** Over the bound after a sweep, the api's writes start the next one after this share of the bound more. */
const STUCK_STEP = 0.1;

interface FileInfo {
  name: string;
  size: number;
  mtimeMs: number;
}

/** Which of `among` (the stored uploads' names) feedback reports name. */
export type ReportedAmong = (among: ReadonlySet<string>) => Promise<ReadonlySet<string>>;

/** One pass over `dir`; `reported` is asked only when something would be removed. */
export async function sweepUploads(dir: string, policy: RetentionPolicy, reported: ReportedAmong, now = Date.now()): Promise<SweepResult> {
  const { stored, temporary } = await listFiles(dir);
  const result: SweepResult = {
    files: stored.length,
    bytes: stored.reduce((n, f) => n + f.size, 0),
    removed: { age: 0, size: 0, leftover: 0 },
    removedBytes: 0,
    keptForReports: 0,
    removedReported: 0,
    keptInUse: 0,
    failed: 0,
  };
  const remove = async (f: FileInfo, reason: RemovalReason): Promise<boolean> => {
    try {
      if (!(await removeIfUnchanged(join(dir, f.name), f.mtimeMs))) return false;
    } catch (err) {
      result.failed++;
      result.firstFailure ??= (err as Error).message;
      return false;
    }
    result.removed[reason]++;
    result.removedBytes += f.size;
    if (reason !== 'leftover') {
      result.files--;
      result.bytes -= f.size;
    }
    return true;
  };
  await inBatches(temporary.filter((f) => f.mtimeMs < now - policy.tempKeepMs), (f) => remove(f, 'leftover'));

  const tooOld = policy.keepMs > 0 ? stored.filter((f) => f.mtimeMs < now - policy.keepMs) : [];
  const oversized = policy.maxBytes > 0 && result.bytes > policy.maxBytes;
  if (tooOld.length === 0 && !oversized) return result;

  const keep = await reported(new Set(stored.map((f) => f.name)));
  const gone = new Set<FileInfo>();
  result.keptForReports = tooOld.filter((f) => keep.has(f.name)).length;
  await inBatches(tooOld.filter((f) => !keep.has(f.name)), async (f) => (await remove(f, 'age')) && gone.add(f));
  if (policy.maxBytes > 0 && result.bytes > policy.maxBytes) {
    const target = Math.floor(policy.maxBytes * SIZE_TARGET);
    const candidates = stored.filter((f) => !gone.has(f)).sort((a, b) => a.mtimeMs - b.mtimeMs);
    const inUse = candidates.filter((f) => f.mtimeMs >= now - policy.inUseMs);
    const removable = candidates.filter((f) => f.mtimeMs < now - policy.inUseMs);
    // Unreported uploads first, oldest first; reported ones only if those cannot reach the target, not even
    // with the unreported ones in use (the sweep after they age removes those instead), and only if removing
    // reported ones can bring the folder under the bound now.
    const chosen: FileInfo[] = [];
    let left = result.bytes;
    const take = (files: FileInfo[]) => {
      for (const f of files) {
        if (left <= target) break;
        chosen.push(f);
        left -= f.size;
      }
    };
    take(removable.filter((f) => !keep.has(f.name)));
    const reportedRemovable = removable.filter((f) => keep.has(f.name));
    const bytesOf = (files: FileInfo[]) => files.reduce((n, f) => n + f.size, 0);
    const unreportedLater = bytesOf(inUse.filter((f) => !keep.has(f.name)));
    if (left - unreportedLater > target && left - bytesOf(reportedRemovable) <= policy.maxBytes) take(reportedRemovable);
    if (left > target) result.keptInUse = inUse.length;
    await inBatches(chosen, async (f) => {
      if ((await remove(f, 'size')) && keep.has(f.name)) result.removedReported++;
    });
  }
  return result;
}

/** The stored uploads and temporary files in `dir`, with size and mtime; anything else is left alone. */
async function listFiles(dir: string): Promise<{ stored: FileInfo[]; temporary: FileInfo[] }> {
  const entries = await readdir(dir, { withFileTypes: true }).catch(whenMissing([]));
  const stored: FileInfo[] = [];
  const temporary: FileInfo[] = [];
  const wanted = entries.filter((e) => e.isFile() && (STORED_NAME.test(e.name) || TEMPORARY.test(e.name)));
  await inBatches(wanted, async (e) => {
    const info = await fileInfo(join(dir, e.name), e.name);
    if (info) (STORED_NAME.test(info.name) ? stored : temporary).push(info);
  });
  return { stored, temporary };
}

/**
 * Runs `fn` over `items`, BATCH at a time, and paces itself: after each PACE_EVERY items it rests
 * for (1 / SWEEP_DUTY − 1) times as long as they took, so a sweep of a big folder spreads out
 * instead of taking the api's event loop and the thread pool from the requests.
 */
async function inBatches<T>(items: readonly T[], fn: (item: T) => Promise<unknown>): Promise<void> {
  let since = performance.now();
  for (let i = 0; i < items.length; i += BATCH) {
    await Promise.all(items.slice(i, i + BATCH).map(fn));
    if ((i + BATCH) % PACE_EVERY === 0) {
      await sleep((performance.now() - since) * (1 / SWEEP_DUTY - 1));
      since = performance.now();
    }
  }
}

/** Size and mtime; undefined when the file went meanwhile (another api's sweep, a rename). */
async function fileInfo(path: string, name: string): Promise<FileInfo | undefined> {
  const s = await stat(path).catch(whenMissing(undefined));
  return s?.isFile() ? { name, size: s.size, mtimeMs: s.mtimeMs } : undefined;
}

/** Removes the file unless it was refreshed (uploaded again) since it was listed; false when it was kept or gone. */
async function removeIfUnchanged(path: string, mtimeMs: number): Promise<boolean> {
  const now = await fileInfo(path, '');
  if (!now || now.mtimeMs !== mtimeMs) return false;
  return unlink(path).then(() => true, whenMissing(false));
}

/** A temporary file is a leftover after an hour, or twice the longest a request may take to arrive and be stored. */
const TEMP_KEEP_MIN_MS = 60 * 60_000;
/** An upload is in use for a minute, or twice a prediction's deadline: its job and its result page read it. */
const IN_USE_MIN_MS = 60_000;

export function retentionPolicy(config: Pick<Config, 'UPLOAD_KEEP_HOURS' | 'UPLOAD_DIR_MAX_BYTES' | 'REQUEST_RECEIVE_TIMEOUT_MS' | 'REQUEST_TIMEOUT_MS'>): RetentionPolicy {
  return {
    keepMs: config.UPLOAD_KEEP_HOURS * 60 * 60_000,
    maxBytes: config.UPLOAD_DIR_MAX_BYTES,
    tempKeepMs: Math.max(TEMP_KEEP_MIN_MS, 2 * (config.REQUEST_RECEIVE_TIMEOUT_MS + config.REQUEST_TIMEOUT_MS)),
    inUseMs: Math.max(IN_USE_MIN_MS, 2 * config.REQUEST_TIMEOUT_MS),
  };
}

/** What the api tells about its sweeps (metrics). */
export interface RetentionObserver {
  swept(result: SweepResult): void;
  /** The folder's size as this process knows it between sweeps: the last sweep's count plus its own writes since. */
  grew?(bytes: number): void;
}

/** setTimeout's longest delay (a longer one fires at once, with a warning). */
const MAX_TIMER_MS = 2 ** 31 - 1;

/** The api's sweeper: at start, periodically, and when its own writes take the folder over the bound. */
export class UploadRetention {
  private stopTimer?: () => void;
  private running?: Promise<SweepResult | undefined>;
  /** Bytes in the folder at the last sweep, and what this process wrote since. */
  private lastBytes = 0;
  private writtenSince = 0;
  /** Writes went over the bound while a sweep ran: look again when it ends. */
  private pending = false;
  /** A sweep that uploads in use kept over the bound: again once they are no longer in use. */
  private retry?: NodeJS.Timeout;
  private stopped = false;

  constructor(
    private readonly dir: string,
    private readonly policy: RetentionPolicy,
    private readonly reported: ReportedAmong,
    private readonly log: Logger,
    private readonly observer?: RetentionObserver,
  ) {}

  get enabled(): boolean {
    return this.policy.keepMs > 0 || this.policy.maxBytes > 0;
  }

  start(intervalMs = SWEEP_EVERY_MS): void {
    void this.sweep();
    this.stopTimer = every(intervalMs, () => this.sweep(), (err) => this.log.error({ err }, 'upload sweep failed'));
  }

  /** A new upload file of `bytes` was written. */
  noteStored(bytes: number): void {
    this.writtenSince += bytes;
    // Without a sweeper the folder was never counted: its own writes alone would pass for its size.
    if (this.enabled) this.observer?.grew?.(this.lastBytes + this.writtenSince);
    this.sweepIfOver();
  }

  private sweepIfOver(): void {
    const max = this.policy.maxBytes;
    if (max <= 0 || this.lastBytes + this.writtenSince <= max) return;
    // The last sweep could not get under the bound (uploads in use, files it could not remove): the
    // next one waits for a tenth of it more, not one per upload.
    if (this.lastBytes > max && this.writtenSince < max * STUCK_STEP) return;
    if (this.running) this.pending = true;
    else void this.sweep();
  }

  /** One sweep (the one running, if any); never rejects: a failure is logged. */
  sweep(): Promise<SweepResult | undefined> {
    this.running ??= this.sweepOnce().finally(() => {
      this.running = undefined;
      if (this.pending) {
        this.pending = false;
        this.sweepIfOver();
      }
    });
    return this.running;
  }

  async stop(): Promise<void> {
    this.stopped = true;
    this.stopTimer?.();
    clearTimeout(this.retry);
    await this.running;
  }

  private async sweepOnce(): Promise<SweepResult | undefined> {
    const written = this.writtenSince;
    try {
      const result = await sweepUploads(this.dir, this.policy, this.reported);
      this.lastBytes = result.bytes;
      this.writtenSince -= written;
      const stuck = this.policy.maxBytes > 0 && result.bytes > this.policy.maxBytes;
      if (stuck && result.keptInUse > 0 && !this.retry && !this.stopped) {
        this.retry = setTimeout(() => {
          this.retry = undefined;
          void this.sweep();
        }, Math.min(this.policy.inUseMs, MAX_TIMER_MS));
        this.retry.unref();
      }
      this.observer?.swept(result);
      const removed = result.removed.age + result.removed.size + result.removed.leftover;
      if (removed > 0) this.log.info({ ...result, dir: this.dir }, 'removed old uploads');
      if (result.removedReported > 0) {
        this.log.warn(
          { removedReported: result.removedReported, maxBytes: this.policy.maxBytes, dir: this.dir },
          'removed uploads that feedback reports name, to stay under UPLOAD_DIR_MAX_BYTES: their reports remain, without the image (raise the bound, or download /feedback/dataset.tar more often)',
        );
      }
      if (result.failed > 0) {
        this.log.warn({ failed: result.failed, firstFailure: result.firstFailure, dir: this.dir }, 'some uploads could not be removed: they were skipped');
      }
      return result;
    } catch (err) {
      this.log.error({ err, dir: this.dir }, 'upload sweep failed');
      return undefined;
    }
  }
}
