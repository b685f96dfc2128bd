import { after, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { AppError } from '@icls/lib/errors';
import { FeedbackStore, MAX_LINE_BYTES, toFeedbackLine } from './feedback-store.ts';
import { lastLines } from './tail-lines.ts';

const dirs: string[] = [];
after(async () => {
  for (const d of dirs) await rm(d, { recursive: true, force: true });
});
async function tempDir(): Promise<string> {
  const d = await mkdtemp(join(tmpdir(), 'icls-feedback-test-'));
  dirs.push(d);
  return d;
}
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
    assert.equal(store.lineFor(report), report);
    await store.append(report);
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
      assert.equal(store.lineFor(report), escaped);
      await store.append(report);
      assert.deepEqual(await lines(store), ['first', escaped]);
      assert.deepEqual(await store.recent(10), [escaped, 'first']);
    });
  }

  test('toFeedbackLine leaves a safe line alone', () => {
    const safe = "{'filename': 'x.png', 'prediction': 'Eskimo_dog', 'score': 0.93 }\t✓";
    assert.equal(toFeedbackLine(safe), safe);
  });

  test('200 concurrent appends give 200 intact lines, in the order they were made', async () => {
    const store = await freshStore();
    // different lengths, some several KB, so interleaved writes would show
    const reports = Array.from({ length: 200 }, (_, i) => `report ${i} ` + String.fromCharCode(97 + (i % 26)).repeat((i * 37) % 4000));
    await Promise.all(reports.map((r) => store.append(r)));
    // In order: one process's appends run one after another. When they overlapped, an append could
    // read the file's end while another was still growing it, take that line's middle for a fragment
    // and put a needless newline first (CI once saw 202 lines).
    assert.deepEqual(await lines(store), reports);
  });

  test('a line over MAX_LINE_BYTES as stored → REPORT_TOO_LONG (413), nothing written; exactly the limit is fine', async () => {
    assert.equal(MAX_LINE_BYTES, 4096);
    const store = await freshStore();
    const refused = (err: unknown) => {
      assert.ok(err instanceof AppError);
      assert.equal(err.code, 'REPORT_TOO_LONG');
      assert.equal(err.status, 413);
      return true;
    };
    await assert.rejects(store.append('x'.repeat(4097)), refused);
    // 700 control characters are 4200 bytes once escaped: the stored size counts, not the sent one.
    await assert.rejects(store.append('\u0001'.repeat(700)), refused);
    await assert.rejects(store.append('é'.repeat(2049)), refused, 'bytes, not characters');
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

  test('recent() reads from the end: the cost follows the lines asked for, not the file', async () => {
    const store = await freshStore();
    await mkdir(join(store.file, '..'), { recursive: true });
    // 20 MB of old reports, then three new ones.
    await writeFile(store.file, ('old report ' + 'z'.repeat(1000) + '\n').repeat(20_000) + 'n1\nn2\nn3\n');
    const before = process.memoryUsage().arrayBuffers;
    assert.deepEqual(await store.recent(3), ['n3', 'n2', 'n1']);
    assert.ok(process.memoryUsage().arrayBuffers - before < 4 * 1024 * 1024, 'not read whole');
  });
});

describe('lastLines', () => {
  test('lines across block boundaries and multi-byte characters come back whole', async () => {
    const dir = await tempDir();
    const file = join(dir, 'f');
    const lines = Array.from({ length: 300 }, (_, i) => `${i} ` + 'é€'.repeat((i * 97) % 900));
    await writeFile(file, lines.join('\n') + '\n');
    assert.deepEqual(await lastLines(file, 1000, 1_000_000), [...lines].reverse());
    assert.deepEqual(await lastLines(file, 2, 1_000_000), [lines[299], lines[298]]);
  });

  test('a line longer than the cap comes back as its end after "…"; a missing file has no lines', async () => {
    const dir = await tempDir();
    const file = join(dir, 'f');
    await writeFile(file, 'first\n' + 'a'.repeat(200_000) + 'END\nlast');
    assert.deepEqual(await lastLines(file, 10, 1000), ['last', '…' + 'a'.repeat(997) + 'END', 'first']);
    assert.deepEqual(await lastLines(join(dir, 'missing'), 10, 1000), []);
  });
});
