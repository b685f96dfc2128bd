/**
 * Structured reports: stored once however often they are posted (also concurrently), beside the
 * original's line file; review events; the review page's bounded query; CSV, JSONL and the dataset
 * archive, unpacked by the system's own `tar`.
 */
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { readFile, readdir, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { AppError } from '@icls/lib/errors';
import { tempDir } from '../../../tests/helpers/fixtures.ts';
import { FeedbackStore } from './feedback-store.ts';
import { allReports, recentReports } from './report-query.ts';
import { csvLines, datasetTar, jsonLines, labelFolder } from './report-export.ts';
import { ReportStore } from './report-store.ts';

const IMG_A = `${'a'.repeat(32)}.png`;
const IMG_B = `${'b'.repeat(32)}.jpg`;
const original = (image: string, prediction: string, score: number) => `{'filename': '${image}', 'prediction': '${prediction}', 'score': ${score} }`;

async function store(): Promise<{ reports: ReportStore; dir: string; lines: () => Promise<string[]> }> {
  const dir = join(await tempDir('reports'), 'feedback');
  const feedback = new FeedbackStore(dir);
  let t = Date.parse('2026-01-01T00:00:00Z');
  const reports = new ReportStore(dir, feedback, () => new Date((t += 1000)));
  const lines = async () => (await readFile(feedback.file, 'utf8').catch(() => '')).split('\n').filter(Boolean);
  return { reports, dir, lines };
}

async function collect<T>(items: AsyncIterable<T>): Promise<T[]> {
  const out: T[] = [];
  for await (const item of items) out.push(item);
  return out;
}

describe('ReportStore', () => {
  it('stores a report once: the line in `feedback` (byte-compatible) and a structured record', async () => {
    const { reports, dir, lines } = await store();
    const report = original(IMG_A, 'red', 0.68);
    const first = await reports.add({ report, image: IMG_A, model: 'tiny-rgb', label: '  a  tabby\ncat ' }, { prediction: 'red', score: 0.6806, modelVersion: '1' });
    assert.equal(first.created, true);
    assert.deepEqual(first.record, {
      id: first.record.id,
      time: '2026-01-01T00:00:01.000Z',
      image: IMG_A,
      model: 'tiny-rgb',
      modelVersion: '1',
      prediction: 'red',
      score: 0.6806,
      label: 'a tabby cat',
      report,
    });
    const again = await reports.add({ report, image: IMG_A, model: 'tiny-rgb', label: 'a tabby cat' });
    assert.equal(again.created, false, 'the same report (label spaces aside) is not stored twice');
    assert.equal(again.record.id, first.record.id);
    assert.deepEqual(await lines(), [report]);
    assert.equal((await readFile(join(dir, 'reports.jsonl'), 'utf8')).trim().split('\n').length, 1);
  });

  it('20 identical posts at once (a double click, several api processes) store one report', async () => {
    const { reports, lines } = await store();
    const results = await Promise.all(Array.from({ length: 20 }, () => reports.add({ report: 'wrong', image: IMG_A, model: 'm', label: 'cat' })));
    assert.equal(results.filter((r) => r.created).length, 1);
    assert.deepEqual(await lines(), ['wrong']);
  });

  it('reads image, prediction and score from the original report text when the service knows nothing better', async () => {
    const { reports } = await store();
    const { record } = await reports.add({ report: original(IMG_B, 'Eskimo_dog', 0.9346) });
    assert.equal(record.image, IMG_B);
    assert.equal(record.prediction, 'Eskimo_dog');
    assert.equal(record.score, 0.9346);
    assert.equal(record.model, undefined);
    const forged = await reports.add({ report: original('../../etc/passwd', 'x', 1), image: '../x.png' });
    assert.equal(forged.record.image, undefined, 'only stored upload names are kept');
  });

  it('a report too long is refused before anything is written', async () => {
    const { reports, dir } = await store();
    await assert.rejects(reports.add({ report: 'x'.repeat(5000) }), (e: unknown) => e instanceof AppError && e.code === 'REPORT_TOO_LONG');
    assert.deepEqual(await readdir(dir).catch(() => []), []);
  });

  it('review events: mark, unmark, filter by state, model and class; unknown ids are 404', async () => {
    const { reports } = await store();
    const a = (await reports.add({ report: original(IMG_A, 'red', 0.7), image: IMG_A, model: 'tiny-rgb', label: 'cat' })).record;
    const b = (await reports.add({ report: original(IMG_B, 'blue', 0.5), image: IMG_B, model: 'other', label: 'sky' })).record;
    await reports.setReviewed(a.id, true);
    const all = await recentReports(reports.log, {}, 10);
    assert.deepEqual(all.reports.map((r) => [r.id, r.reviewed]), [[b.id, false], [a.id, true]], 'newest first, with their state');
    assert.deepEqual(all.models, ['other', 'tiny-rgb']);
    assert.deepEqual(all.predictions, ['blue', 'red']);
    assert.deepEqual((await recentReports(reports.log, { status: 'reviewed' }, 10)).reports.map((r) => r.id), [a.id]);
    assert.deepEqual((await recentReports(reports.log, { status: 'unreviewed' }, 10)).reports.map((r) => r.id), [b.id]);
    assert.deepEqual((await recentReports(reports.log, { model: 'tiny-rgb' }, 10)).reports.map((r) => r.id), [a.id]);
    assert.deepEqual((await recentReports(reports.log, { prediction: 'blue' }, 10)).reports.map((r) => r.id), [b.id]);
    await reports.setReviewed(a.id, false);
    assert.equal((await recentReports(reports.log, { status: 'reviewed' }, 10)).matched, 0, 'the latest event wins');
    const limited = await recentReports(reports.log, {}, 1);
    assert.equal(limited.reports.length, 1);
    assert.equal(limited.matched, 2);
    for (const id of ['0'.repeat(32), '../../feedback', '']) {
      await assert.rejects(reports.setReviewed(id, true), (e: unknown) => e instanceof AppError && e.code === 'NOT_FOUND');
    }
  });

  it('reports restored without their markers (report-ids/ not archived) can be reviewed, and are not stored twice', async () => {
    const { reports, dir, lines } = await store();
    const report = original(IMG_A, 'red', 0.7);
    const a = (await reports.add({ report, image: IMG_A })).record;
    await rm(join(dir, 'report-ids'), { recursive: true });
    await reports.setReviewed(a.id, true);
    assert.deepEqual((await recentReports(reports.log, { status: 'reviewed' }, 10)).reports.map((r) => r.id), [a.id]);
    assert.equal((await reports.add({ report, image: IMG_A })).created, false, 'a duplicate once its marker is back');
    assert.deepEqual(await lines(), [report]);
    await assert.rejects(reports.setReviewed('f'.repeat(a.id.length), true), (e: unknown) => e instanceof AppError && e.code === 'NOT_FOUND');
  });

  it('a restored report posted again before anyone reviews it is not stored twice; a new one still is', async () => {
    const { reports, dir, lines } = await store();
    const report = original(IMG_A, 'red', 0.7);
    const other = original(IMG_B, 'blue', 0.6);
    await reports.add({ report, image: IMG_A });
    await rm(join(dir, 'report-ids'), { recursive: true });
    assert.equal((await reports.add({ report, image: IMG_A })).created, false);
    assert.equal((await reports.add({ report: other, image: IMG_B })).created, true);
    assert.deepEqual(await lines(), [report, other]);
    assert.equal((await collect(allReports(reports.log, {}))).length, 2);
  });
});

describe('exports', () => {
  it('CSV: one row per report with its state; quotes and formula-looking labels are made safe', async () => {
    const { reports } = await store();
    const a = (await reports.add({ report: original(IMG_A, 'red', 0.7), image: IMG_A, model: 'tiny-rgb', label: '=HYPERLINK("x")' })).record;
    await reports.add({ report: 'free text, with "quotes"' });
    await reports.setReviewed(a.id, true);
    const csv = (await collect(csvLines(allReports(reports.log, {})))).join('');
    const rows = csv.split('\r\n');
    assert.equal(rows[0], 'time,id,image,model,model_version,prediction,score,label,reviewed,report');
    assert.equal(rows[1], `2026-01-01T00:00:01.000Z,${a.id},${IMG_A},tiny-rgb,,red,0.7,"'=HYPERLINK(""x"")",true,"${original(IMG_A, 'red', 0.7)}"`);
    assert.match(rows[2]!, /,false,"free text, with ""quotes"""$/);
    const jsonl = (await collect(jsonLines(allReports(reports.log, { status: 'reviewed' })))).map((l) => JSON.parse(l));
    assert.deepEqual(jsonl.map((r) => [r.id, r.reviewed, r.label]), [[a.id, true, '=HYPERLINK("x")']]);
  });

  it('the dataset archive holds <label>/<md5>.<ext> once each, unpacked by tar as it was uploaded', async () => {
    const { reports } = await store();
    const uploads = await tempDir('dataset-uploads');
    const bytesA = Buffer.from('png bytes '.repeat(100)); // 1000 bytes: not a multiple of 512
    const bytesB = Buffer.alloc(1024, 7);
    await writeFile(join(uploads, IMG_A), bytesA);
    await writeFile(join(uploads, IMG_B), bytesB);
    await reports.add({ report: 'r1', image: IMG_A, model: 'm', label: 'tabby cat' });
    await reports.add({ report: 'r2', image: IMG_A, model: 'm2', label: 'tabby cat' }); // same picture, same label
    await reports.add({ report: 'r3', image: IMG_B, model: 'm', label: '../sky' });
    await reports.add({ report: 'r4', image: IMG_B, model: 'm' }); // no label: nothing to learn from
    await reports.add({ report: 'r5', image: `${'c'.repeat(32)}.gif`, model: 'm', label: 'gone' }); // image cleaned up
    const tar = Buffer.concat(await collect(datasetTar(allReports(reports.log, {}), (name) => join(uploads, name))));
    assert.equal(tar.length % 512, 0);
    const file = join(await tempDir('dataset'), 'dataset.tar');
    await writeFile(file, tar);
    const listed = execFileSync('tar', ['-tf', file], { encoding: 'utf8' }).trim().split('\n').sort();
    assert.deepEqual(listed, [`__sky/${IMG_B}`, `tabby cat/${IMG_A}`].sort());
    const out = await tempDir('dataset-out');
    execFileSync('tar', ['-xf', file, '-C', out]);
    assert.deepEqual(await readFile(join(out, 'tabby cat', IMG_A)), bytesA);
    assert.deepEqual(await readFile(join(out, labelFolder('../sky')!, IMG_B)), bytesB);
  });

  it('the dataset archive files each image once, under its newest label; labels differing in case, width or spacing are one folder', async () => {
    const { reports } = await store();
    const uploads = await tempDir('dataset-classes');
    const imgC = `${'c'.repeat(32)}.png`;
    for (const img of [IMG_A, IMG_B, imgC]) await writeFile(join(uploads, img), Buffer.from(img));
    await reports.add({ report: 'r1', image: IMG_A, model: 'm', label: 'dog' });
    await reports.add({ report: 'r2', image: IMG_A, model: 'm2', label: 'Tabby  Cat' }); // corrected later, another model
    await reports.add({ report: 'r3', image: IMG_B, model: 'm', label: 'tabby cat' });
    await reports.add({ report: 'r4', image: imgC, model: 'm', label: 'ＴＡＢＢＹ ＣＡＴ' }); // full-width
    await reports.add({ report: 'r5', image: imgC, model: 'm', label: 'tabby cat' });
    const tar = Buffer.concat(await collect(datasetTar(allReports(reports.log, {}), (name) => join(uploads, name))));
    const file = join(await tempDir('dataset-classes-out'), 'dataset.tar');
    await writeFile(file, tar);
    const listed = execFileSync('tar', ['-tf', file], { encoding: 'utf8' }).trim().split('\n').sort();
    // Each image's newest label: A "Tabby Cat", B and C "tabby cat": the spelling most images have names the folder.
    assert.deepEqual(listed, [IMG_A, IMG_B, imgC].map((img) => `tabby cat/${img}`).sort());
  });

  it('label folders: no separators, no leading dots, at most 100 bytes', () => {
    assert.equal(labelFolder('../../etc'), '__.._etc');
    assert.equal(labelFolder('a/b\\c:d'), 'a_b_c_d');
    assert.equal(labelFolder('   '), undefined);
    assert.ok(Buffer.byteLength(labelFolder('é'.repeat(80))!) <= 100);
  });
});
