/**
 * The stored uploads that feedback reports name: the upload sweeper never removes them, so a report can
 * always be reviewed and exported with its image. Read from both files: the report log (page and API
 * reports) and the original's `feedback` file (reports from before the log existed).
 */
import { join } from 'node:path';
import { linesOf } from './report-query.ts';
import { parseEvent, parseOriginalReport } from './report-record.ts';

export async function reportedImages(feedbackDir: string): Promise<Set<string>> {
  const images = new Set<string>();
  for await (const line of linesOf(join(feedbackDir, 'reports.jsonl'))) {
    const event = parseEvent(line);
    if (event?.type === 'report' && typeof event.image === 'string') images.add(event.image);
  }
  for await (const line of linesOf(join(feedbackDir, 'feedback'))) {
    const image = parseOriginalReport(line)?.image;
    if (image) images.add(image);
  }
  return images;
}
