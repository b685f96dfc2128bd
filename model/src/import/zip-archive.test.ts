/**
 * readZipEntries checks each entry against the CRC-32 its archive records, whichever form the
 * archive's end record takes: the classic one, or ZIP64's (other zip writers than Python's use it
 * for small archives too). The ZIP64 form is made here from the fixture.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { weightsEntry } from '../../../tests/helpers/keras-archive.ts';
import { readZipEntries, ZipError } from './zip-archive.ts';

const KERAS = fileURLToPath(new URL('../../../tests/fixtures/keras/tiny_resnet.keras', import.meta.url));

/** The archive with a ZIP64 end record and locator, and a classic end record whose count and offset say "see ZIP64". */
function withZip64End(zip: Buffer): Buffer {
  const end = zip.lastIndexOf(Buffer.from([0x50, 0x4b, 0x05, 0x06]));
  const [count, size, offset] = [zip.readUInt16LE(end + 10), zip.readUInt32LE(end + 12), zip.readUInt32LE(end + 16)];
  const end64 = Buffer.alloc(56);
  end64.writeUInt32LE(0x06064b50, 0);
  end64.writeBigUInt64LE(44n, 4);
  end64.writeUInt16LE(45, 12);
  end64.writeUInt16LE(45, 14);
  end64.writeBigUInt64LE(BigInt(count), 24);
  end64.writeBigUInt64LE(BigInt(count), 32);
  end64.writeBigUInt64LE(BigInt(size), 40);
  end64.writeBigUInt64LE(BigInt(offset), 48);
  const locator = Buffer.alloc(20);
  locator.writeUInt32LE(0x07064b50, 0);
  locator.writeBigUInt64LE(BigInt(end), 8);
  locator.writeUInt32LE(1, 16);
  const classic = Buffer.from(zip.subarray(end));
  classic.writeUInt16LE(0xffff, 8);
  classic.writeUInt16LE(0xffff, 10);
  classic.writeUInt32LE(0xffffffff, 16);
  return Buffer.concat([zip.subarray(0, end), end64, locator, classic]);
}

describe('readZipEntries', () => {
  let dir: string;
  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'zip-archive-test-'));
  });
  after(() => rm(dir, { recursive: true, force: true }));

  test('an archive with a ZIP64 end record reads, its entries checked', async () => {
    const zip64 = withZip64End(await readFile(KERAS));
    const whole = join(dir, 'zip64.keras');
    await writeFile(whole, zip64);
    const entries = await readZipEntries(whole, ['config.json', 'model.weights.h5']);
    assert.deepEqual([...entries.keys()].sort(), ['config.json', 'model.weights.h5']);
    const { end } = weightsEntry(zip64);
    zip64[end - 100] = zip64[end - 100]! ^ 0x40;
    const damaged = join(dir, 'zip64-damaged.keras');
    await writeFile(damaged, zip64);
    await assert.rejects(readZipEntries(damaged, ['model.weights.h5']), (err: unknown) => {
      assert.ok(err instanceof ZipError, String(err));
      assert.match(err.message, /model\.weights\.h5 fails its CRC-32 check \(recorded 0x[0-9a-f]{8}, its bytes give 0x[0-9a-f]{8}\)/);
      return true;
    });
  });
});
