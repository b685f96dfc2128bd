/**
 * Shows download progress: one redrawn bar on a terminal, plain occasional lines otherwise
 * (CI logs and pipes would fill up with carriage-return frames).
 */
import type { DownloadProgress } from './download.ts';
import { formatBytes, formatDuration, formatRate } from './format-units.ts';

/** Receives progress reports and draws them; `finish` ends the bar's line. */
export interface ProgressRenderer {
  update(progress: DownloadProgress): void;
  finish(): void;
}

/** The part of a stream the renderer needs; `process.stderr` fits. */
export interface ProgressStream {
  write(text: string): unknown;
  isTTY?: boolean;
  columns?: number;
}

/** Redraws are limited to this interval: faster is invisible and costs CPU on fast links. */
export const TTY_REDRAW_MS = 100;
/** Without a terminal, a line every this many percent (or seconds when the size is unknown). */
const PLAIN_STEP_PERCENT = 10;
const PLAIN_STEP_MS = 5000;

/** Picks the renderer for the stream: a bar on a TTY, plain lines elsewhere. */
export function createProgressBar(
  label: string,
  stream: ProgressStream = process.stderr,
  now: () => number = () => Date.now(),
): ProgressRenderer {
  return stream.isTTY ? ttyRenderer(label, stream, now) : plainRenderer(label, stream, now);
}

function ttyRenderer(label: string, stream: ProgressStream, now: () => number): ProgressRenderer {
  let lastDraw = -Infinity;
  let drawn = false;
  return {
    update(progress) {
      const t = now();
      if (!progress.finished && t - lastDraw < TTY_REDRAW_MS) return;
      lastDraw = t;
      drawn = true;
      // \r returns to the line start, \x1b[K clears what a longer previous frame left behind.
      stream.write(`\r${renderBarLine(label, progress, stream.columns || 80)}\x1b[K`);
    },
    finish() {
      if (drawn) stream.write('\n');
      drawn = false;
    },
  };
}

function plainRenderer(label: string, stream: ProgressStream, now: () => number): ProgressRenderer {
  let lastStep = -1;
  let lastLine = -Infinity;
  let finishedPrinted = false;
  return {
    update(progress) {
      if (finishedPrinted) return;
      const percent = percentOf(progress);
      const t = now();
      // 100% gets its line from the `finished` report that follows, not twice.
      const step = percent === undefined ? undefined : Math.min(Math.floor(percent / PLAIN_STEP_PERCENT), 100 / PLAIN_STEP_PERCENT - 1);
      const due = progress.finished || (step !== undefined ? step > lastStep : t - lastLine >= PLAIN_STEP_MS);
      if (!due) return;
      if (step !== undefined) lastStep = step;
      lastLine = t;
      finishedPrinted = progress.finished;
      stream.write(`${renderPlainLine(label, progress)}\n`);
    },
    finish() {
      // Plain lines already end with a newline.
    },
  };
}

/** Percent done, or undefined when the total is unknown. */
export function percentOf(progress: DownloadProgress): number | undefined {
  if (progress.bytesTotal === undefined || progress.bytesTotal === 0) return progress.finished ? 100 : undefined;
  return Math.min(100, (progress.bytesDone / progress.bytesTotal) * 100);
}

/**
 * `label [#####-----]  45%  12.3 MiB/27.0 MiB  3.20 MiB/s  ETA 0:05`, fitted into `columns`. When the label
 * leaves no room for a bar, `shortLabel` (e.g. the model's name without the file being read) stands in
 * for it, shortened in its middle if it must be: on an 80-column terminal the bar went missing for most
 * Keras file names.
 */
export function renderBarLine(label: string, progress: DownloadProgress, columns: number, shortLabel?: string): string {
  const percent = percentOf(progress);
  const amounts =
    progress.bytesTotal === undefined
      ? formatBytes(progress.bytesDone)
      : `${formatBytes(progress.bytesDone)}/${formatBytes(progress.bytesTotal)}`;
  const tail = [
    percent === undefined ? '   ?%' : `${percent.toFixed(0).padStart(4)}%`,
    amounts,
    formatRate(progress.bytesPerSecond),
    progress.finished ? 'done' : `ETA ${formatDuration(progress.etaSeconds)}`,
    progress.attempt > 1 ? `(attempt ${progress.attempt})` : '',
  ]
    .filter(Boolean)
    .join('  ');
  const labelRoom = columns - tail.length - 5 - MIN_BAR;
  const shown = label.length <= labelRoom || shortLabel === undefined ? label : middleEllipsis(shortLabel, Math.max(labelRoom, MIN_LABEL));
  const room = columns - shown.length - tail.length - 5;
  if (room < MIN_BAR) return `${label} ${tail}`.slice(0, Math.max(0, columns - 1));
  const width = Math.min(40, room);
  const filled = percent === undefined ? 0 : Math.round((percent / 100) * width);
  return `${shown} [${'#'.repeat(filled)}${'-'.repeat(width - filled)}] ${tail}`;
}

/** The narrowest bar worth drawing, and the shortest a label is cut to for one. */
const MIN_BAR = 10;
const MIN_LABEL = 12;

/** `text` within `max` characters, its middle replaced by `…` when too long. */
function middleEllipsis(text: string, max: number): string {
  if (text.length <= max) return text;
  const end = Math.floor((max - 1) / 2);
  return `${text.slice(0, max - 1 - end)}…${text.slice(text.length - end)}`;
}

/** `label: 45% (12.3 MiB of 27.0 MiB, 3.20 MiB/s, ETA 0:05)` for logs. */
export function renderPlainLine(label: string, progress: DownloadProgress): string {
  const percent = percentOf(progress);
  const amounts =
    progress.bytesTotal === undefined
      ? formatBytes(progress.bytesDone)
      : `${formatBytes(progress.bytesDone)} of ${formatBytes(progress.bytesTotal)}`;
  const details = [amounts, formatRate(progress.bytesPerSecond)];
  if (!progress.finished) details.push(`ETA ${formatDuration(progress.etaSeconds)}`);
  if (progress.attempt > 1) details.push(`attempt ${progress.attempt}`);
  const head = percent === undefined ? '' : `${percent.toFixed(0)}% `;
  return `${label}: ${progress.finished ? 'done ' : ''}${head}(${details.join(', ')})`;
}
