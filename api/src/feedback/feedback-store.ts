/**
 * Feedback reports: the file `<FEEDBACK_DIR>/feedback`, one report per line, as the original kept it.
 * A report that is one safe line is stored exactly as sent. Line breaks and other control characters
 * are escaped (`\n`, `\u2028`…), so a report can never forge a second line. Each report is written with
 * one O_APPEND write, which the OS keeps whole even with several api processes appending at once.
 */
import { appendFile, mkdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { AppError } from '@icls/lib/errors';

export const MAX_REPORT_CHARS = 4096;

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

  async append(report: string): Promise<string> {
    if (report.length > MAX_REPORT_CHARS) throw new AppError('BAD_REQUEST', `a report is at most ${MAX_REPORT_CHARS} characters`);
    this.ready ??= mkdir(join(this.file, '..'), { recursive: true });
    await this.ready;
    const line = toFeedbackLine(report);
    await appendFile(this.file, line + '\n', { flag: 'a' });
    return line;
  }

  /** The last `limit` reports, newest first. */
  async recent(limit: number): Promise<string[]> {
    const text = await readFile(this.file, 'utf8').catch((err: NodeJS.ErrnoException) => {
      if (err.code === 'ENOENT') return '';
      throw err;
    });
    return text.split('\n').filter(Boolean).slice(-limit).reverse();
  }
}
