/**
 * The last lines of a file, newest first, read backwards in blocks from its end: the cost follows
 * the lines asked for, not the size of the file.
 */
import { open } from 'node:fs/promises';

const BLOCK_BYTES = 64 * 1024;

/**
 * Up to `limit` non-empty lines, the last one first. A line longer than `maxLineBytes` (written
 * before lines were capped, or by something else) is returned as its last `maxLineBytes` bytes
 * after a `…`, so memory stays bounded whatever the file holds. A missing file has no lines.
 */
export async function lastLines(path: string, limit: number, maxLineBytes: number): Promise<string[]> {
  const fh = await open(path, 'r').catch((err: NodeJS.ErrnoException) => {
    if (err.code === 'ENOENT') return undefined;
    throw err;
  });
  if (!fh) return [];
  try {
    const lines: string[] = [];
    let position = (await fh.stat()).size;
    /** The end of a line whose start is in blocks not read yet. */
    let carry = Buffer.alloc(0);
    let carryCut = false;
    const emit = (bytes: Buffer, cut: boolean) => {
      const over = bytes.length > maxLineBytes;
      const kept = over ? bytes.subarray(bytes.length - maxLineBytes) : bytes;
      if (kept.length > 0 || cut) lines.push((cut || over ? '…' : '') + kept.toString('utf8'));
    };
    while (position > 0 && lines.length < limit) {
      const size = Math.min(BLOCK_BYTES, position);
      position -= size;
      const block = Buffer.alloc(size);
      await fh.read(block, 0, size, position);
      let end = block.length;
      for (let i = block.length - 1; i >= 0 && lines.length < limit; i--) {
        if (block[i] !== 0x0a) continue;
        emit(Buffer.concat([block.subarray(i + 1, end), carry]), carryCut);
        carry = Buffer.alloc(0);
        carryCut = false;
        end = i;
      }
      carry = Buffer.concat([block.subarray(0, end), carry]);
      if (carry.length > maxLineBytes) {
        carry = carry.subarray(carry.length - maxLineBytes);
        carryCut = true;
      }
    }
    if (position === 0 && lines.length < limit) emit(carry, carryCut);
    return lines;
  } finally {
    await fh.close();
  }
}
