import { after, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { AppError } from '@icls/lib/errors';
import { FeedbackStore, MAX_REPORT_CHARS, toFeedbackLine } from './feedback-store.ts';

const dirs: string[] = [];
after(async () => {
  for (const d of dirs) await rm(d, { recursive: true, force: true });
});
/** A store whose folder does not exist yet (the store creates it). */
async function freshStore(): Promise<FeedbackStore> {
  const parent = await mkdtemp(join(tmpdir(), 'icls-feedback-test-'));
  dirs.push(parent);
  return new FeedbackStore(join(parent, 'feedback-dir'));
}

/**
 * Every line break a reader might honour: Python's str.splitlines() (the original service's language)
 * splits on \n \r \r\n \v \f \x1c \x1d \x1e \x85 \u2028 \u2029.
 */
const splitLines = (text: string) => text.split(/\r\n|[\n\r\v\f\x1c\x1d\x1e\x85\u2028\u2029]/);
/** The file's lines, without the empty string after the final newline. */
async function lines(store: FeedbackStore): Promise<string[]> {
  const text = await readFile(store.file, 'utf8');
  assert.ok(text.endsWith('\n'), 'the file ends with a newline');
  return splitLines(text.slice(0, -1));
}

describe('FeedbackStore', () => {
  test("the original's test report is stored exactly, as one line", async () => {
    const store = await freshStore();
    const report = "{'filename': 'test', 'prediction': 'test-pred', 'score': 1. }";
    assert.equal(await store.append(report), report);
    assert.match(store.file, /[\\/]feedback-dir[\\/]feedback$/);
    assert.equal(await readFile(store.file, 'utf8'), "{'filename': 'test', 'prediction': 'test-pred', 'score': 1. }\n");
  });

  test('a unicode report is stored exactly (UTF-8)', async () => {
    const store = await freshStore();
    const report = 'Le chat 🐱 est « très » mignon — 猫, prédiction: tabby';
    await store.append(report);
    const raw = await readFile(store.file);
    assert.deepEqual(raw, Buffer.concat([Buffer.from(report, 'utf8'), Buffer.from([0x0a])]));
  });

  test('tabs are kept', async () => {
    const store = await freshStore();
    await store.append('a\tb\t\tc');
    assert.equal(await readFile(store.file, 'utf8'), 'a\tb\t\tc\n');
  });

  const forgeries: [string, string, string][] = [
    ['\\n', 'ok\n{"filename": "forged"}', 'ok\\n{"filename": "forged"}'],
    ['\\r\\n', 'ok\r\n{"filename": "forged"}', 'ok\\r\\n{"filename": "forged"}'],
    ['\\r', 'ok\r{"filename": "forged"}', 'ok\\r{"filename": "forged"}'],
    ['\\u2028', 'ok\u2028{"filename": "forged"}', 'ok\\u2028{"filename": "forged"}'],
    ['\\u2029', 'ok\u2029{"filename": "forged"}', 'ok\\u2029{"filename": "forged"}'],
    ['\\u0085 (NEL)', 'ok\u0085{"filename": "forged"}', 'ok\\u0085{"filename": "forged"}'],
    ['\\v', 'ok\v{"filename": "forged"}', 'ok\\u000b{"filename": "forged"}'],
    ['\\f', 'ok\f{"filename": "forged"}', 'ok\\u000c{"filename": "forged"}'],
    ['\\x1e', 'ok\x1e{"filename": "forged"}', 'ok\\u001e{"filename": "forged"}'],
    ['NUL and DEL', 'a\u0000b\u007fc', 'a\\u0000b\\u007fc'],
  ];
  for (const [what, report, escaped] of forgeries) {
    test(`a report with ${what} cannot forge a second line`, async () => {
      const store = await freshStore();
      await store.append('first');
      assert.equal(await store.append(report), escaped);
      assert.deepEqual(await lines(store), ['first', escaped]);
      assert.deepEqual(await store.recent(10), [escaped, 'first']);
    });
  }

  test('toFeedbackLine leaves a safe line alone', () => {
    const safe = "{'filename': 'x.png', 'prediction': 'Eskimo_dog', 'score': 0.93 }\t✓";
    assert.equal(toFeedbackLine(safe), safe);
  });

  test('200 concurrent appends give 200 intact lines', async () => {
    const store = await freshStore();
    // different lengths, some several KB, so interleaved writes would show
    const reports = Array.from({ length: 200 }, (_, i) => `report ${i} ` + String.fromCharCode(97 + (i % 26)).repeat((i * 37) % 4000));
    await Promise.all(reports.map((r) => store.append(r)));
    const got = await lines(store);
    assert.equal(got.length, 200);
    assert.deepEqual([...got].sort(), [...reports].sort());
  });

  test('over MAX_REPORT_CHARS → BAD_REQUEST, nothing written; exactly the limit is fine', async () => {
    assert.equal(MAX_REPORT_CHARS, 4096);
    const store = await freshStore();
    await assert.rejects(store.append('x'.repeat(4097)), (err: unknown) => {
      assert.ok(err instanceof AppError);
      assert.equal(err.code, 'BAD_REQUEST');
      assert.equal(err.status, 400);
      return true;
    });
    assert.deepEqual(await store.recent(10), []);
    await store.append('y'.repeat(4096));
    assert.deepEqual(await store.recent(10), ['y'.repeat(4096)]);
  });

  test('recent(n): the last n reports, newest first; empty before the first report', async () => {
    const store = await freshStore();
    assert.deepEqual(await store.recent(5), []);
    for (const r of ['r1', 'r2', 'r3', 'r4']) await store.append(r);
    assert.deepEqual(await store.recent(2), ['r4', 'r3']);
    assert.deepEqual(await store.recent(1), ['r4']);
    assert.deepEqual(await store.recent(100), ['r4', 'r3', 'r2', 'r1']);
  });

  test('an empty report stays a line of its own but recent() skips it', async () => {
    const store = await freshStore();
    await store.append('a');
    await store.append('');
    await store.append('b');
    assert.equal(await readFile(store.file, 'utf8'), 'a\n\nb\n');
    assert.deepEqual(await store.recent(10), ['b', 'a']);
  });
});
