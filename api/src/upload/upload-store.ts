/**
 * Stores uploads content-addressed (`<md5>.<ext>`). Bytes are streamed to a temporary file while
 * they are hashed and counted; the file is checked to be a real image, then renamed into place
 * atomically. An identical upload lands on the same name, so concurrent duplicates are harmless.
 */
import { createHash, randomBytes } from 'node:crypto';
import { createWriteStream } from 'node:fs';
import { mkdir, rename, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { Transform, type Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { AppError } from '../../../lib/errors.ts';
import { ImageTooLargeError, probeImage, type ImageInfo } from '../../../lib/image.ts';
import type { AllowedExtension } from './allowed-file.ts';
import { SIGNATURE_BYTES, sniffImage } from './image-signature.ts';

export interface StoredUpload {
  /** `<md5>.<ext>` */
  name: string;
  path: string;
  bytes: number;
  image: ImageInfo;
}

export interface UploadLimits {
  maxBytes: number;
  maxPixels: number;
}

export class UploadStore {
  private ready?: Promise<unknown>;

  constructor(
    readonly dir: string,
    private readonly limits: UploadLimits,
  ) {}

  pathOf(name: string): string {
    return join(this.dir, name);
  }

  /**
   * Streams `source` to disk and stores it. `isTruncated` tells whether the multipart parser cut the
   * stream at the size limit (it ends the stream quietly instead of failing it).
   */
  async store(source: Readable, ext: AllowedExtension, isTruncated: () => boolean): Promise<StoredUpload> {
    this.ready ??= mkdir(this.dir, { recursive: true });
    await this.ready;
    const tmp = join(this.dir, `.upload-${randomBytes(8).toString('hex')}`);
    try {
      const { md5, bytes, head } = await this.writeHashed(source, tmp);
      if (isTruncated() || bytes > this.limits.maxBytes) {
        throw new AppError('FILE_TOO_LARGE', `the limit is ${this.limits.maxBytes} bytes`);
      }
      const image = await this.check(tmp, head);
      const name = `${md5}.${ext}`;
      await rename(tmp, join(this.dir, name));
      return { name, path: join(this.dir, name), bytes, image };
    } catch (err) {
      await rm(tmp, { force: true });
      throw err;
    }
  }

  /** Streams to `target`, hashing and counting as it goes, and keeps the first bytes for the format check. */
  private async writeHashed(source: Readable, target: string): Promise<{ md5: string; bytes: number; head: Buffer }> {
    const hash = createHash('md5');
    let bytes = 0;
    let head = Buffer.alloc(0);
    const maxBytes = this.limits.maxBytes;
    const meter = new Transform({
      transform(chunk: Buffer, _enc, done) {
        bytes += chunk.length;
        if (bytes > maxBytes) return done(new AppError('FILE_TOO_LARGE', `the limit is ${maxBytes} bytes`));
        if (head.length < SIGNATURE_BYTES) head = Buffer.concat([head, chunk.subarray(0, SIGNATURE_BYTES - head.length)]);
        hash.update(chunk);
        done(null, chunk);
      },
    });
    await pipeline(source, meter, createWriteStream(target, { flags: 'wx' }));
    return { md5: hash.digest('hex'), bytes, head };
  }

  /** Magic bytes first (cheap, names the problem), then a header decode with the pixel limit. */
  private async check(path: string, head: Buffer): Promise<ImageInfo> {
    if (!sniffImage(head)) throw new AppError('NOT_AN_IMAGE', 'its content is not a known image format');
    try {
      return await probeImage(path, this.limits.maxPixels);
    } catch (err) {
      if (err instanceof ImageTooLargeError) throw new AppError('IMAGE_TOO_MANY_PIXELS', err.message);
      throw new AppError('IMAGE_UNREADABLE', (err as Error).message);
    }
  }
}
