/**
 * Stores uploads content-addressed (`<md5>.<ext>`), in two steps so a prediction need not wait for
 * the disk: `receive` reads the bytes (hashing and counting them as they arrive) and checks they are
 * a real image; `persist` then puts them in place atomically (temporary file + rename), so a worker
 * or a page never reads half a file. An identical upload lands on the same name and is not written
 * again.
 *
 * Uploads up to `memoryBytes` are held in memory while they arrive, as the chunks they arrived in:
 * the header is read from memory, and they are written with one vectored write, joined into one
 * buffer only when a job carries them. Larger ones are spilled to a temporary file as they stream
 * in, so memory per request stays bounded whatever MAX_UPLOAD_BYTES is; and when the shared budget of
 * all requests is spent, uploads spill too, so memory stays bounded whatever the clients do.
 *
 * A held upload is written in four trips to libuv's thread pool (the existence check beside the
 * temporary file's open, one vectored write of every chunk, close, rename), not one trip per 512 KiB
 * as writeFile takes: each trip is a thread wake-up, 0.3–0.5 ms on an earlier 2-core VM at light
 * load. The writes stay off the event loop: writing a MiB cost the kernel about 1.8 ms on that VM (0.4
 * on a later one, by strace), which under overload would delay every other request.
 */
import { createHash, randomBytes, type Hash } from 'node:crypto';
import { createWriteStream, type WriteStream } from 'node:fs';
import { lstat, lutimes, open, rename, rm, stat, type FileHandle } from 'node:fs/promises';
import { once } from 'node:events';
import { basename, join } from 'node:path';
import type { Readable } from 'node:stream';
import { finished } from 'node:stream/promises';
import { AppError } from '@icls/lib/errors';
import { isUnwritable, whenMissing, withPath } from '@icls/lib/fs-errors';
import { makeDirs } from '@icls/lib/make-dirs';
import { formatMegabytes } from '../human-size.ts';
import type { DirWrites } from '../writable-dirs.ts';
import type { AllowedExtension } from './allowed-file.ts';
import { MemoryBudget } from './memory-budget.ts';
import { ImageHeaderError, readImageHeader, type ImageHeader } from '@icls/lib/image-header';

/** What names and describes an upload, received or stored. */
export interface UploadIdentity {
  /** `<md5>.<ext>` */
  name: string;
  /** Lowercase hex MD5 of the bytes. */
  md5: string;
  bytes: number;
  image: ImageHeader;
}

export interface StoredUpload extends UploadIdentity {
  path: string;
}

/** An upload received and checked, not yet in place under its name (see UploadStore.persist). */
export interface IncomingUpload extends UploadIdentity {
  /**
   * The bytes, when they were held in memory (up to 4 MiB while the budget lasts), until the upload is
   * stored (or discarded): then they are let go with their share of the budget.
   */
  held?: HeldBytes;
  /** Otherwise the temporary file they were spilled to. */
  spilled?: string;
  /** Memory budget to give back once it is stored. */
  heldBytes: number;
}

export interface UploadLimits {
  maxBytes: number;
  maxPixels: number;
  /** Uploads up to this size are held in memory; larger ones stream to disk. */
  memoryBytes?: number;
  /** Bytes held in memory across all uploads at once (default: unbounded). */
  totalMemoryBytes?: number;
}

export interface UploadStoreEvents {
  /** A new file of `bytes` was put in place (not an identical upload found stored). */
  stored?: (bytes: number) => void;
}

const DEFAULT_MEMORY_BYTES = 4 * 1024 * 1024;

/** An upload's bytes in memory, in the chunks they arrived in: joined only when one buffer is wanted. */
export class HeldBytes {
  private chunks: readonly Buffer[];
  private joined?: Buffer;

  constructor(chunks: readonly Buffer[], readonly length: number) {
    this.chunks = chunks;
  }

  /** One buffer (a job carrying the image), joined on first use; the chunks are let go then. */
  get buffer(): Buffer {
    if (!this.joined) {
      this.joined = Buffer.concat(this.chunks, this.length);
      this.chunks = [this.joined];
    }
    return this.joined;
  }

  /** The bytes as they are held, for a vectored write. */
  get parts(): readonly Buffer[] {
    return this.chunks;
  }
}

