/**
 * Where model.weights.h5 sits in a Keras 3 `.keras` archive, which stores it uncompressed: its bytes
 * follow its local header; its CRC-32 sits in that header and in the central directory's entry. For
 * tests that damage the weights on purpose.
 */
import assert from 'node:assert/strict';
import { crc32 } from 'node:zlib';

export interface StoredEntry {
  /** Offsets of the local header and of the central directory's entry. */
  local: number;
  central: number;
  /** The entry's bytes: [start, end). */
  start: number;
  end: number;
}

export function weightsEntry(keras: Buffer): StoredEntry {
  const name = Buffer.from('model.weights.h5');
  const local = keras.indexOf(name) - 30;
  const central = keras.indexOf(name, local + 31) - 46;
  assert.equal(keras.readUInt32LE(local), 0x04034b50, 'a local file header');
  assert.equal(keras.readUInt32LE(central), 0x02014b50, 'a central directory entry');
  const start = local + 30 + keras.readUInt16LE(local + 26) + keras.readUInt16LE(local + 28);
  return { local, central, start, end: start + keras.readUInt32LE(local + 18) };
}

/** The archive with the CRC-32 of its (damaged) weights recorded as if saved so: the HDF5 reader sees the damage. */
export function withWeightsCrcMatching(keras: Buffer): Buffer {
  const { local, central, start, end } = weightsEntry(keras);
  const crc = crc32(keras.subarray(start, end));
  keras.writeUInt32LE(crc, local + 14);
  keras.writeUInt32LE(crc, central + 16);
  return keras;
}
