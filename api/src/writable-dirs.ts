/**
 * The api's folders are checked once at start-up: created if missing, and a file written and removed
 * in each. A folder it cannot write (read-only, wrong owner, a mount that is not there) stops the
 * start with the variable's name and the system's reason, instead of a ready service answering every
 * upload or report with a 500.
 */
import { randomBytes } from 'node:crypto';
import { rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { ConfigError, type Config } from '@icls/lib/config';
import { AppError } from '@icls/lib/errors';
import { isUnwritable } from '@icls/lib/fs-errors';
import { makeDirs } from '@icls/lib/make-dirs';
import { UPLOAD_DIR_MARK } from '@icls/lib/job-contract';
import type { Logger } from '@icls/lib/logger';

export async function assertWritableDirs(config: Pick<Config, 'UPLOAD_DIR' | 'FEEDBACK_DIR'>): Promise<void> {
  const failures: string[] = [];
  for (const name of ['UPLOAD_DIR', 'FEEDBACK_DIR'] as const) {
    const dir = config[name];
    try {
      await makeDirs(dir);
      await probeWrite(dir);
    } catch (err) {
      const e = err as NodeJS.ErrnoException;
      failures.push(`  ${name} ${dir}: the api cannot write there (${e.message})`);
    }
  }
  if (failures.length) throw new ConfigError(`invalid configuration:\n${failures.join('\n')}`);
}

/** Leaves UPLOAD_DIR_MARK in UPLOAD_DIR (at start, after the check), for the workers' spot check of the folder they share. */
export async function markUploadDir(dir: string): Promise<void> {
  // 'a': created when missing, left as it is otherwise (several apis share the folder).
  await writeFile(join(dir, UPLOAD_DIR_MARK), '', { flag: 'a' });
}

/** Writes a file in `dir` and removes it. */
async function probeWrite(dir: string): Promise<void> {
  const probe = join(dir, `.write-check-${randomBytes(6).toString('hex')}`);
  await writeFile(probe, '', { flag: 'wx' });
  await rm(probe);
}

export type WritableDirName = 'UPLOAD_DIR' | 'FEEDBACK_DIR';

/** While a folder is known not to be writable, /readyz writes in it again at most this often… */
const PROBE_EVERY_MS = 5000;
/** …and waits this long at most for that write (a hung network mount must not hang /readyz). */
const PROBE_WAIT_MS = 500;

/** What a store tells of its writes in its folder: a failure may be the folder's own. */
export interface DirWrites {
  /** The error to throw for a failed write: a refusal naming the folder's variable, or `err` as it was. */
  refusal(err: unknown): unknown;
  written(): void;
}

/**
 * A folder the api writes while it runs. The start-up check cannot see a disk remounted read-only later
 * (the kernel does that on I/O errors), or an owner or mode changed under the api: each upload or report
 * then failed as a 500 INTERNAL with a stack. A write refused so is the server's trouble and lasts until
 * an operator acts: 503 STORAGE_UNWRITABLE naming the variable, one error line when it starts (the
 * refusals after it are sampled warnings, as other 503s), and /readyz says so. The next write that
 * succeeds ends it; so does /readyz's own write, made only while the folder is known broken, so a
 * healthy /readyz costs nothing more.
 */
export class WritableDir implements DirWrites {
  private broken?: { reason: string; probedAt: number; probe?: Promise<void> };

  constructor(
    readonly name: WritableDirName,
    readonly dir: string,
    private readonly log: Logger,
    private readonly probeEveryMs = PROBE_EVERY_MS,
  ) {}

  /** For a failed write in the folder: the 503 when the folder cannot be written (noted for /readyz), else `err` as it was. */
  refusal(err: unknown): unknown {
    if (!isUnwritable(err)) return err;
    const e = err as NodeJS.ErrnoException;
    const reason = e.code === 'EROFS' ? 'its file system is read-only' : 'the api\'s user may not write there';
    if (!this.broken) {
      this.log.error(
        { dir: this.dir, cause: e.message },
        `${this.name} ${this.dir} cannot be written (${e.code}: ${reason}): its writes are answered 503 STORAGE_UNWRITABLE until it can; remount it read-write, give the api's user write access, or point ${this.name} at a writable folder`,
      );
    }
    this.broken = { reason, probedAt: Date.now() };
    return new AppError('STORAGE_UNWRITABLE', `${this.name} cannot be written (${reason})`, { cause: err, retryAfterS: Math.ceil(this.probeEveryMs / 1000) });
  }

  /** A write in the folder succeeded. */
  written(): void {
    if (!this.broken) return;
    this.broken = undefined;
    this.log.info({ dir: this.dir }, `${this.name} ${this.dir} can be written again`);
  }

  /**
   * Why the folder cannot be written, for /readyz; undefined while nothing says so. While it is known
   * broken, a file is written and removed there again at most every PROBE_EVERY_MS, so an api out of the
   * load balancer (no uploads come) still sees the folder mended.
   */
  async problem(): Promise<string | undefined> {
    const broken = this.broken;
    if (!broken) return undefined;
    if (Date.now() - broken.probedAt >= this.probeEveryMs) {
      broken.probedAt = Date.now();
      broken.probe = probeWrite(this.dir).then(
        () => this.written(),
        (err: unknown) => {
          // Another failure (a full disk) is not this condition: its own answers say it.
          if (!isUnwritable(err)) this.written();
        },
      );
    }
    // The probe never rejects (both outcomes are handled where it is made); a slow one is just not waited for.
    if (broken.probe) await waitAtMost(broken.probe, PROBE_WAIT_MS);
    // The variable, not the path: /readyz answers anyone, and the log has the path.
    return this.broken ? `${this.name} cannot be written (${this.broken.reason})` : undefined;
  }
}

function waitAtMost(work: Promise<void>, ms: number): Promise<void> {
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<void>((resolve) => (timer = setTimeout(resolve, ms)));
  return Promise.race([work, late]).finally(() => clearTimeout(timer));
}