/**
 * The longest side accepted, whatever MAX_PIXELS allows: decoding costs per row as well as per pixel.
 * A 190 KB PNG of 1×49,000,000 pixels (under the default MAX_PIXELS) took a worker 5.2 s to decode and
 * resize, against at most 160 ms for the PNG shapes with both sides up to this (65535×762 the slowest),
 * measured with sharp on a 2-core Xeon VM (interlaced PNG, progressive JPEG and GIF decode slower at
 * any shape: 204–727 ms for 50 M pixels, which MAX_PIXELS bounds). JPEG cannot be larger anyway, WebP
 * stops at 16,383.
 */
export const MAX_IMAGE_SIDE = 65_535;

/** Enough bytes for any real header: JPEG metadata (EXIF, ICC) may come before the frame size. */
const HEADER_BYTES = 256 * 1024;

/** What arrived: the chunks in memory, or spilled to a temporary file. */
interface Received {
  md5: string;
  bytes: number;
  chunks?: Buffer[];
  spilled?: string;
}

export class UploadStore {
  private ready?: Promise<unknown>;
  readonly memory: MemoryBudget;

  constructor(
    readonly dir: string,
    private readonly limits: UploadLimits,
    private readonly events: UploadStoreEvents = {},
    private readonly writes?: DirWrites,
  ) {
    this.memory = new MemoryBudget(limits.totalMemoryBytes ?? Number.POSITIVE_INFINITY);
  }

  pathOf(name: string): string {
    return join(this.dir, name);
  }

  /** A fresh temporary name in the folder (a spilled upload, or one being put in place). */
  private tempPath(): string {
    return join(this.dir, `.upload-${randomBytes(8).toString('hex')}`);
  }

  /** A stored upload by its name (`<md5>.<ext>`), checked again; undefined when there is none. */
  async find(name: string): Promise<StoredUpload | undefined> {
    const path = join(this.dir, name);
    const info = await stat(path).catch(() => undefined);
    if (!info?.isFile()) return undefined;
    const image = readImageHeader(await readHead(path, HEADER_BYTES));
    // Stored names are `<md5>.<ext>` (callers check them against STORED_NAME).
    return image ? { name, md5: name.slice(0, name.indexOf('.')), path, bytes: info.size, image } : undefined;
  }

  /** Whether a stored upload (`<md5>.<ext>`) is in the folder (the review's cards, for reports on images not stored here). */
  async holds(name: string): Promise<boolean> {
    const info = await stat(join(this.dir, basename(name))).catch(whenMissing(undefined));
    return info?.isFile() === true;
  }

  /**
   * Marks a stored upload (`<md5>.<ext>`) as just used, so the upload sweeper keeps it longest; false
   * when it is gone. One that cannot be marked (a read-only folder, another user's file) is still there
   * to show: true.
   */
  async refresh(name: string): Promise<boolean> {
    return (await touched(join(this.dir, basename(name)))) !== 'missing';
  }

  /** Receives and persists: the upload in place under its name. */
  async store(source: Readable, ext: AllowedExtension, isTruncated: () => boolean): Promise<StoredUpload> {
    return this.persist(await this.receive(source, ext, isTruncated));
  }

  /**
   * Reads `source`, hashing it, and checks it is an image within the limits. `isTruncated` tells
   * whether the multipart parser cut the stream at the size limit (it ends the stream quietly instead
   * of failing it). The caller must `persist` what it gets (that gives the memory budget back).
   */
  async receive(source: Readable, ext: AllowedExtension, isTruncated: () => boolean): Promise<IncomingUpload> {
    const tmp = this.tempPath();
    const held = { bytes: 0 };
    try {
      // Not kept when it fails: a folder mended while the api runs is used again.
      this.ready ??= makeDirs(this.dir).catch((err: unknown) => {
        this.ready = undefined;
        throw err;
      });
      await this.ready;
      const received = await this.read(source, tmp, held);
      if (isTruncated() || received.bytes > this.limits.maxBytes) {
        throw new AppError('FILE_TOO_LARGE', `the limit is ${formatMegabytes(this.limits.maxBytes)}`);
      }
      const image = await this.check(received);
      const inMemory = received.chunks ? new HeldBytes(received.chunks, received.bytes) : undefined;
      return { name: `${received.md5}.${ext}`, md5: received.md5, bytes: received.bytes, image, held: inMemory, spilled: received.spilled, heldBytes: held.bytes };
    } catch (err) {
      this.memory.release(held.bytes);
      await rm(tmp, { force: true });
      throw this.refusal(err);
    }
  }

