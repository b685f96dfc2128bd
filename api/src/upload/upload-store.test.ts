import { after, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { lstat, mkdir, mkdtemp, readdir, readFile, rename, rm, stat, symlink, utimes, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { fileURLToPath } from 'node:url';
import { AppError } from '@icls/lib/errors';
import { pngHeader } from '../../../tests/helpers/hostile-corpus.ts';
import { UploadStore } from './upload-store.ts';

const IMAGES = fileURLToPath(new URL('../../../tests/fixtures/images/', import.meta.url));
const fixture = (name: string) => join(IMAGES, name);
const md5 = (b: Buffer) => createHash('md5').update(b).digest('hex');
const notTruncated = () => false;

const dirs: string[] = [];
after(async () => {
  for (const d of dirs) await rm(d, { recursive: true, force: true });
});
/** A fresh store in a folder that does not exist yet (the store creates it). */
async function freshStore(limits: { maxBytes?: number; maxPixels?: number; memoryBytes?: number; totalMemoryBytes?: number } = {}): Promise<UploadStore> {
  const parent = await mkdtemp(join(tmpdir(), 'icls-upload-test-'));
  dirs.push(parent);
  return new UploadStore(join(parent, 'uploads'), {
    maxBytes: limits.maxBytes ?? 10_000_000,
    maxPixels: limits.maxPixels ?? 10_000_000,
    memoryBytes: limits.memoryBytes,
    totalMemoryBytes: limits.totalMemoryBytes,
  });
}

async function rejectsWith(p: Promise<unknown>, code: string, status: number): Promise<void> {
  await assert.rejects(p, (err: unknown) => {
    assert.ok(err instanceof AppError, String(err));
    assert.equal(err.code, code);
    assert.equal(err.status, status);
    return true;
  });
}

describe('UploadStore', () => {
  test('stores a PNG as <md5>.png with its exact bytes', async () => {
    const store = await freshStore();
    const bytes = await readFile(fixture('chelsea.png'));
    const stored = await store.store(createReadStream(fixture('chelsea.png')), 'png', notTruncated);
    assert.equal(stored.name, `${md5(bytes)}.png`);
    assert.equal(stored.path, join(store.dir, stored.name));
    assert.equal(store.pathOf(stored.name), stored.path);
    assert.equal(stored.bytes, bytes.length);
    assert.deepEqual(stored.image, { format: 'png', width: 451, height: 300, bytesPerPixel: 3 });
    assert.deepEqual(await readFile(stored.path), bytes);
    assert.deepEqual(await readdir(store.dir), [stored.name]);
  });

  test('the extension given is used, whatever the content (the name is from the client)', async () => {
    const store = await freshStore();
    const bytes = await readFile(fixture('rocket.jpg'));
    const stored = await store.store(Readable.from([bytes]), 'jpeg', notTruncated);
    assert.equal(stored.name, `${md5(bytes)}.jpeg`);
    assert.deepEqual(stored.image, { format: 'jpeg', width: 640, height: 427, bytesPerPixel: 3 });
  });

  test('an identical upload lands on the same single file', async () => {
    const store = await freshStore();
    const a = await store.store(createReadStream(fixture('rocket.jpg')), 'jpg', notTruncated);
    const b = await store.store(createReadStream(fixture('rocket.jpg')), 'jpg', notTruncated);
    assert.equal(a.name, b.name);
    assert.deepEqual(await readdir(store.dir), [a.name]);
  });

  test('past the shared memory budget uploads spill to disk; the budget is given back, on success or failure', async () => {
    const store = await freshStore({ totalMemoryBytes: 100_000 });
    const bytes = await readFile(fixture('chelsea.png'));
    const chunks: Buffer[] = [];
    for (let i = 0; i < bytes.length; i += 30_000) chunks.push(bytes.subarray(i, i + 30_000));
    // Three uploads at once, each larger than the whole budget: all stored, whole, and nothing left held.
    let peak = 0;
    const slow = async function* () {
      for (const c of chunks) {
        peak = Math.max(peak, store.memory.inUse);
        await new Promise((r) => setImmediate(r));
        yield c;
      }
    };
    const stored = await Promise.all([0, 1, 2].map(() => store.store(Readable.from(slow()), 'png', notTruncated)));
    for (const s of stored) assert.deepEqual(await readFile(s.path), bytes);
    assert.ok(peak <= 100_000, `held ${peak} bytes`);
    assert.equal(store.memory.inUse, 0);
    await rejectsWith(store.store(Readable.from([Buffer.from('not an image at all')]), 'png', notTruncated), 'NOT_AN_IMAGE', 415);
    assert.equal(store.memory.inUse, 0);
  });

  test('a stored or discarded upload lets go of its bytes with their share of the memory budget', async () => {
    const store = await freshStore();
    const bytes = await readFile(fixture('chelsea.png'));
    const kept = await store.receive(Readable.from([bytes]), 'png', notTruncated);
    assert.ok(kept.held, 'held in memory while it is being stored');
    assert.equal(store.memory.inUse, bytes.length);
    const stored = await store.persist(kept);
    assert.equal(kept.held, undefined, 'nothing holds the bytes once they are in the file');
    assert.equal(store.memory.inUse, 0);
    assert.deepEqual(await readFile(stored.path), bytes);
    const dropped = await store.receive(Readable.from([bytes]), 'png', notTruncated);
    await store.discard(dropped);
    assert.equal(dropped.held, undefined);
    assert.equal(store.memory.inUse, 0);
  });

  test('many small chunks hash the same as one buffer, and are written whole (more chunks than one writev takes)', async () => {
    const store = await freshStore();
    const bytes = await readFile(fixture('chelsea.png'));
    const chunks: Buffer[] = [];
    for (let i = 0; i < bytes.length; i += 97) chunks.push(bytes.subarray(i, i + 97));
    assert.ok(chunks.length > 1024, 'more chunks than IOV_MAX');
    const stored = await store.store(Readable.from(chunks), 'png', notTruncated);
    assert.equal(stored.name, `${md5(bytes)}.png`);
    assert.equal(stored.bytes, bytes.length);
    assert.ok((await readFile(stored.path)).equals(bytes));
  });

  test('a held upload joins its chunks into one buffer only when asked, and is written the same either way', async () => {
    const bytes = await readFile(fixture('chelsea.png'));
    const chunks = [bytes.subarray(0, 1000), bytes.subarray(1000, 5000), bytes.subarray(5000)];
    for (const join of [false, true]) {
      const store = await freshStore();
      const incoming = await store.receive(Readable.from(chunks), 'png', notTruncated);
      assert.equal(incoming.held?.parts.length, 3);
      if (join) {
        assert.ok(incoming.held.buffer.equals(bytes));
        assert.equal(incoming.held.parts.length, 1);
      }
      const stored = await store.persist(incoming);
      assert.ok((await readFile(stored.path)).equals(bytes));
      assert.equal(store.memory.inUse, 0);
    }
  });

  test('20 concurrent identical uploads leave exactly one file and no temp files', async () => {
    const store = await freshStore();
    const bytes = await readFile(fixture('rocket.jpg'));
    const results = await Promise.all(
      Array.from({ length: 20 }, () => store.store(createReadStream(fixture('rocket.jpg')), 'jpg', notTruncated)),
    );
    const expected = `${md5(bytes)}.jpg`;
    for (const r of results) assert.equal(r.name, expected);
    assert.deepEqual(await readdir(store.dir), [expected]);
    assert.deepEqual(await readFile(join(store.dir, expected)), bytes);
  });

  test('over maxBytes → FILE_TOO_LARGE (413) and nothing left behind', async () => {
    const size = (await stat(fixture('rocket.jpg'))).size;
    const store = await freshStore({ maxBytes: size - 1 });
    await rejectsWith(store.store(createReadStream(fixture('rocket.jpg')), 'jpg', notTruncated), 'FILE_TOO_LARGE', 413);
    assert.deepEqual(await readdir(store.dir), []);
  });

  test('exactly maxBytes is accepted', async () => {
    const size = (await stat(fixture('rocket.jpg'))).size;
    const store = await freshStore({ maxBytes: size });
    const stored = await store.store(createReadStream(fixture('rocket.jpg')), 'jpg', notTruncated);
    assert.equal(stored.bytes, size);
  });

  test('a stream the parser truncated → FILE_TOO_LARGE, nothing left behind', async () => {
    const store = await freshStore();
    // the parser ends the stream quietly at its limit: the bytes are a valid prefix, only the flag says so
    await rejectsWith(store.store(createReadStream(fixture('chelsea.png')), 'png', () => true), 'FILE_TOO_LARGE', 413);
    assert.deepEqual(await readdir(store.dir), []);
  });

  test('text bytes with an image extension → NOT_AN_IMAGE (415), nothing left behind', async () => {
    const store = await freshStore();
    await rejectsWith(store.store(createReadStream(fixture('corrupt.jpg')), 'jpg', notTruncated), 'NOT_AN_IMAGE', 415);
    await rejectsWith(store.store(Readable.from([Buffer.from('%PDF-1.4\n')]), 'png', notTruncated), 'NOT_AN_IMAGE', 415);
    await rejectsWith(store.store(Readable.from([]), 'png', notTruncated), 'NOT_AN_IMAGE', 415);
    assert.deepEqual(await readdir(store.dir), []);
  });

  test('more pixels than allowed → IMAGE_TOO_MANY_PIXELS (400), nothing left behind', async () => {
    const store = await freshStore({ maxPixels: 451 * 300 - 1 });
    await rejectsWith(store.store(createReadStream(fixture('chelsea.png')), 'png', notTruncated), 'IMAGE_TOO_MANY_PIXELS', 400);
    assert.deepEqual(await readdir(store.dir), []);
    // The limit as people read it (it said "more than 135299 pixels").
    await assert.rejects(store.store(createReadStream(fixture('chelsea.png')), 'png', notTruncated), /451×300 is more than 135,299 pixels/);
  });

  test('a side over 65,535 pixels → IMAGE_TOO_MANY_PIXELS (400), however few pixels: a PNG of 1×70,000', async () => {
    const store = await freshStore();
    await rejectsWith(store.store(Readable.from([pngHeader(1, 70_000)]), 'png', notTruncated), 'IMAGE_TOO_MANY_PIXELS', 400);
    await assert.rejects(store.store(Readable.from([pngHeader(70_000, 1)]), 'png', notTruncated), /70000×1 has a side over 65,535 pixels/);
    assert.deepEqual(await readdir(store.dir), []);
    assert.equal((await store.store(Readable.from([pngHeader(1, 65_535)]), 'png', notTruncated)).image.height, 65_535, 'the limit itself is accepted');
  });

  test('a source stream that fails leaves no temp file', async () => {
    const store = await freshStore();
    const bytes = await readFile(fixture('chelsea.png'));
    const failing = new Readable({
      read() {
        this.push(bytes.subarray(0, 1000));
        this.destroy(new Error('client went away'));
      },
    });
    await assert.rejects(store.store(failing, 'png', notTruncated), /client went away/);
    assert.deepEqual(await readdir(store.dir), []);
  });

  test('an upload larger than the memory threshold streams to disk and is stored the same way', async () => {
    const store = await freshStore({ memoryBytes: 1024 });
    const bytes = await readFile(fixture('rocket.jpg'));
    const stored = await store.store(createReadStream(fixture('rocket.jpg'), { highWaterMark: 4096 }), 'jpg', notTruncated);
    assert.equal(stored.name, `${md5(bytes)}.jpg`);
    assert.deepEqual(await readFile(stored.path), bytes);
    assert.deepEqual(await readdir(store.dir), [stored.name]);
  });

  test('a spilled upload over the limit leaves no temporary file', async () => {
    const store = await freshStore({ memoryBytes: 1024, maxBytes: 50_000 });
    await rejectsWith(store.store(createReadStream(fixture('rocket.jpg'), { highWaterMark: 4096 }), 'jpg', notTruncated), 'FILE_TOO_LARGE', 413);
    assert.deepEqual(await readdir(store.dir), []);
  });

  test('an upload folder moved away while the api runs is made again, for held and spilled uploads', async () => {
    const store = await freshStore({ memoryBytes: 200 * 1024 }); // rocket.jpg (110 KiB) held, coffee.png (456 KiB) spilled
    await store.store(createReadStream(fixture('chelsea.png')), 'png', notTruncated);
    await rename(store.dir, `${store.dir}.moved`);
    const held = await store.store(createReadStream(fixture('rocket.jpg'), { highWaterMark: 16 * 1024 }), 'jpg', notTruncated);
    assert.ok((await stat(held.path)).isFile());
    await rm(store.dir, { recursive: true });
    const spilled = await store.store(createReadStream(fixture('coffee.png'), { highWaterMark: 16 * 1024 }), 'png', notTruncated);
    assert.ok((await stat(spilled.path)).isFile(), 'over memoryBytes: spilled to a temporary file, then renamed');
  });

  test('a symbolic link where the upload belongs is replaced by the upload, and what it points to is left alone', async () => {
    const store = await freshStore();
    const bytes = await readFile(fixture('chelsea.png'));
    const outside = join(store.dir, '..', 'outside.txt');
    await writeFile(outside, 'not an upload');
    const old = new Date(Date.now() - 86_400_000);
    await utimes(outside, old, old);
    await mkdir(store.dir, { recursive: true });
    await symlink(outside, join(store.dir, `${md5(bytes)}.png`));
    const stored = await store.store(Readable.from([bytes]), 'png', notTruncated);
    assert.ok((await lstat(stored.path)).isFile(), 'the link was replaced by the file');
    assert.deepEqual(await readFile(stored.path), bytes);
    assert.equal(Math.round((await stat(outside)).mtimeMs), old.getTime(), 'the target was not touched');
  });

  test('an identical upload is not written again (the same file), but marked as just uploaded (its mtime)', async () => {
    const store = await freshStore();
    const first = await store.store(createReadStream(fixture('chelsea.png')), 'png', notTruncated);
    const before = await stat(first.path);
    await new Promise((r) => setTimeout(r, 20));
    const second = await store.store(createReadStream(fixture('chelsea.png')), 'png', notTruncated);
    assert.equal(second.path, first.path);
    const after = await stat(second.path);
    assert.equal(after.ino, before.ino, 'a file written again would be a new one (temporary file + rename)');
    assert.ok(after.mtimeMs > before.mtimeMs);
  });
});

