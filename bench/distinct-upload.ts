/**
 * Makes every upload of a bench run a distinct file while it stays the same image: a comment that
 * decoders skip (a JPEG COM segment right after SOI, a PNG tEXt chunk right after IHDR) carries the
 * run's id and the request's number. Its MD5 then differs, so the service's result cache never
 * answers it, and no throughput figure is inflated by it; the pixels, and so the model's work, are
 * the same as the original's.
 *
 * The image's bytes are not copied: a request is written as a few chunks (multipart head, the
 * image's first bytes, the comment, the rest, the tail).
 */
import { randomBytes } from 'node:crypto';
import { crc32 } from 'node:zlib';

/** Where a comment can go in an image, and how it is framed; undefined for formats without one here. */
export interface Marker {
  /** Bytes of the image that come before the comment. */
  at: number;
  /** The comment segment or chunk for `text`. */
  segment(text: string): Buffer;
}

const PNG_SIGNATURE = Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]);

/** How to mark this image, or undefined (GIF, WebP, anything unexpected: sent as it is). */
export function markerFor(bytes: Buffer): Marker | undefined {
  if (bytes.length > 4 && bytes[0] === 0xff && bytes[1] === 0xd8) {
    return { at: 2, segment: jpegComment };
  }
  // PNG: the signature, then IHDR (length 13), which must stay the first chunk.
  if (bytes.length > 33 && bytes.subarray(0, 8).equals(PNG_SIGNATURE) && bytes.toString('latin1', 12, 16) === 'IHDR' && bytes.readUInt32BE(8) === 13) {
    return { at: 33, segment: pngText };
  }
  return undefined;
}

function jpegComment(text: string): Buffer {
  const payload = Buffer.from(text, 'latin1');
  const seg = Buffer.alloc(4 + payload.length);
  seg[0] = 0xff;
  seg[1] = 0xfe; // COM
  seg.writeUInt16BE(payload.length + 2, 2);
  payload.copy(seg, 4);
  return seg;
}

function pngText(text: string): Buffer {
  const data = Buffer.concat([Buffer.from('Comment\0', 'latin1'), Buffer.from(text, 'latin1')]);
  const typeAndData = Buffer.concat([Buffer.from('tEXt', 'latin1'), data]);
  const chunk = Buffer.alloc(8 + data.length + 4);
  chunk.writeUInt32BE(data.length, 0);
  typeAndData.copy(chunk, 4);
  chunk.writeUInt32BE(crc32(typeAndData), 8 + data.length);
  return chunk;
}

/** Numbers the uploads of one run; the run id keeps two runs against one service apart too. */
export class DistinctUploads {
  private next = 0;
  readonly runId = randomBytes(6).toString('hex');

  /** The chunks of the `bytes` image made distinct (or as they are when the format has no marker). */
  chunks(bytes: Buffer, marker: Marker | undefined): Buffer[] {
    if (!marker) return [bytes];
    const text = `icls-bench ${this.runId} ${(this.next++).toString(36)}`;
    return [bytes.subarray(0, marker.at), marker.segment(text), bytes.subarray(marker.at)];
  }

  /** The multipart body of an upload of `image`, made distinct: the form's head, the image's chunks, its tail. */
  multipart(image: { bytes: Buffer; marker?: Marker; upload: { head: Buffer; tail: Buffer } }): Buffer[] {
    return [image.upload.head, ...this.chunks(image.bytes, image.marker), image.upload.tail];
  }
}