  /** Gives up a received upload that will not be stored (the request failed after it arrived). */
  async discard(upload: IncomingUpload): Promise<void> {
    this.memory.release(upload.heldBytes);
    upload.heldBytes = 0;
    upload.held = undefined;
    if (upload.spilled) await rm(upload.spilled, { force: true });
  }

  /**
   * Puts a received upload in place under its name. An identical upload already stored is kept and
   * marked as just uploaded (its mtime), so the upload sweeper counts it as in use.
   */
  async persist(upload: IncomingUpload): Promise<StoredUpload> {
    const path = join(this.dir, upload.name);
    const tmp = this.tempPath();
    try {
      if (upload.spilled) {
        await rename(upload.spilled, path);
        this.events.stored?.(upload.bytes);
      } else {
        // The check and the temporary file's creation in one trip (both on the thread pool: on a
        // shared network folder either may wait, and the event loop must not).
        const [found, file] = await Promise.all([touched(path), this.createTemp(tmp)]);
        const exists = found === 'touched';
        if (exists) {
          await file.close();
          await rm(tmp, { force: true });
        } else {
          await writeAll(file, upload.held!.parts).catch((err: unknown) => {
            throw withPath(err, tmp);
          });
          await rename(tmp, path);
          this.events.stored?.(upload.bytes);
        }
      }
      this.writes?.written();
      return { name: upload.name, md5: upload.md5, path, bytes: upload.bytes, image: upload.image };
    } catch (err) {
      await Promise.all([rm(tmp, { force: true }), upload.spilled ? rm(upload.spilled, { force: true }) : undefined]);
      throw this.refusal(err);
    } finally {
      this.memory.release(upload.heldBytes);
      upload.heldBytes = 0;
      // The bytes go with their share of the budget: a request waiting for its answer (in a queue of
      // 64, a second or so under load) no longer holds its upload, whose buffers then die young. Held
      // to the end of the request, they outlived a minor collection or two, and their external memory
      // brought on most full collections at 16 clients (35 in a bench run; 10 with this).
      upload.held = undefined;
    }
  }

  private refusal(err: unknown): unknown {
    return this.writes ? this.writes.refusal(err) : err;
  }

  /** A new temporary file; the folder is made again if it went (moved away while the api runs). */
  private async createTemp(tmp: string): Promise<FileHandle> {
    return open(tmp, 'wx').catch(async (err: NodeJS.ErrnoException) => {
      if (err.code !== 'ENOENT') throw err;
      await makeDirs(this.dir);
      return open(tmp, 'wx');
    });
  }

  private async read(source: Readable, tmp: string, held: { bytes: number }): Promise<Received> {
    const hash: Hash = createHash('md5');
    const memoryBytes = this.limits.memoryBytes ?? DEFAULT_MEMORY_BYTES;
    let chunks: Buffer[] = [];
    let bytes = 0;
    let spill: WriteStream | undefined;
    let writeError: Error | undefined;
    try {
      for await (const chunk of source as AsyncIterable<Buffer>) {
        bytes += chunk.length;
        if (bytes > this.limits.maxBytes) throw new AppError('FILE_TOO_LARGE', `the limit is ${formatMegabytes(this.limits.maxBytes)}`);
        hash.update(chunk);
        if (!spill && bytes <= memoryBytes && this.memory.tryTake(chunk.length)) {
          held.bytes += chunk.length;
          chunks.push(chunk);
          continue;
        }
        if (!spill) {
          // Spills are rare (over 4 MiB, or memory spent): the folder is checked each time, as createTemp does.
          await makeDirs(this.dir);
          spill = createWriteStream(tmp, { flags: 'wx' });
          // Kept, not thrown from the event: the loop stops on it at the next chunk (a full disk stops
          // the upload at once), and an error after we destroyed the stream cannot crash the process.
          spill.on('error', (err) => (writeError ??= withPath(err, tmp)));
          for (const c of chunks) spill.write(c);
          chunks = [];
          this.memory.release(held.bytes);
          held.bytes = 0;
        }
        if (writeError) throw writeError;
        if (!spill.write(chunk)) await once(spill, 'drain');
      }
      if (!spill) return { md5: hash.digest('hex'), bytes, chunks };
      spill.end();
      await finished(spill);
      return { md5: hash.digest('hex'), bytes, spilled: tmp };
    } catch (err) {
      spill?.destroy();
      throw err;
    }
  }

