import { after, afterEach, before, beforeEach, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, readdir, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { downloadFile, type DownloadProgress } from './download.ts';
import { parseContentRange, RateMeter } from './transfer-meter.ts';
import { DownloadCancelledError, HttpStatusError, SizeMismatchError, describeCause } from './download-errors.ts';
import { FakeMirror, sha256Hex, type Behaviour } from '../../test/fake-mirror.ts';
import { fixtureModelBytes } from '../../test/test-catalog.ts';

let mirror: FakeMirror;
let dir: string;

before(async () => {
  mirror = await FakeMirror.start();
});
after(async () => {
  await mirror.close();
});
beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'download-test-'));
});
afterEach(async () => {
  await rm(dir, { recursive: true, force: true });
});

let counter = 0;
/** Serves fresh bytes at a fresh path and returns what a download of them should expect. */
function publish(behaviour: Behaviour) {
  const body = fixtureModelBytes(256 * 1024);
  const path = `file-${(counter += 1)}.bin`;
  mirror.serve(path, body, behaviour);
  return { body, url: `${mirror.baseUrl}/${path}`, path: `/${path}`, expectedSize: body.byteLength, expectedSha256: sha256Hex(body) };
}

describe('downloadFile', () => {
  test('verifies and renames into place, leaving only the target', async () => {
    const file = publish('normal');
    const target = join(dir, 'out.bin');
    const result = await downloadFile({ ...file, target });
    assert.deepEqual(result, { path: target, sizeBytes: file.body.byteLength, sha256: file.expectedSha256, attempts: 1 });
    assert.deepEqual(await readdir(dir), ['out.bin']);
  });

  test('hashes without expectations and reports the digest', async () => {
    const file = publish('normal');
    const result = await downloadFile({ url: file.url, target: join(dir, 'out.bin') });
    assert.equal(result.sha256, file.expectedSha256);
  });

  test('starts over when the server ignores the Range header', async () => {
    const file = publish('ignore-range');
    const target = join(dir, 'out.bin');
    const result = await downloadFile({ ...file, target, retryDelayMs: 1 });
    assert.equal(result.attempts, 2);
    assert.deepEqual(new Uint8Array(await readFile(target)), file.body);
    const seen = mirror.seen.filter((r) => r.path === file.path);
    assert.equal(seen[1]!.status, 200, 'the retry got the whole file again');
    assert.ok(seen[1]!.range, 'the retry asked for the rest');
  });

  test('resumes a stalled connection after the stall timeout', async () => {
    const file = publish('stall-once');
    const target = join(dir, 'out.bin');
    const result = await downloadFile({ ...file, target, retryDelayMs: 1, stallTimeoutMs: 150 });
    assert.equal(result.attempts, 2);
    assert.equal(mirror.seen.filter((r) => r.path === file.path)[1]!.status, 206);
  });

  test('retries a 503 and succeeds', async () => {
    const file = publish('503-once');
    const result = await downloadFile({ ...file, target: join(dir, 'out.bin'), retryDelayMs: 1 });
    assert.equal(result.attempts, 2);
  });

  test('gives up on a lasting 503 with the status and the attempt count', async () => {
    const file = publish('503-always');
    const err = await downloadFile({ ...file, target: join(dir, 'out.bin'), retryDelayMs: 1, maxAttempts: 3 }).catch((e) => e);
    assert.ok(err instanceof HttpStatusError, `got ${err}`);
    assert.equal(err.status, 503);
    assert.equal(err.attempts, 3);
    assert.match(err.message, /answered HTTP 503 Service Unavailable \(3 attempts\)/);
    assert.deepEqual(await readdir(dir), []);
  });

  test('fails fast when the server announces another size, without a temp file left', async () => {
    const file = publish('normal');
    const err = await downloadFile({ ...file, expectedSize: file.expectedSize + 1, target: join(dir, 'out.bin') }).catch((e) => e);
    assert.ok(err instanceof SizeMismatchError, `got ${err}`);
    assert.equal(err.expected, file.expectedSize + 1);
    assert.equal(err.actual, file.expectedSize);
    assert.deepEqual(await readdir(dir), []);
  });

  test('a cancelled download removes its partial file', async () => {
    const file = publish('stall-once');
    const controller = new AbortController();
    const events: DownloadProgress[] = [];
    const pending = downloadFile({
      ...file,
      target: join(dir, 'out.bin'),
      signal: controller.signal,
      onProgress: (p) => {
        events.push(p);
        if (p.bytesDone >= file.body.byteLength / 2) controller.abort();
      },
    });
    const err = await pending.catch((e) => e);
    assert.ok(err instanceof DownloadCancelledError, `got ${err}`);
    assert.ok(events.length > 0);
    assert.deepEqual(await readdir(dir), []);
  });
});

describe('download helpers', () => {
  test('parseContentRange reads start and total', () => {
    assert.deepEqual(parseContentRange('bytes 100-199/1000'), { start: 100, total: 1000 });
    assert.deepEqual(parseContentRange('bytes 5-9/*'), { start: 5, total: undefined });
    assert.equal(parseContentRange('bytes */1000'), undefined);
    assert.equal(parseContentRange(null), undefined);
  });

  test('RateMeter measures over its window', () => {
    let now = 0;
    const meter = new RateMeter(1000, () => now);
    assert.equal(meter.bytesPerSecond(), 0);
    now = 500;
    meter.add(1000);
    assert.equal(meter.bytesPerSecond(), 2000, 'the first chunk: 1000 bytes in 0.5 s since the start');
    now = 5000;
    meter.add(100);
    now = 5500;
    meter.add(100);
    assert.equal(meter.bytesPerSecond(), 200, 'old samples fall out of the window');
  });

  test('describeCause follows the cause chain of fetch errors', () => {
    const err = new TypeError('fetch failed', { cause: new Error('connect ECONNREFUSED 127.0.0.1:9') });
    assert.equal(describeCause(err), 'fetch failed: connect ECONNREFUSED 127.0.0.1:9');
  });
});
