/**
 * A minimal POSIX ustar writer: regular files only, the folder in the header's prefix field and the
 * file name in its name field. Enough for `<label>/<md5>.<ext>`, without another dependency.
 */
const BLOCK = 512;

/** Two zero blocks end an archive. */
export const TAR_END = Buffer.alloc(2 * BLOCK);

function octal(value: number, width: number): string {
  // width - 1 digits, then NUL
  return Math.floor(value).toString(8).padStart(width - 1, '0') + '\0';
}

export function tarHeader(prefix: string, name: string, size: number, mtimeMs: number): Buffer {
  const header = Buffer.alloc(BLOCK);
  if (Buffer.byteLength(name) > 100 || Buffer.byteLength(prefix) > 155) throw new RangeError(`tar: name too long: ${prefix}/${name}`);
  header.write(name, 0, 100, 'utf8');
  header.write(octal(0o644, 8), 100, 'ascii');
  header.write(octal(0, 8), 108, 'ascii');
  header.write(octal(0, 8), 116, 'ascii');
  header.write(octal(size, 12), 124, 'ascii');
  header.write(octal(mtimeMs / 1000, 12), 136, 'ascii');
  header.write('        ', 148, 'ascii'); // the checksum counts its own field as spaces
  header.write('0', 156, 'ascii'); // regular file
  header.write('ustar\u000000', 257, 'ascii');
  header.write(prefix, 345, 155, 'utf8');
  let sum = 0;
  for (const byte of header) sum += byte;
  header.write(octal(sum, 7) + ' ', 148, 'ascii');
  return header;
}

/** One file: its header, exactly `size` bytes of content (padded with zeros if the source is shorter), padding to a block. */
export async function* writeTarEntry(prefix: string, name: string, size: number, mtimeMs: number, content: AsyncIterable<Buffer>): AsyncGenerator<Buffer> {
  yield tarHeader(prefix, name, size, mtimeMs);
  let sent = 0;
  for await (const chunk of content) {
    const part = chunk.subarray(0, size - sent);
    sent += part.length;
    if (part.length) yield part;
    if (sent >= size) break;
  }
  const padding = (BLOCK - (size % BLOCK)) % BLOCK;
  if (sent < size || padding) yield Buffer.alloc(size - sent + padding);
}
