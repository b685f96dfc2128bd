/**
 * Feedback reports: the file `<FEEDBACK_DIR>/feedback`, one report per line, as the original kept it.
 * A report that is one safe line is stored exactly as sent. Line breaks and other control characters
 * are escaped (`\n`, `\u2028`…), so a report can never forge a second line. Each report is written with
 * one O_APPEND write, which the OS keeps whole even with several api processes appending at once.
 * A stored line is at most MAX_LINE_BYTES, counted after escaping (a control character grows to six
 * bytes), so the file grows by a known amount per report and reading it back stays cheap.
 */
import { join } from 'node:path';
import { AppError } from '@icls/lib/errors';
import { makeDirs } from '@icls/lib/make-dirs';
import { appendLine, type TakeBack } from './append-line.ts';
import { lastLines } from './tail-lines.ts';

export const MAX_LINE_BYTES = 4096;

// C0 controls except tab, DEL, C1 controls (NEL among them), and the Unicode line/paragraph separators.
const UNSAFE = /[\u0000-\u0008\u000a-\u001f\u007f-\u009f\u2028\u2029]/g;
const NAMED: Record<string, string> = { '\n': '\\n', '\r': '\\r' };

/** The one line stored for a report: identical to it when it is already one safe line. */
export function toFeedbackLine(report: string): string {
  return report.replace(UNSAFE, (ch) => NAMED[ch] ?? `\\u${ch.charCodeAt(0).toString(16).padStart(4, '0')}`);
}

export class FeedbackStore {
  readonly file: string;
  private ready?: Promise<unknown>;

  constructor(dir: string) {
    this.file = join(dir, 'feedback');
  }

  /** The line a report is stored as; REPORT_TOO_LONG when it would be over MAX_LINE_BYTES. */
  lineFor(report: string): string {
    // Checked on the raw length first, so a huge body is refused before it is escaped.
    const line = report.length > MAX_LINE_BYTES ? undefined : toFeedbackLine(report);
    if (line === undefined || Buffer.byteLength(line) > MAX_LINE_BYTES) {
      throw new AppError('REPORT_TOO_LONG', `a report is stored in at most ${MAX_LINE_BYTES} bytes (a line break or other control character takes 2 to 6)`);
    }
    return line;
  }

  /** Appends the report's line; what it resolves to takes the line back (see appendLine). */
  async append(report: string): Promise<TakeBack> {
    const line = this.lineFor(report);
    // Not kept when it fails: a folder mended while the api runs is used again.
    this.ready ??= makeDirs(join(this.file, '..')).catch((err: unknown) => {
      this.ready = undefined;
      throw err;
    });
    await this.ready;
    return appendLine(this.file, line);
  }

  /** The last `limit` reports, newest first, read from the end of the file. */
  recent(limit: number): Promise<string[]> {
    return lastLines(this.file, limit, MAX_LINE_BYTES);
  }
}
