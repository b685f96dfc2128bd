/**
 * Reads named entries out of a zip archive (a Keras 3 `.keras` file is one), on fflate. The only
 * module that imports fflate.
 */
import { readFile } from 'node:fs/promises';
import { unzipSync } from 'fflate';

export class ZipError extends Error {
  override name = 'ZipError';
}

/** The zip local-file signature "PK\x03\x04" every non-empty archive starts with. */
export function looksLikeZip(head: Uint8Array): boolean {
  return head.length >= 4 && head[0] === 0x50 && head[1] === 0x4b && head[2] === 0x03 && head[3] === 0x04;
}

/**
 * The bytes of each wanted entry that the archive holds (missing ones are absent from the map).
 * Only the wanted entries are inflated.
 */
export async function readZipEntries(path: string, wanted: readonly string[]): Promise<Map<string, Uint8Array>> {
  const data = await readFile(path);
  if (!looksLikeZip(data)) throw new ZipError(`${path} is not a zip archive`);
  let entries: Record<string, Uint8Array>;
  try {
    entries = unzipSync(data, { filter: (f) => wanted.includes(f.name) });
  } catch (err) {
    throw new ZipError(`${path} is a damaged zip archive: ${(err as Error).message}`);
  }
  return new Map(Object.entries(entries));
}
