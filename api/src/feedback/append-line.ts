/**
 * Appends one line to a log file that several processes append to (O_APPEND: each write lands whole
 * at the end). A write cut short (a full disk) is taken back when its bytes are still the file's last,
 * so no fragment stays. When that cannot be done (another process appended after it), the fragment
 * stays without its newline, and the next line would be glued onto it and both lost to every reader:
 * so a line starts on a line of its own (when the file does not end with a newline, one goes first),
 * and the fragment stays a garbage line that readers skip.
 */
import { open, stat, truncate, type FileHandle } from 'node:fs/promises';
import { withPath } from '@icls/lib/fs-errors';

/** Takes back the line just appended, when nothing was appended after it; resolves false when it was not the last. */
export type TakeBack = () => Promise<boolean>;

export async function appendLine(path: string, line: string): Promise<TakeBack> {
  const file = await open(path, 'a+');
  let written = 0;
  let end = 0;
  try {
    const { size } = await file.stat();
    let sealed = true;
    if (size > 0) {
      const last = Buffer.alloc(1);
      await file.read(last, 0, 1, size - 1);
      sealed = last[0] === 0x0a;
    }
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
