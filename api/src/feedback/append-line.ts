/**
 * Appends one line to a log file that several processes append to (O_APPEND: each write lands whole
 * at the end). A write cut short (a full disk) is taken back when its bytes are still the file's last,
 * so no fragment stays. When that cannot be done (another process appended after it), the fragment
 * stays without its newline, and the next line would be glued onto it and both lost to every reader:
 * so a line starts on a line of its own (when the file does not end with a newline, one goes first),
 * and the fragment stays a garbage line that readers skip.
 *
 * Whether the file ends with a newline is read before the write, and a write in progress elsewhere
 * grows the file a page at a time: read then, a line's middle looks like a fragment and the line
 * gets a needless newline before it (a blank line, which readers skip, but the file is no longer one
 * report per line). So this process appends to a file one line after another, and a missing newline
 * is believed only when the file's size held still while it was read.
 */
import { open, stat, truncate, type FileHandle } from 'node:fs/promises';
import { withPath } from '@icls/lib/fs-errors';

/** Takes back the line just appended, when nothing was appended after it; resolves false when it was not the last. */
export type TakeBack = () => Promise<boolean>;

/**
 * This process's appends still running, by file: each waits for the one before it. Their number is
 * bounded by the requests the server holds at once; an entry goes when its file's appends are done.
 */
const appending = new Map<string, Promise<unknown>>();

export function appendLine(path: string, line: string): Promise<TakeBack> {
  const mine = (appending.get(path) ?? Promise.resolve()).then(() => appendNow(path, line));
  // Only the order is kept here; the caller gets `mine`, failure included.
  const done = mine.then(
    () => undefined,
    () => undefined,
  );
  appending.set(path, done);
  void done.then(() => {
    if (appending.get(path) === done) appending.delete(path);
  });
  return mine;
}

async function appendNow(path: string, line: string): Promise<TakeBack> {
  const file = await open(path, 'a+');
  let written = 0;
  let end = 0;
  try {
    const sealed = await endsWithNewline(file);
    let rest = Buffer.from(`${sealed ? '' : '\n'}${line}\n`);
    // A short write (the disk filling up) is not an error by itself: write on, so the next call fails.
    while (rest.length > 0) {
      const { bytesWritten } = await file.write(rest);
      if (bytesWritten === 0) throw new Error(`${path}: the system wrote nothing`);
      written += bytesWritten;
      end = (await file.stat()).size;
      rest = rest.subarray(bytesWritten);
    }
    return async () => takeBack(path, end, written);
  } catch (err) {
    if (written > 0) await takeBackOpen(file, end, written, err as Error);
    throw withPath(err, path);
  } finally {
    await file.close();
  }
}

/** True for an empty file; false only when the last byte is not a newline and the size held still while it was read. */
async function endsWithNewline(file: FileHandle): Promise<boolean> {
  const last = Buffer.alloc(1);
  for (let attempt = 1; ; attempt++) {
    const { size } = await file.stat();
    if (size === 0) return true;
    await file.read(last, 0, 1, size - 1);
    if (last[0] === 0x0a) return true;
    // Another process's write was under way: look again once it has grown the file.
    if ((await file.stat()).size === size || attempt === 3) return false;
  }
}

async function takeBack(path: string, end: number, bytes: number): Promise<boolean> {
  if ((await stat(path)).size !== end) return false;
  await truncate(path, end - bytes);
  return true;
}

/** A write cut short: its bytes go when they are still the last; the error says so when they cannot. */
async function takeBackOpen(file: FileHandle, end: number, bytes: number, err: Error): Promise<void> {
  try {
    if ((await file.stat()).size === end) await file.truncate(end - bytes);
  } catch (undo) {
    err.message += ` (its ${bytes} bytes written stay in the file: ${(undo as Error).message})`;
  }
}
