/**
 * The worker's log line for an api whose UPLOAD_DIR it does not see. Every job from such an api fails (or
 * is found so) alike, so one line a minute at most per process, with how many were not logged since:
 * the failed reads (the consumer) and the spot checks of images sent inside their jobs (the job handler)
 * share `unsharedUploadLog`.
 */
import type { Logger } from './logger.ts';

const EVERY_MS = 60_000;

export class UnsharedUploadLog {
  private last = { at: Number.NEGATIVE_INFINITY, since: 0 };

  /** `log`: the job's logger, so the line names it. */
  report(log: Logger, detail: string | undefined): void {
    const now = Date.now();
    if (now - this.last.at < EVERY_MS) {
      this.last.since++;
      return;
    }
    log.error(
      { detail, similarNotLogged: this.last.since },
      "a stored upload is not in this worker's UPLOAD_DIR: give the workers the api's upload folder, or set IMAGE_TRANSPORT=bytes on the api",
    );
    this.last = { at: now, since: 0 };
  }
}

/** The process's one such log: the consumer's failures and the handler's spot checks share its minute. */
export const unsharedUploadLog = new UnsharedUploadLog();
