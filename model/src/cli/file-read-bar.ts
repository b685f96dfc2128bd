/**
 * How `import` shows the reading of a local file. It is no download: nothing stalls or is retried, so
 * logs get one line once the file is read, and a terminal also gets a bar while a read lasts (a 100 MB
 * weights file takes seconds).
 */
import { basename } from 'node:path';
import type { FileReadProgress } from '../import/model-import.ts';
import { formatBytes } from '../pull/format-units.ts';
import { renderBarLine, TTY_REDRAW_MS, type ProgressStream } from '../pull/progress-bar.ts';

/** A read shorter than this draws no bar: it would only flicker (the small fixtures read in a few ms). */
export const QUIET_SECONDS = 0.5;

export interface FileReadBar {
  update(progress: FileReadProgress): void;
  /** Ends a bar left drawn (the import failed mid-read), so the error starts on its own line. */
  finish(): void;
}

/** `my-model: reading x.h5 [####------]  45%  …` redrawn on a terminal, then `my-model: read x.h5 (98.2 MiB) in 3.6 s`. */
export function createFileReadBar(stream: ProgressStream, now: () => number = () => Date.now()): FileReadBar {
  let lastDraw = -Infinity;
  let drawn = false;
  return {
    update(p) {
      const file = basename(p.file);
      if (p.finished) {
        const line = `${p.name}: read ${file} (${formatBytes(p.bytesTotal)}) in ${p.seconds.toFixed(1)} s`;
        // \r returns to the start of the bar's line, \x1b[K clears what the longer bar leaves behind.
        stream.write(drawn ? `\r${line}\x1b[K\n` : `${line}\n`);
        drawn = false;
        return;
      }
      if (!stream.isTTY || p.seconds < QUIET_SECONDS || now() - lastDraw < TTY_REDRAW_MS) return;
      lastDraw = now();
      drawn = true;
      const rate = p.seconds > 0 ? p.bytesDone / p.seconds : 0;
      const frame = {
        url: p.file,
        bytesDone: p.bytesDone,
        bytesTotal: p.bytesTotal,
        bytesPerSecond: rate,
        etaSeconds: rate > 0 ? (p.bytesTotal - p.bytesDone) / rate : undefined,
        attempt: 1,
        finished: false,
      };
      stream.write(`\r${renderBarLine(`${p.name}: reading ${file}`, frame, stream.columns || 80, p.name)}\x1b[K`);
    },
    finish() {
      if (drawn) stream.write('\n');
      drawn = false;
    },
  };
}
