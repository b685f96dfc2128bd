/**
 * Appends one line to a log file that several processes append to (O_APPEND: each write lands whole
 * at the end). A write cut short (a full disk) leaves a fragment without its newline; the next line
 * would be glued onto it and both lost to every reader. So a line starts on a line of its own: when
 * the file does not end with a newline, one goes first, and the fragment stays a garbage line that
 * readers skip.
 */
import { open } from 'node:fs/promises';

export async function appendLine(path: string, line: string): Promise<void> {
  const file = await open(path, 'a+');
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
      rest = rest.subarray(bytesWritten);
    }
  } finally {
    await file.close();
  }
}
