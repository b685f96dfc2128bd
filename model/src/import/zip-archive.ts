/**
 * Reads named entries out of a zip archive (a Keras 3 `.keras` file is one), on fflate, and checks
 * each against the CRC-32 its archive records. The only module that imports fflate.
 */
import { readFile } from 'node:fs/promises';
import { crc32 } from 'node:zlib';
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
 * Only the wanted entries are inflated. An entry whose bytes do not give the CRC-32 the archive
 * records is refused: Keras stores its weights uncompressed and HDF5 keeps no checksums of them, so
 * this is the only check that sees a damaged weight value.
 */
export async function readZipEntries(path: string, wanted: readonly string[]): Promise<Map<string, Uint8Array>> {
  const data = await readFile(path);
  if (!looksLikeZip(data)) throw new ZipError(`${path} is not a zip archive`);
  let entries: Record<string, Uint8Array>;
  try {
    entries = unzipSync(data, { filter: (f) => wanted.includes(f.name) });
  } catch (err) {
    throw damagedZip(path, `it is truncated or corrupt (${(err as Error).message})`);
  }
  const recorded = recordedCrcs(data, path);
  for (const [name, bytes] of Object.entries(entries)) {
    const expected = recorded.get(name);
    const actual = crc32(bytes);
    if (expected !== actual) {
      throw damagedZip(path, `${name} ${expected === undefined ? 'is missing from its directory' : `fails its CRC-32 check (recorded ${hex(expected)}, its bytes give ${hex(actual)})`}`);
    }
  }
  return new Map(Object.entries(entries));
}

/** Every damaged archive is told the same way, with what to do about it. */
const damagedZip = (path: string, what: string) => new ZipError(`${path} is a damaged zip archive: ${what}. Download, copy or save it again`);

const hex = (n: number) => `0x${n.toString(16).padStart(8, '0')}`;

const END_OF_DIRECTORY = 0x06054b50;
const ZIP64_LOCATOR = 0x07064b50;
const ZIP64_END_OF_DIRECTORY = 0x06064b50;
const DIRECTORY_ENTRY = 0x02014b50;

/** Each entry's CRC-32 as the archive's central directory records it (fflate does not check it). */
function recordedCrcs(zip: Buffer, path: string): Map<string, number> {
  const damaged = (what: string) => damagedZip(path, what);
  let end = -1;
  // The end record is the last 22 bytes, followed by a comment of up to 65,535 bytes.
  for (let at = zip.length - 22; at >= Math.max(0, zip.length - 22 - 0xffff); at--) {
    if (zip.readUInt32LE(at) === END_OF_DIRECTORY) {
      end = at;
      break;
    }
  }
  if (end < 0) throw damaged('it has no end-of-directory record');
  let count = zip.readUInt16LE(end + 10);
  let at = zip.readUInt32LE(end + 16);
  if (count === 0xffff || at === 0xffffffff) {
    const locator = end - 20;
    if (locator < 0 || zip.readUInt32LE(locator) !== ZIP64_LOCATOR) throw damaged('its ZIP64 directory locator is missing');
    const end64 = Number(zip.readBigUInt64LE(locator + 8));
    if (end64 + 56 > zip.length || zip.readUInt32LE(end64) !== ZIP64_END_OF_DIRECTORY) throw damaged('its ZIP64 end-of-directory record is missing');
    count = Number(zip.readBigUInt64LE(end64 + 32));
    at = Number(zip.readBigUInt64LE(end64 + 48));
  }
  const crcs = new Map<string, number>();
  for (let i = 0; i < count; i++) {
    if (at + 46 > zip.length || zip.readUInt32LE(at) !== DIRECTORY_ENTRY) throw damaged(`its directory entry ${i + 1} of ${count} is unreadable`);
    const nameLength = zip.readUInt16LE(at + 28);
    const name = zip.toString('utf8', at + 46, at + 46 + nameLength);
    crcs.set(name, zip.readUInt32LE(at + 16));
    at += 46 + nameLength + zip.readUInt16LE(at + 30) + zip.readUInt16LE(at + 32);
  }
  return crcs;
}
