/**
 * Feedback reports as structured records, beside the original's one-line `feedback` file (which
 * stays byte-compatible: one line per report, as before). Each new report is appended to the
 * report log `<FEEDBACK_DIR>/reports.jsonl` and its line to `feedback`; marking a report reviewed
 * appends a review event to the log. Nothing is ever rewritten, so several api processes can share
 * the folder.
 *
 * A report is stored once: its id is a hash of what it says (report line, image, model, label), and
 * an empty marker file `report-ids/<id>` created with O_EXCL decides, across processes, which of
 * two identical posts (a double click, a reload) stores it.
 *
 * The two files are bounded together (FEEDBACK_MAX_BYTES): beyond it a new report is refused (507
 * FEEDBACK_FULL, at error level in the log) rather than filling the disk every request needs. Review
 * events still go through: an operator must be able to finish a review before archiving.
 */
import { open, rm, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { AppError } from '@icls/lib/errors';
import { whenMissing } from '@icls/lib/fs-errors';
import { makeDirs } from '@icls/lib/make-dirs';
import type { DirWrites } from '../writable-dirs.ts';
import { appendLine, type TakeBack } from './append-line.ts';
import type { FeedbackStore } from './feedback-store.ts';
import { linesOf } from './report-query.ts';
import { parseEvent, REPORT_ID, toRecord, type KnownResult, type ReportEvent, type ReportInput, type ReportRecord } from './report-record.ts';

export interface AddedReport {
  record: ReportRecord;
  /** False when the same report was stored before: nothing was written this time. */
  created: boolean;
}

export class ReportStore {
  readonly log: string;
  private readonly ids: string;

  constructor(
    dir: string,
    private readonly lines: FeedbackStore,
    private readonly now: () => Date = () => new Date(),
    /** Bytes the report files may take; 0: no bound. */
    private readonly maxBytes = 0,
    private readonly writes?: DirWrites,
  ) {
    this.log = join(dir, 'reports.jsonl');
    this.ids = join(dir, 'report-ids');
  }

  async add(input: ReportInput, known?: KnownResult): Promise<AddedReport> {
    // A report stored before writes nothing (its marker exists, which a read-only disk still says): that tells nothing of the folder.
    return this.writing(this.addNow(input, known), (added) => added.created);
  }

  /** A write's outcome told to `writes`: a folder that cannot be written is refused as such. */
  private async writing<T>(work: Promise<T>, wrote: (done: T) => boolean = () => true): Promise<T> {
    try {
      const done = await work;
      if (wrote(done)) this.writes?.written();
      return done;
    } catch (err) {
      throw this.writes ? this.writes.refusal(err) : err;
    }
  }

  private async addNow(input: ReportInput, known?: KnownResult): Promise<AddedReport> {
    const line = this.lines.lineFor(input.report);
    const record = toRecord(line, input, known, this.now());
    const marker = join(this.ids, record.id);
    const claimed = await claim(marker).catch(async (err: NodeJS.ErrnoException) => {
      if (err.code !== 'ENOENT') throw err;
      await this.restoreMarkers();
      return claim(marker);
    });
    if (!claimed) return { record, created: false };
    let takeBack: TakeBack | undefined;
    try {
      // After the claim, so a report stored before is still answered as a duplicate when full.
      await this.assertRoom();
      takeBack = await this.lines.append(input.report);
      await this.append({ type: 'report', ...record });
    } catch (err) {
      // Not stored after all: let the next identical post try again, and not find its line there twice.
      await rm(marker, { force: true });
      await takeBack?.().catch((undo: Error) => {
        (err as Error).message += ` (its line in the feedback file stays: ${undo.message})`;
      });
      throw err;
    }
    return { record, created: true };
  }

  /** The report files' size, checked on each new report (reports are rare; several processes write them). */
  private async assertRoom(): Promise<void> {
    if (this.maxBytes <= 0) return;
    const sizes = await Promise.all([this.log, this.lines.file].map((f) => stat(f).then((s) => s.size, whenMissing(0))));
    const bytes = sizes[0]! + sizes[1]!;
    if (bytes >= this.maxBytes) {
      throw new AppError(
        'FEEDBACK_FULL',
        `the report files in ${join(this.log, '..')} take ${bytes} bytes, FEEDBACK_MAX_BYTES is ${this.maxBytes}: download /feedback/dataset.tar (the reports with their images) and /feedback/export.jsonl, then move reports.jsonl, feedback and report-ids/ away (or raise the bound)`,
      );
    }
  }

  /** Marks a stored report reviewed (or not); 404 for an id that was never stored. */
  async setReviewed(id: string, reviewed: boolean): Promise<void> {
    return this.writing(this.setReviewedNow(id, reviewed));
  }

  private async setReviewedNow(id: string, reviewed: boolean): Promise<void> {
    if (!REPORT_ID.test(id)) throw new AppError('NOT_FOUND', 'no such report');
    const marker = join(this.ids, id);
    const known = (await stat(marker).then(() => true, whenMissing(false))) || (await this.restoreMarkers(id));
    if (!known) throw new AppError('NOT_FOUND', 'no such report');
    await this.append({ type: 'review', id, reviewed, time: this.now().toISOString() });
  }

  /**
   * Gives reports in the log their markers back: every one (`report-ids/` missing: on first use, after an
   * operator moved it away with the report files to archive them, or after the files were restored from
   * an archive without it), or only `id` (its marker missing, its report perhaps in the log). A restored
   * report can then be reviewed, and is not stored twice when posted again. Reads the whole log (bounded
   * by FEEDBACK_MAX_BYTES) once; true when the log holds `id`.
   */
  private async restoreMarkers(id?: string): Promise<boolean> {
    await makeDirs(this.ids);
    let found = false;
    for await (const line of linesOf(this.log)) {
      if (id !== undefined && !line.includes(id)) continue;
      const event = parseEvent(line);
      if (event?.type !== 'report' || (id !== undefined && event.id !== id)) continue;
      await claim(join(this.ids, event.id));
      found = true;
    }
    return found;
  }

  private async append(event: ReportEvent): Promise<void> {
    // One O_APPEND write per event: whole lines even with several writers.
    await appendLine(this.log, JSON.stringify(event));
  }
}

/** Creates the marker; false when it exists (the same report was stored before). */
async function claim(marker: string): Promise<boolean> {
  return open(marker, 'wx').then(
    (fh) => fh.close().then(() => true),
    (err: NodeJS.ErrnoException) => {
      if (err.code === 'EEXIST') return false;
      throw err;
    },
  );
}
