/**
 * Reads an image's format and size from its first bytes, in plain TypeScript: the api's content
 * check, and the workers' estimate of what decoding an image will hold in memory. It replaced a sharp
 * header decode that cost about 1 ms of CPU per upload on the api's hot path; the worker still decodes
 * every pixel, and a damaged body is reported by it (400).
 */
export type ImageKind = 'png' | 'jpeg' | 'gif' | 'webp';

export interface ImageHeader {
  format: ImageKind;
  width: number;
  height: number;
  /**
   * Bytes per pixel a decoder holds when it keeps the whole image: samples per pixel × bytes per
   * sample; a progressive JPEG keeps 2 bytes of coefficients per sample until its last scan; GIF and
   * WebP decode to 4 samples of a byte.
   */
  bytesPerPixel: number;
}

/** What decoding the whole image holds in memory, by its header (pixels × bytes per pixel). */
export const decodedBytes = (header: ImageHeader): number => header.width * header.height * header.bytesPerPixel;

export class ImageHeaderError extends Error {
  override name = 'ImageHeaderError';
}

/** How many leading bytes sniffImage needs. */
export const SIGNATURE_BYTES = 12;

/** Which format the bytes start with (magic numbers), whatever the file is called. */
export function sniffImage(head: Uint8Array): ImageKind | undefined {
  const at = (i: number, ...bytes: number[]) => bytes.every((b, k) => head[i + k] === b);
  if (at(0, 0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a)) return 'png';
  if (at(0, 0xff, 0xd8, 0xff)) return 'jpeg';
  if (at(0, 0x47, 0x49, 0x46, 0x38) && (head[4] === 0x37 || head[4] === 0x39) && head[5] === 0x61) return 'gif';
  if (at(0, 0x52, 0x49, 0x46, 0x46) && at(8, 0x57, 0x45, 0x42, 0x50)) return 'webp';
  return undefined;
}

/**
 * Format and size from the header. `undefined` when the bytes are no known image format;
 * ImageHeaderError when they claim one but the header is broken or cut short.
 */
export function readImageHeader(buf: Buffer): ImageHeader | undefined {
  const format = sniffImage(buf);
  if (!format) return undefined;
  const size = format === 'png' ? png(buf) : format === 'gif' ? gif(buf) : format === 'webp' ? webp(buf) : jpeg(buf);
  if (!size || size.width < 1 || size.height < 1) throw new ImageHeaderError(`the ${format.toUpperCase()} header is damaged or incomplete`);
  return { format, ...size };
}

type Size = { width: number; height: number; bytesPerPixel: number } | undefined;

/** Samples per pixel of each PNG colour type; a palette is expanded to RGBA (the most it can become). */
const PNG_SAMPLES: Record<number, number> = { 0: 1, 2: 3, 3: 4, 4: 2, 6: 4 };

function png(b: Buffer): Size {
  // The IHDR chunk must come first: length 13, type "IHDR", then width and height (big-endian), bit depth, colour type.
  if (b.length < 24 || b.toString('latin1', 12, 16) !== 'IHDR') return undefined;
  const [depth, colourType] = b.length >= 26 ? [b[24]!, b[25]!] : [16, 6];
  return { width: b.readUInt32BE(16), height: b.readUInt32BE(20), bytesPerPixel: (PNG_SAMPLES[colourType] ?? 4) * (depth === 16 ? 2 : 1) };
}

/**
 * The logical screen can lie (1×1 with a 10000×10000 first frame): the size is what the screen and
 * the first frame cover together. Blocks before the first frame are skipped by their lengths.
 */
function gif(b: Buffer): Size {
  if (b.length < 13) return undefined;
  const screen = { width: b.readUInt16LE(6), height: b.readUInt16LE(8) };
  const flags = b[10]!;
  let i = 13 + (flags & 0x80 ? 3 * 2 ** ((flags & 0x07) + 1) : 0);
  while (i < b.length) {
    const block = b[i];
    if (block === 0x2c) {
      if (i + 9 > b.length) return undefined;
      const [left, top, w, h] = [b.readUInt16LE(i + 1), b.readUInt16LE(i + 3), b.readUInt16LE(i + 5), b.readUInt16LE(i + 7)];
      return { width: Math.max(screen.width, left + w), height: Math.max(screen.height, top + h), bytesPerPixel: 4 };
    }
    if (block !== 0x21 || i + 2 >= b.length) return undefined; // only extensions may come before the first frame
    i += 2; // introducer and label, then data sub-blocks up to an empty one
    while (i < b.length && b[i] !== 0) i += 1 + b[i]!;
    i++;
  }
  return undefined;
}

function webp(b: Buffer): Size {
  if (b.length < 30) return undefined;
  const chunk = b.toString('latin1', 12, 16);
  if (chunk === 'VP8 ') {
    // Lossy: a key frame starts with the sync code 9d 01 2a, then 14-bit width and height.
    if (b[23] !== 0x9d || b[24] !== 0x01 || b[25] !== 0x2a) return undefined;
    return { width: b.readUInt16LE(26) & 0x3fff, height: b.readUInt16LE(28) & 0x3fff, bytesPerPixel: 4 };
  }
  if (chunk === 'VP8L') {
    // Lossless: signature 0x2f, then width-1 and height-1 as 14-bit fields.
    if (b[20] !== 0x2f) return undefined;
    const bits = b.readUInt32LE(21);
    return { width: (bits & 0x3fff) + 1, height: ((bits >>> 14) & 0x3fff) + 1, bytesPerPixel: 4 };
  }
  if (chunk === 'VP8X') {
    // Extended: canvas width-1 and height-1 as 24-bit little-endian fields.
    return { width: b.readUIntLE(24, 3) + 1, height: b.readUIntLE(27, 3) + 1, bytesPerPixel: 4 };
  }
  return undefined;
}

/** Walks the JPEG markers up to the first start-of-frame, which holds the size. */
function jpeg(b: Buffer): Size {
  let i = 2;
  while (i + 9 < b.length) {
    if (b[i] !== 0xff) return undefined;
    const marker = b[i + 1]!;
    if (marker === 0xff) {
      i++; // fill byte
      continue;
    }
    // SOF0–SOF15 carry the frame size, except DHT (c4), JPG (c8) and DAC (cc).
    if (marker >= 0xc0 && marker <= 0xcf && marker !== 0xc4 && marker !== 0xc8 && marker !== 0xcc) {
      // SOF2, 6, 10 and 14 are progressive: the decoder keeps every coefficient (2 bytes a sample) until the last scan.
      const progressive = marker === 0xc2 || marker === 0xc6 || marker === 0xca || marker === 0xce;
      const samples = b[i + 9]!;
      return { height: b.readUInt16BE(i + 5), width: b.readUInt16BE(i + 7), bytesPerPixel: samples * (progressive ? 2 : 1) };
    }
    if (marker === 0xd9 || marker === 0xda) return undefined; // end of image or scan data before any frame
    if ((marker >= 0xd0 && marker <= 0xd8) || marker === 0x01) {
      i += 2; // markers without a length field
      continue;
    }
    i += 2 + b.readUInt16BE(i + 2);
  }
  return undefined;
}
