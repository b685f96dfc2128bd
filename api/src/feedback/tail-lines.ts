/**
 * The lines of a file from its end backwards, read in blocks: the cost follows the lines read, not
 * the size of the file.
 */
import { open } from 'node:fs/promises';
import { whenMissing } from '@icls/lib/fs-errors';

const BLOCK_BYTES = 64 * 1024;

/**
 * Non-empty lines, the last one first. A line longer than `maxLineBytes` (written before lines were
 * capped, or by something else) comes back as its last `maxLineBytes` bytes after a `…`, so memory
 * stays bounded whatever the file holds. A missing file has no lines. Stop iterating to stop reading.
 */
export async function* linesFromEnd(path: string, maxLineBytes: number): AsyncGenerator<string> {
  const fh = await open(path, 'r').catch(whenMissing(undefined));
  if (!fh) return;
  try {
    let position = (await fh.stat()).size;
    /** The end of a line whose start is in blocks not read yet. */
    let carry = Buffer.alloc(0);
    let carryCut = false;
    const line = (bytes: Buffer, cut: boolean): string | undefined => {
      const over = bytes.length > maxLineBytes;
      const kept = over ? bytes.subarray(bytes.length - maxLineBytes) : bytes;
      return kept.length > 0 || cut ? (cut || over ? '…' : '') + kept.toString('utf8') : undefined;
    };
    while (position > 0) {
      const size = Math.min(BLOCK_BYTES, position);
      position -= size;
      const block = Buffer.alloc(size);
      await fh.read(block, 0, size, position);
      let end = block.length;
      for (let i = block.length - 1; i >= 0; i--) {
        if (block[i] !== 0x0a) continue;
        const text = line(Buffer.concat([block.subarray(i + 1, end), carry]), carryCut);
        carry = Buffer.alloc(0);
        carryCut = false;
        end = i;
        if (text !== undefined) yield text;
      }
      carry = Buffer.concat([block.subarray(0, end), carry]);
      if (carry.length > maxLineBytes) {
        carry = carry.subarray(carry.length - maxLineBytes);
        carryCut = true;
      }
    }
    const first = line(carry, carryCut);
    if (first !== undefined) yield first;
  } finally {
    await fh.close();
  }
}

/** Up to `limit` non-empty lines, the last one first (see linesFromEnd). */
export async function lastLines(path: string, limit: number, maxLineBytes: number): Promise<string[]> {
  const lines: string[] = [];
  if (limit <= 0) return lines;
  for await (const line of linesFromEnd(path, maxLineBytes)) {
    lines.push(line);
    if (lines.length >= limit) break;
  }
  return lines;
}
