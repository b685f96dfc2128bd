import { after, describe, test } from 'node:test';
import { spawnSync } from 'node:child_process';
import assert from 'node:assert/strict';
import { mkdir, mkdtemp, readdir, readFile, rm, utimes, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { fileURLToPath } from 'node:url';
import { createLogger } from '@icls/lib/logger';
import { reportedImages } from '../feedback/reported-images.ts';
import { sweepUploads, UploadRetention, type RetentionPolicy } from './upload-retention.ts';
import { UploadStore } from './upload-store.ts';

const HOUR = 60 * 60_000;
const NOW = Date.now();
const name = (n: number, ext = 'png') => `${n.toString(16).padStart(32, '0')}.${ext}`;

const dirs: string[] = [];
after(async () => {
  for (const d of dirs) await rm(d, { recursive: true, force: true });
});
async function tempDir(): Promise<string> {
  const d = await mkdtemp(join(tmpdir(), 'icls-retention-test-'));
  dirs.push(d);
  return d;
}

/** A file of `bytes` bytes last written `ageMs` before NOW. */
async function fileAged(dir: string, file: string, ageMs: number, bytes = 1000): Promise<void> {
  await writeFile(join(dir, file), Buffer.alloc(bytes));
  const t = new Date(NOW - ageMs);
  await utimes(join(dir, file), t, t);
}

const none = async () => new Set<string>();
const policy = (p: Partial<RetentionPolicy>): RetentionPolicy => ({ keepMs: 0, maxBytes: 0, tempKeepMs: HOUR, inUseMs: 60_000, ...p });

describe('sweepUploads', () => {
  test('removes uploads older than the keep time and crash leftovers, and leaves everything else alone', async () => {
    const dir = await tempDir();
    await fileAged(dir, name(1), 200 * HOUR);
    await fileAged(dir, name(2, 'jpeg'), 1 * HOUR);
    await fileAged(dir, '.upload-0123456789abcdef', 2 * HOUR);
    await fileAged(dir, '.upload-fedcba9876543210', 1000);
    await fileAged(dir, 'notes.txt', 500 * HOUR);
    await mkdir(join(dir, name(3)));
    const result = await sweepUploads(dir, policy({ keepMs: 168 * HOUR }), none, NOW);
    assert.deepEqual((await readdir(dir)).sort(), ['.upload-fedcba9876543210', name(2, 'jpeg'), name(3), 'notes.txt'].sort());
    assert.deepEqual(result.removed, { age: 1, size: 0, leftover: 1 });
    assert.equal(result.files, 1);
    assert.equal(result.bytes, 1000);
  });

  test('never removes an upload a feedback report names', async () => {
    const dir = await tempDir();
    await fileAged(dir, name(1), 200 * HOUR);
    await fileAged(dir, name(2), 200 * HOUR);
    const result = await sweepUploads(dir, policy({ keepMs: 168 * HOUR }), async () => new Set([name(2)]), NOW);
    assert.deepEqual(await readdir(dir), [name(2)]);
    assert.equal(result.keptForReports, 1);
  });

  test('over the size bound, removes the least recently uploaded down to 90 % of it', async () => {
    const dir = await tempDir();
    for (let i = 1; i <= 10; i++) await fileAged(dir, name(i), (20 - i) * HOUR, 1000);
    // 10,000 bytes against a bound of 8,000: down to 7,200. The oldest is reported, so the next three go (7,000 left).
    const result = await sweepUploads(dir, policy({ maxBytes: 8000 }), async () => new Set([name(1)]), NOW);
    assert.deepEqual((await readdir(dir)).sort(), [1, 5, 6, 7, 8, 9, 10].map((i) => name(i)).sort());
    assert.deepEqual(result.removed, { age: 0, size: 3, leftover: 0 });
    assert.equal(result.bytes, 7000);
    assert.equal(result.removedReported, 0);
  });

  test('reported uploads go last, when the others cannot bring the folder under the bound (anyone may report any upload)', async () => {
    const dir = await tempDir();
    for (let i = 1; i <= 4; i++) await fileAged(dir, name(i), (10 - i) * HOUR, 1000);
    // 4,000 against 2,000 (down to 1,800): 3 and 4 are not reported; the oldest reported one, 1, goes too.
    const result = await sweepUploads(dir, policy({ maxBytes: 2000 }), async () => new Set([name(1), name(2)]), NOW);
    assert.deepEqual((await readdir(dir)).sort(), [name(2)]);
    assert.equal(result.removedReported, 1);
  });

  test('reported uploads are not removed while uploads in use keep the folder over the bound anyway', async () => {
    const dir = await tempDir();
    await fileAged(dir, name(1), 2 * HOUR, 1000);
    for (let i = 2; i <= 5; i++) await fileAged(dir, name(i), 1000, 1000);
    // 5,000 against 2,000: the four in use (4,000) keep it over whatever goes, so the reported one stays.
    const result = await sweepUploads(dir, policy({ maxBytes: 2000 }), async () => new Set([name(1)]), NOW);
    assert.equal((await readdir(dir)).length, 5);
    assert.equal(result.removedReported, 0);
    assert.equal(result.keptInUse, 4);
  });

  test('reported uploads are not removed while unreported uploads in use could bring the folder under the bound once they age', async () => {
    const dir = await tempDir();
    await fileAged(dir, name(1), 2 * HOUR, 700);
    await fileAged(dir, name(2), 2 * HOUR, 600);
    for (let i = 3; i <= 5; i++) await fileAged(dir, name(i), 1000, 270);
    // 2,110 against 1,500: removing reported 1 would do it now, but the three unreported uploads in use
    // (810) will do it once they age: the next sweep takes them, and the reports keep their images.
    const result = await sweepUploads(dir, policy({ maxBytes: 1500 }), async () => new Set([name(1), name(2)]), NOW);
    assert.equal((await readdir(dir)).length, 5);
    assert.equal(result.removedReported, 0);
    assert.equal(result.keptInUse, 3, 'so the api sweeps again once they age');
  });

  test('a file that cannot be removed is counted and skipped: the sweep goes on', async (t) => {
    const dir = await tempDir();
    for (let i = 1; i <= 3; i++) await fileAged(dir, name(i), (300 - i) * HOUR);
    // The oldest made immutable (root, as CI runs; unlink then fails with EPERM whoever asks).
    const lock = spawnSync('chattr', ['+i', join(dir, name(1))], { encoding: 'utf8' });
    if (lock.status !== 0) return t.skip(`cannot make a file immutable here (${(lock.stderr || lock.error?.message || '').trim()}); needs root`);
    try {
      const result = await sweepUploads(dir, policy({ keepMs: HOUR }), none, NOW);
      assert.equal(result.failed, 1);
      assert.match(result.firstFailure ?? '', /EPERM/);
      assert.equal(result.removed.age, 2);
      assert.deepEqual(await readdir(dir), [name(1)]);
    } finally {
      spawnSync('chattr', ['-i', join(dir, name(1))]);
    }
  });

  test('never removes an upload of the last minute, even over the bound', async () => {
    const dir = await tempDir();
    await fileAged(dir, name(1), 2 * HOUR, 5000);
    await fileAged(dir, name(2), 30_000, 5000);
    const result = await sweepUploads(dir, policy({ maxBytes: 4000 }), none, NOW);
    assert.deepEqual(await readdir(dir), [name(2)]);
    assert.equal(result.bytes, 5000);
  });

  test('reads the reports only when something would be removed', async () => {
    const dir = await tempDir();
    await fileAged(dir, name(1), 1 * HOUR);
    let asked = 0;
    await sweepUploads(dir, policy({ keepMs: 168 * HOUR, maxBytes: 1_000_000 }), async () => (asked++, new Set()), NOW);
    assert.equal(asked, 0);
  });

  test('a folder that does not exist yet has nothing to sweep', async () => {
    const result = await sweepUploads(join(await tempDir(), 'missing'), policy({ keepMs: HOUR }), none, NOW);
    assert.equal(result.files, 0);
  });
});

describe('reportedImages', () => {
  test('collects the images named in the report log and in the original feedback file', async () => {
    const dir = await tempDir();
    await writeFile(
      join(dir, 'reports.jsonl'),
      [
        JSON.stringify({ type: 'report', id: 'a', time: '', image: name(1), report: 'x' }),
        JSON.stringify({ type: 'review', id: 'a', reviewed: true, time: '' }),
        'not json',
        JSON.stringify({ type: 'report', id: 'b', time: '', report: 'no image' }),
      ].join('\n') + '\n',
    );
    await writeFile(join(dir, 'feedback'), `{'filename': '${name(2, 'jpg')}', 'prediction': 'Neutral', 'score': 0.9 }\nfree text\n`);
    assert.deepEqual([...(await reportedImages(dir))].sort(), [name(1), name(2, 'jpg')].sort());
    assert.equal((await reportedImages(join(dir, 'none'))).size, 0);
    assert.deepEqual([...(await reportedImages(dir, new Set([name(2, 'jpg'), name(3)])))], [name(2, 'jpg')], 'only the names asked about');
  });

  test('the sweep asks only about the uploads the folder holds', async () => {
    const dir = await tempDir();
    await fileAged(dir, name(1), 200 * HOUR);
    await fileAged(dir, name(2), HOUR);
    let asked: string[] = [];
    await sweepUploads(dir, policy({ keepMs: 168 * HOUR }), async (among) => {
      asked = [...among].sort();
      return new Set();
    }, NOW);
    assert.deepEqual(asked, [name(1), name(2)].sort());
  });
});

describe('an identical upload keeps its stored file in use', () => {
  const PNG = fileURLToPath(new URL('../../../tests/fixtures/images/chelsea.png', import.meta.url));

  test('an old file not uploaded again is swept; uploaded again, it is kept', async () => {
    const dir = await tempDir();
    const written: number[] = [];
    const store = new UploadStore(dir, { maxBytes: 10_000_000, maxPixels: 10_000_000 }, { stored: (b) => written.push(b) });
    const bytes = await readFile(PNG);
    const first = await store.store(Readable.from([bytes]), 'png', () => false);
    assert.deepEqual(written, [bytes.length]);
    const old = new Date(Date.now() - 500 * HOUR);
    await utimes(first.path, old, old);
    await store.store(Readable.from([bytes]), 'png', () => false);
    assert.deepEqual(written, [bytes.length], 'an identical upload is not written again');
    assert.deepEqual((await sweepUploads(dir, policy({ keepMs: 168 * HOUR }), none)).removed.age, 0);
    await utimes(first.path, old, old);
    assert.deepEqual((await sweepUploads(dir, policy({ keepMs: 168 * HOUR }), none)).removed.age, 1);
    assert.deepEqual(await readdir(dir), []);
  });
});

describe('UploadRetention', () => {
  test('sweeps at once when this process\'s writes take the folder over the bound', async () => {
    const dir = await tempDir();
    for (let i = 1; i <= 5; i++) await fileAged(dir, name(i), (10 - i) * HOUR, 1000);
    const lines: string[] = [];
    const log = createLogger('info', 'test', { write: (l) => void lines.push(l) });
    const retention = new UploadRetention(dir, policy({ maxBytes: 5500 }), none, log);
    await retention.sweep();
    assert.equal((await readdir(dir)).length, 5, 'under the bound: nothing removed');
    await fileAged(dir, name(6), 0, 1000);
    retention.noteStored(1000);
    await retention.stop();
    // 6,000 bytes against 5,500: down to 4,950, so the two oldest go (the new one is in use: kept whatever).
    assert.deepEqual((await readdir(dir)).sort(), [3, 4, 5, 6].map((i) => name(i)).sort());
    assert.ok(lines.some((l) => l.includes('removed old uploads')), lines.join(''));
  });

  test('kept over the bound by uploads in use, it sweeps again once they are not', async () => {
    const dir = await tempDir();
    await fileAged(dir, name(1), 100, 3000);
    await fileAged(dir, name(2), 0, 3000);
    const retention = new UploadRetention(dir, policy({ maxBytes: 4000, inUseMs: 2000 }), none, createLogger('silent', 'test'));
    retention.start(60_000);
    try {
      const first = await retention.sweep();
      assert.equal(first?.keptInUse, 2);
      const deadline = Date.now() + 8000;
      while ((await readdir(dir)).length > 1 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
      assert.deepEqual(await readdir(dir), [name(2)], 'the older one went once no longer in use');
    } finally {
      await retention.stop();
    }
  });
});