  /** Magic bytes and header (format, size), then the pixel limit. */
  private async check(received: Received): Promise<ImageHeader> {
    if (received.bytes === 0) throw new AppError('NOT_AN_IMAGE', 'the file is empty (0 bytes)');
    const head = received.chunks ? firstBytes(received.chunks, HEADER_BYTES) : await readHead(received.spilled!, HEADER_BYTES);
    let header: ImageHeader | undefined;
    try {
      header = readImageHeader(head);
    } catch (err) {
      if (err instanceof ImageHeaderError) throw new AppError('IMAGE_UNREADABLE', err.message);
      throw err;
    }
    if (!header) throw new AppError('NOT_AN_IMAGE', 'its content is not a known image format');
    if (header.width * header.height > this.limits.maxPixels) {
      throw new AppError('IMAGE_TOO_MANY_PIXELS', `${header.width}×${header.height} is more than ${this.limits.maxPixels.toLocaleString('en')} pixels`);
    }
    if (Math.max(header.width, header.height) > MAX_IMAGE_SIDE) {
      throw new AppError('IMAGE_TOO_MANY_PIXELS', `${header.width}×${header.height} has a side over ${MAX_IMAGE_SIDE.toLocaleString('en')} pixels`);
    }
    return header;
  }
}

/** The first `n` bytes of a list of chunks, copying only what is needed. */
function firstBytes(chunks: Buffer[], n: number): Buffer {
  if (chunks.length > 0 && chunks[0]!.length >= n) return chunks[0]!.subarray(0, n);
  const parts: Buffer[] = [];
  let got = 0;
  for (const c of chunks) {
    if (got >= n) break;
    parts.push(c.subarray(0, n - got));
    got += parts.at(-1)!.length;
  }
  return Buffer.concat(parts, got);
}

/** Writes `parts` to a new file and closes it, in as few write calls as the system allows. */
async function writeAll(file: FileHandle, parts: readonly Buffer[]): Promise<void> {
  try {
    let rest = parts.filter((p) => p.length > 0);
    while (rest.length > 0) {
      let { bytesWritten } = await file.writev(rest.slice(0, IOV_MAX));
      // A short write (a full disk fails instead): go on from the first byte not written.
      while (rest.length > 0 && bytesWritten >= rest[0]!.length) bytesWritten -= rest.shift()!.length;
      if (bytesWritten > 0) rest[0] = rest[0]!.subarray(bytesWritten);
    }
  } finally {
    await file.close();
  }
}

/**
 * Marks a stored upload as just used (its mtime). Only a regular file counts: a symbolic link someone
 * put there is `missing`, and an upload replaces it (never followed, so nothing outside the folder is
 * touched). `untouchable`: the file is there but its time cannot be changed (another user's file, a
 * read-only folder); an upload then writes it again, identical, over it (or is refused as the folder's
 * writes are).
 */
async function touched(path: string): Promise<'touched' | 'untouchable' | 'missing'> {
  const info = await lstat(path).catch(whenMissing(undefined));
  if (!info?.isFile()) return 'missing';
  const now = new Date();
  return lutimes(path, now, now).then(
    () => 'touched' as const,
    (err: unknown) => {
      if (isUnwritable(err)) return 'untouchable' as const;
      return whenMissing('missing' as const)(err);
    },
  );
}

/** Buffers per writev call (Linux's IOV_MAX). */
const IOV_MAX = 1024;

async function readHead(path: string, n: number): Promise<Buffer> {
  const fh = await open(path, 'r');
  try {
    const head = Buffer.alloc(n);
    const { bytesRead } = await fh.read(head, 0, n, 0);
    return head.subarray(0, bytesRead);
  } finally {
    await fh.close();
  }
}
