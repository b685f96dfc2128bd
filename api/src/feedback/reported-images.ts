/**
 * The stored uploads that feedback reports name: the upload sweeper never removes them, so a report can
 * always be reviewed and exported with its image. Read from both files: the report log (page and API
 * reports) and the original's `feedback` file (reports from before the log existed).
 */
import { join } from 'node:path';
import { linesOf } from './report-query.ts';
import { parseEvent, parseOriginalReport } from './report-record.ts';

/**
 * `among`: only these names are collected (the uploads the folder holds). The report files may hold
 * millions of reports (up to FEEDBACK_MAX_BYTES), so the set they would make is bounded by the
 * folder instead: a million reports made a set that took the api to 181 MB.
 */
export async function reportedImages(feedbackDir: string, among?: ReadonlySet<string>): Promise<Set<string>> {
  const images = new Set<string>();
  const add = (image: string) => {
    if (!among || among.has(image)) images.add(image);
  };
  for await (const line of linesOf(join(feedbackDir, 'reports.jsonl'))) {
    const event = parseEvent(line);
    if (event?.type === 'report' && typeof event.image === 'string') add(event.image);
  }
  for await (const line of linesOf(join(feedbackDir, 'feedback'))) {
    const image = parseOriginalReport(line)?.image;
    if (image) add(image);
  }
  return images;
}
