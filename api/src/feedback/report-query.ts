/**
 * Reading the report log: the newest reports for the review page (read from the end, bounded), and
 * every report in order for the exports (streamed).
 */
import { createReadStream } from 'node:fs';
import { createInterface } from 'node:readline';
import { parseEvent, type ListedReport } from './report-record.ts';
import { linesFromEnd } from './tail-lines.ts';

export type ReviewStatus = 'reviewed' | 'unreviewed';

export interface ReportFilter {
  model?: string;
  prediction?: string;
  status?: ReviewStatus;
}

export interface ReviewList {
  /** Newest first, at most the limit asked for. */
  reports: ListedReport[];
  /** Reports that match the filter among those read. */
  matched: number;
  /** Models and predicted classes seen, for the filter's choices. */
  models: string[];
  predictions: string[];
  /** False when the log is longer than SCAN_MAX_LINES: older reports were not read. */
  complete: boolean;
}

/** Longest log line read back: a report line is at most 4 KiB, its record a little more. */
const EVENT_LINE_MAX = 16 * 1024;
/** The review page reads at most this many log lines from the end (a few MB), whatever the log's size. */
export const SCAN_MAX_LINES = 50_000;
/** Choices offered per filter. */
const FACETS_MAX = 200;

export function matches(report: ListedReport, filter: ReportFilter): boolean {
  if (filter.model && report.model !== filter.model) return false;
  if (filter.prediction && report.prediction !== filter.prediction) return false;
  if (filter.status && report.reviewed !== (filter.status === 'reviewed')) return false;
  return true;
}

/** The newest `limit` reports that match `filter`, after the newest `skip` of them (the review page's later pages). */
export async function recentReports(log: string, filter: ReportFilter, limit: number, skip = 0): Promise<ReviewList> {
  // Read backwards, a report's review events come before the report: the first one seen is the latest.
  const reviewed = new Map<string, boolean>();
  const reports: ListedReport[] = [];
  const models = new Set<string>();
  const predictions = new Set<string>();
  let matched = 0;
  let scanned = 0;
  let complete = true;
  for await (const line of linesFromEnd(log, EVENT_LINE_MAX)) {
    if (scanned++ >= SCAN_MAX_LINES) {
      complete = false;
      break;
    }
    const event = parseEvent(line);
    if (!event) continue;
    if (event.type === 'review') {
      if (!reviewed.has(event.id)) reviewed.set(event.id, event.reviewed);
      continue;
    }
    const { type: _type, ...record } = event;
    const report: ListedReport = { ...record, reviewed: reviewed.get(record.id) ?? false };
    if (report.model && models.size < FACETS_MAX) models.add(report.model);
    if (report.prediction && predictions.size < FACETS_MAX) predictions.add(report.prediction);
    if (!matches(report, filter)) continue;
    matched++;
    if (matched > skip && reports.length < limit) reports.push(report);
  }
  return { reports, matched, models: [...models].sort(), predictions: [...predictions].sort(), complete };
}

/** Every report that matches, oldest first, with its latest review state: two passes over the log. */
export async function* allReports(log: string, filter: ReportFilter): AsyncGenerator<ListedReport> {
  // The review states of all reports are kept (one entry per report marked by an admin).
  const reviewed = new Map<string, boolean>();
  for await (const line of linesOf(log)) {
    const event = parseEvent(line);
    if (event?.type === 'review') reviewed.set(event.id, event.reviewed);
  }
  for await (const line of linesOf(log)) {
    const event = parseEvent(line);
    if (event?.type !== 'report') continue;
    const { type: _type, ...record } = event;
    const report: ListedReport = { ...record, reviewed: reviewed.get(record.id) ?? false };
    if (matches(report, filter)) yield report;
  }
}

/** The non-empty lines of a text file, streamed; none when the file does not exist. */
export async function* linesOf(path: string): AsyncGenerator<string> {
  const stream = createReadStream(path, { encoding: 'utf8' });
  const opened = new Promise<boolean>((resolve, reject) => {
    stream.once('open', () => resolve(true));
    stream.once('error', (err: NodeJS.ErrnoException) => (err.code === 'ENOENT' ? resolve(false) : reject(err)));
  });
  if (!(await opened)) return;
  const lines = createInterface({ input: stream, crlfDelay: Infinity });
  try {
    for await (const line of lines) if (line) yield line;
  } finally {
    lines.close();
    stream.destroy();
  }
}
