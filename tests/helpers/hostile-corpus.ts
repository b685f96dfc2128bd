/**
 * Inputs a public upload endpoint meets: each builds its bytes (big ones generated, never committed).
 */
import { readFile } from 'node:fs/promises';
import { crc32 } from 'node:zlib';
import { image } from './fixtures.ts';

/** A GIF whose logical screen says 1×1 while its first frame is `w`×`h`. */
export function lyingGif(w: number, h: number): Buffer {
  const b = Buffer.alloc(32);
  b.write('GIF89a', 0, 'latin1');
  b.writeUInt16LE(1, 6);
  b.writeUInt16LE(1, 8);
  b[10] = 0; // no global colour table
  b[13] = 0x2c; // image descriptor
  b.writeUInt16LE(0, 14);
  b.writeUInt16LE(0, 16);
  b.writeUInt16LE(w, 18);
  b.writeUInt16LE(h, 20);
  b[22] = 0;
  b[23] = 2; // LZW minimum code size, then one data sub-block and the terminator
  b[24] = 2;
  b[25] = 0x44;
  b[26] = 0x01;
  b[27] = 0;
  b[28] = 0x3b;
  return b.subarray(0, 29);
}

/** A PNG's signature and IHDR chunk for an RGB image of `w`×`h`, and no pixels: all a header check reads. */
export function pngHeader(w: number, h: number): Buffer {
  const ihdr = Buffer.alloc(13);
  ihdr.writeUInt32BE(w, 0);
  ihdr.writeUInt32BE(h, 4);
  ihdr[8] = 8; // bit depth
  ihdr[9] = 2; // RGB
  const body = Buffer.concat([Buffer.from('IHDR', 'latin1'), ihdr]);
  const length = Buffer.alloc(4);
  length.writeUInt32BE(13);
  const crc = Buffer.alloc(4);
  crc.writeUInt32BE(crc32(body) >>> 0);
  return Buffer.concat([Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]), length, body, crc]);
}

/** The same JPEG bytes whatever name they are sent under. */
export const jpegBytes = () => readFile(image('rocket.jpg'));
export const pngBytes = () => readFile(image('chelsea.png'));

/** A report of control characters: 6 bytes each once escaped. */
export const controlReport = (chars: number) => '\u0001'.repeat(chars);
