/**
 * The web product through app.inject() (and one real socket for the slow upload), on a real
 * in-process queue and the generated tiny-rgb model: results at their own address, reports stored
 * once with what the service knows, the admin review with its filters, marks and exports, the API
 * page, static files, human errors and HTML error pages, and a prediction deadline that starts once
 * the upload is in.
 */
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { readFile, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import type { FastifyInstance } from 'fastify';
import type { Config } from '@icls/lib/config';
import { expectedTinyRgb, fixtureModels, image } from '../../tests/helpers/fixtures.ts';
import { startInjectApi, type InjectApi } from '../test/inject-app.ts';
import { multipartBody } from '../../tests/helpers/raw-http.ts';
import { buildApp } from './app.ts';

const HTML = { accept: 'text/html,application/xhtml+xml' };
const form = (fields: Record<string, string>) => ({
  headers: { 'content-type': 'application/x-www-form-urlencoded' },
  payload: new URLSearchParams(fields).toString(),
});
async function upload(name: string, fields: Record<string, string> = {}) {
  const { body, contentType } = multipartBody([...Object.entries(fields).map(([n, value]) => ({ name: n, value })), { name: 'file', filename: name, value: await readFile(image(name)) }]);
  return { payload: body, headers: { 'content-type': contentType } };
}
const md5Of = async (name: string) => createHash('md5').update(await readFile(image(name))).digest('hex');

describe('web product (inject, embedded queue, tiny-rgb)', () => {
  let api: InjectApi;
  let config: Config;
  let app: FastifyInstance;

  before(async () => {
    api = await startInjectApi({ MAX_UPLOAD_BYTES: String(1024 * 1024) });
    ({ app, config } = api);
  });
  after(() => api.close());

  describe('results have addresses', () => {
    it('a browser\'s POST / → 303 → the result page, which reloads without uploading and still answers after a restart', async () => {
      const expected = await expectedTinyRgb(image('rocket.jpg'));
      const form = await upload('rocket.jpg');
      const posted = await app.inject({ method: 'POST', url: '/', ...form, headers: { ...form.headers, 'sec-fetch-site': 'same-origin' } });
      assert.equal(posted.statusCode, 303);
      const url = `/result/${await md5Of('rocket.jpg')}.jpg?model=tiny-rgb`;
      assert.equal(posted.headers.location, url);
      const page = await app.inject({ url, headers: HTML });
      assert.equal(page.statusCode, 200);
      assert.ok(page.body.includes(`id="prediction">${expected.label}<`));
      assert.ok(page.body.includes(`id="score">${expected.score}<`));
      assert.match(page.body, /<datalist id="label-suggestions"><option value="(red|green|blue)"><\/option><option/, 'the model\'s classes are the label suggestions');
      assert.match(page.body, /Answered in [\d.]+ m?s \(upload [\d.]+ m?s, queue/);

      // A new api process (nothing remembered) answers the same address from the stored image.
      const { app: fresh } = await buildApp(config, api.queue, api.log);
      const again = await fresh.inject({ url, headers: HTML });
      await fresh.close();
      assert.equal(again.statusCode, 200);
      assert.ok(again.body.includes(`id="prediction">${expected.label}<`));
    });

    it('a browser over plain http to a LAN address (Origin, no Sec-Fetch-Site: Chromium sends those only to https and localhost) gets the 303 too; a program gets the 200', async () => {
      const form = await upload('coffee.png');
      const lan = await app.inject({ method: 'POST', url: '/', ...form, headers: { ...form.headers, host: '192.0.2.2:8080', origin: 'http://192.0.2.2:8080' } });
      assert.equal(lan.statusCode, 303, lan.body.slice(0, 300));
      assert.equal(lan.headers.location, `/result/${await md5Of('coffee.png')}.png?model=tiny-rgb`);
      const program = await app.inject({ method: 'POST', url: '/', ...(await upload('coffee.png')) });
      assert.equal(program.statusCode, 200);
    });

    it('a remembered result whose image was removed (the upload sweeper) is a 404 page, not a broken image', async () => {
      const form = await upload('chelsea.png');
      const posted = await app.inject({ method: 'POST', url: '/', ...form, headers: { ...form.headers, 'sec-fetch-site': 'same-origin' } });
      assert.equal(posted.statusCode, 303);
      const url = posted.headers.location as string;
      assert.equal((await app.inject({ url, headers: HTML })).statusCode, 200);
      await rm(join(config.UPLOAD_DIR, `${await md5Of('chelsea.png')}.png`));
      const page = await app.inject({ url, headers: HTML });
      assert.equal(page.statusCode, 404);
      assert.match(page.body, /it has been cleaned up/);
    });

    it('an address without a model is sent to the one naming it; unknown images and models are HTML 404 pages', async () => {
      const name = `${await md5Of('rocket.jpg')}.jpg`;
      const bare = await app.inject({ url: `/result/${name}`, headers: HTML });
      assert.equal(bare.statusCode, 302);
      assert.equal(bare.headers.location, `/result/${name}?model=tiny-rgb`);
      for (const url of [`/result/${'0'.repeat(32)}.png?model=tiny-rgb`, '/result/..%2Ffeedback?model=tiny-rgb', `/result/${name}?model=nope`]) {
        const r = await app.inject({ url, headers: HTML });
        assert.equal(r.statusCode, 404, url);
        assert.match(String(r.headers['content-type']), /text\/html/);
        assert.match(r.body, /<h1>Page not found<\/h1>/);
        assert.match(r.body, /href="\/"/, 'a way back');
      }
    });
  });

  describe('reports', () => {
    it('the result page\'s report (with a label) is stored once, with the model version the service knows, then thanks the user', async () => {
      const name = `${await md5Of('chelsea.png')}.png`;
      await app.inject({ method: 'POST', url: '/', ...(await upload('chelsea.png')) });
      const expected = await expectedTinyRgb(image('chelsea.png'));
      const report = `{'filename': '${name}', 'prediction': '${expected.label}', 'score': ${expected.score} }`;
      const fields = { report, image: name, model: 'tiny-rgb', label: 'a cat' };
      const posts = await Promise.all([1, 2, 3].map(() => app.inject({ method: 'POST', url: '/feedback', ...form(fields) })));
      for (const r of posts) {
        assert.equal(r.statusCode, 303);
        assert.equal(r.headers.location, `/result/${name}?model=tiny-rgb#report-saved`);
      }
      const lines = (await readFile(join(config.FEEDBACK_DIR, 'feedback'), 'utf8')).split('\n').filter(Boolean);
      assert.deepEqual(lines.filter((l) => l === report), [report], 'one line, byte for byte the original report');
      const records = (await readFile(join(config.FEEDBACK_DIR, 'reports.jsonl'), 'utf8')).trim().split('\n').map((l) => JSON.parse(l));
      const mine = records.filter((r) => r.image === name);
      assert.equal(mine.length, 1);
      assert.deepEqual({ ...mine[0], id: undefined, time: undefined }, { type: 'report', id: undefined, time: undefined, image: name, model: 'tiny-rgb', modelVersion: '1', prediction: expected.label, score: expected.score, label: 'a cat', report });
      // The thanks is told by a cookie the post sets for that result's address alone, not by the address:
      // `?reported=1` thanked anyone the link was sent to, and took their report form away.
      const setCookie = String(posts[0]!.headers['set-cookie']);
      assert.match(setCookie, new RegExp(`^reported=tiny-rgb; Path=/result/${name.replace('.', '\\.')}; HttpOnly; SameSite=Lax; Max-Age=60$`));
      const cookie = setCookie.split(';')[0]!;
      const thanks = await app.inject({ url: `/result/${name}?model=tiny-rgb`, headers: { ...HTML, cookie } });
      assert.match(thanks.body, /id="report-saved"[^>]*>Thank you: your report was saved for review\.</);
      assert.doesNotMatch(thanks.body, /id="report-form"/, 'no second report form');
      assert.match(String(thanks.headers['set-cookie']), /^reported=; Path=\/result\/[^;]+; HttpOnly; SameSite=Lax; Max-Age=0$/, 'thanked once');
      assert.equal(thanks.headers['cache-control'], 'no-store');
      const shared = await app.inject({ url: `/result/${name}?model=tiny-rgb&reported=1`, headers: HTML });
      assert.equal(shared.statusCode, 200);
      assert.doesNotMatch(shared.body, /Thank you/);
      assert.match(shared.body, /id="report-form"/, 'the report form, for whoever the link was sent to');
    });

    it('a report naming a result this service never showed (a forged form: model=../../x) is stored and thanked in place, not sent to a result page that answers 404', async () => {
      const name = `${await md5Of('chelsea.png')}.png`;
      await app.inject({ method: 'POST', url: '/', ...(await upload('chelsea.png')) });
      for (const model of ['../../x', 'not-served']) {
        const r = await app.inject({ method: 'POST', url: '/feedback', ...form({ report: `forged ${model}`, image: name, model }) });
        assert.equal(r.statusCode, 200, `${model}: ${r.statusCode} ${String(r.headers.location)}`);
        assert.match(r.body, /Thank you: your report was saved for review\./);
      }
      const lines = (await readFile(join(config.FEEDBACK_DIR, 'feedback'), 'utf8')).split('\n');
      assert.ok(lines.includes('forged ../../x'), 'stored, as the original stores any report');
    });

    it('a report on an API answer records what the service answered, not only what the report says', async () => {
      const expected = await expectedTinyRgb(image('coffee.png'));
      const answered = await app.inject({ method: 'POST', url: '/v1/predict', headers: { 'content-type': 'image/png' }, payload: await readFile(image('coffee.png')) });
      assert.equal(answered.statusCode, 200, answered.body);
      const name = answered.json().image as string;
      const report = await app.inject({ method: 'POST', url: '/v1/feedback', payload: { report: 'api: wrong', image: name, model: 'tiny-rgb', label: 'a mug' } });
      assert.equal(report.statusCode, 201, report.body);
      const records = (await readFile(join(config.FEEDBACK_DIR, 'reports.jsonl'), 'utf8')).trim().split('\n').map((l) => JSON.parse(l));
      const mine = records.find((r) => r.id === report.json().id);
      assert.deepEqual([mine.prediction, mine.score, mine.modelVersion], [expected.label, expected.score, '1']);
    });

    it('a report naming an image but no model records the model that answered it here, and its prediction', async () => {
      const expected = await expectedTinyRgb(image('astronaut.png'));
      const answered = await app.inject({ method: 'POST', url: '/v1/predict', headers: { 'content-type': 'image/png' }, payload: await readFile(image('astronaut.png')) });
      const report = await app.inject({ method: 'POST', url: '/v1/feedback', payload: { report: 'no model named', image: answered.json().image, label: 'a person' } });
      assert.equal(report.statusCode, 201, report.body);
      const records = (await readFile(join(config.FEEDBACK_DIR, 'reports.jsonl'), 'utf8')).trim().split('\n').map((l) => JSON.parse(l));
      const mine = records.find((r) => r.id === report.json().id);
      assert.deepEqual([mine.model, mine.prediction, mine.score], ['tiny-rgb', expected.label, expected.score]);
    });

    it('/v1/feedback says when a report was already stored', async () => {
      const body = { report: 'v1 report', image: `${'e'.repeat(32)}.png`, label: 'dog' };
      const first = await app.inject({ method: 'POST', url: '/v1/feedback', payload: body });
      const second = await app.inject({ method: 'POST', url: '/v1/feedback', payload: body });
      assert.equal(first.statusCode, 201);
      assert.equal(first.json().duplicate, false);
      assert.equal(second.json().duplicate, true);
      assert.equal(second.json().id, first.json().id);
    });

    it('/v1/feedback refuses an image that is no stored name and a report of spaces only, where it stored them (the image silently dropped)', async () => {
      for (const [payload, message] of [
        [{ report: 'r', image: '0f1b4a59504988622035d850dc0555ac.PNG' }, /: image must be a stored upload's name, <md5>\.<ext> in lower case/],
        [{ report: 'r', image: '/static/uploads/0f1b4a59504988622035d850dc0555ac.png' }, /: image must be/],
        [{ report: 'r', image: '../../etc/passwd' }, /: image must be/],
        [{ report: '   ' }, /: report must be a string with some text$/],
      ] as const) {
        const r = await app.inject({ method: 'POST', url: '/v1/feedback', payload });
        assert.equal(r.statusCode, 400, `${JSON.stringify(payload)}: ${r.body}`);
        assert.match(r.json().error.message, message);
      }
      const noImage = await app.inject({ method: 'POST', url: '/v1/feedback', payload: { report: 'r, no image', image: '' } });
      assert.equal(noImage.statusCode, 201, 'an empty image means none');
    });

    it('a parameter or form field sent twice counts once, its first value: top_k in the query or the form, model in the query', async () => {
      const photo = await readFile(image('chelsea.png'));
      const form = multipartBody([{ name: 'file', filename: 'c.png', value: photo }, { name: 'top_k', value: '2' }, { name: 'top_k', value: '3' }]);
      const r = await app.inject({ method: 'POST', url: '/v1/predict', headers: { 'content-type': form.contentType }, payload: form.body });
      assert.equal(r.json().predictions.length, 2, r.body);
      const q = await app.inject({ method: 'POST', url: '/v1/predict?top_k=1&top_k=3&model=tiny-rgb&model=other', headers: { 'content-type': 'image/png' }, payload: photo });
      assert.equal(q.statusCode, 200, q.body);
      assert.equal(q.json().predictions.length, 1);
    });

    it('a report sent as multipart to /v1/feedback, or with its field twice to /feedback, is stored (the first value), not refused or dropped', async () => {
      const parts = multipartBody([{ name: 'report', value: 'multipart report' }]);
      const mp = await app.inject({ method: 'POST', url: '/v1/feedback', headers: { 'content-type': parts.contentType }, payload: parts.body });
      assert.equal(mp.statusCode, 201, mp.body);
      assert.equal(mp.json().stored, 'multipart report');
      const empty = multipartBody([{ name: 'other', value: 'x' }]);
      const none = await app.inject({ method: 'POST', url: '/v1/feedback', headers: { 'content-type': empty.contentType }, payload: empty.body });
      assert.equal(none.statusCode, 400);
      assert.match(none.json().error.message, /body must have required property 'report'/);
      // The picture attached as `image` was dropped without a word and the report stored without it.
      const attached = multipartBody([{ name: 'report', value: 'it is a dog' }, { name: 'image', filename: 'dog.png', value: Buffer.from('png') }]);
      const refused = await app.inject({ method: 'POST', url: '/v1/feedback', headers: { 'content-type': attached.contentType }, payload: attached.body });
      assert.equal(refused.statusCode, 400, refused.body);
      assert.match(refused.json().error.message, /the form's "image" is a file: send the name \/v1\/predict answered for it instead \(-F image=<md5>\.<ext>\)/);
      // A real photo is over the body limit, refused from its length before it is read: the 413 says the same.
      const photo = multipartBody([{ name: 'report', value: 'it is a dog' }, { name: 'image', filename: 'dog.png', value: Buffer.alloc(200_000) }]);
      const tooLarge = await app.inject({ method: 'POST', url: '/v1/feedback', headers: { 'content-type': photo.contentType }, payload: photo.body });
      assert.equal(tooLarge.statusCode, 413, tooLarge.body);
      assert.match(tooLarge.json().error.message, /this request declares \d+: a report names its image \(-F image=<md5>\.<ext>, the name \/v1\/predict answered\), it does not carry it/);
      const asFile = multipartBody([{ name: 'report', filename: 'report.txt', value: 'from a file' }]);
      const reportFile = await app.inject({ method: 'POST', url: '/v1/feedback', headers: { 'content-type': asFile.contentType }, payload: asFile.body });
      assert.equal(reportFile.statusCode, 400);
      assert.match(reportFile.json().error.message, /the form's "report" is a file: send it as a text field/);

      const twice = await app.inject({ method: 'POST', url: '/feedback', headers: { 'content-type': 'application/x-www-form-urlencoded' }, payload: 'report=first+of+two&report=second+of+two' });
      assert.equal(twice.statusCode, 200);
      assert.match(twice.body, /your report was saved/);
      const lines = (await readFile(join(config.FEEDBACK_DIR, 'feedback'), 'utf8')).split('\n');
      assert.ok(lines.includes('first of two') && !lines.includes('second of two'), lines.join('|'));

      // A field twice in a URL-encoded form counts once too (it became a list: "report must be a string").
      const listed = await app.inject({ method: 'POST', url: '/v1/feedback', headers: { 'content-type': 'application/x-www-form-urlencoded' }, payload: 'report=url+first&report=url+second' });
      assert.equal(listed.statusCode, 201, listed.body);
      assert.equal(listed.json().stored, 'url first');
      // A JSON object with a key twice is read as JSON parsers read it (JSON.parse, as the README says): the last one counts.
      const json = await app.inject({ method: 'POST', url: '/v1/feedback', headers: { 'content-type': 'application/json' }, payload: '{"report": "json first", "report": "json last"}' });
      assert.equal(json.statusCode, 201, json.body);
      assert.equal(json.json().stored, 'json last');
      // Field names after built-in properties: refused as in multipart (URL-encoded took them).
      for (const name of ['__proto__', 'constructor', 'toString']) {
        const r = await app.inject({ method: 'POST', url: '/v1/feedback', headers: { 'content-type': 'application/x-www-form-urlencoded' }, payload: `report=z&${name}=1` });
        assert.equal(r.statusCode, 400, `${name}: ${r.body}`);
        assert.equal(r.json().error.code, 'MALFORMED_BODY');
      }

      // A URL-encoded form has at most 20 fields, as a multipart one (it had no bound but its 64 KiB).
      const formOf = (n: number) => ['report=bounded+form', ...Array.from({ length: n - 1 }, (_, i) => `f${i}=x`)].join('&');
      const ok = await app.inject({ method: 'POST', url: '/v1/feedback', headers: { 'content-type': 'application/x-www-form-urlencoded' }, payload: formOf(20) });
      assert.equal(ok.statusCode, 201, ok.body);
      const over = await app.inject({ method: 'POST', url: '/v1/feedback', headers: { 'content-type': 'application/x-www-form-urlencoded' }, payload: formOf(3000) });
      assert.equal(over.statusCode, 413, over.body);
      assert.deepEqual(over.json().error, { code: 'TOO_MANY_PARTS', message: over.json().error.message });
      assert.match(over.json().error.message, /a form has at most 20 fields$/);
    });
  });

  describe('review (admin)', () => {
    it('a report naming an image this api does not hold (swept, or on another replica) says so on its card instead of a broken picture', async () => {
      const image = `${'f'.repeat(32)}.png`;
      const r = await app.inject({ method: 'POST', url: '/v1/feedback', payload: { report: 'never uploaded here', image, label: 'elsewhere' } });
      assert.equal(r.statusCode, 201, r.body);
      const review = await app.inject({ url: '/feedback/review', headers: HTML });
      const card = review.body.split('<li class="card"').find((c) => c.includes('<strong>elsewhere</strong>')) ?? '';
      assert.match(card, new RegExp(`<p class="thumb no-image">Image not stored here: <code>${image}</code></p>`));
      assert.doesNotMatch(card, /<img /);
    });

    it('a bad filter or page is an error page that leads back to the review, not to the classifier', async () => {
      for (const url of ['/feedback/review?status=bogus', '/feedback/review?page=0', '/feedback/export.csv?status=bogus']) {
        const r = await app.inject({ url, headers: HTML });
        assert.equal(r.statusCode, 400, url);
        assert.match(r.body, /<a class="button" href="\/feedback\/review">Go to the review page<\/a>/, url);
        assert.doesNotMatch(r.body, /Go to the classifier/, url);
      }
    });

    it('cards with label, model and time; filters; mark reviewed (same-origin only); exports', async () => {
      const review = await app.inject({ url: '/feedback/review', headers: HTML });
      assert.equal(review.statusCode, 200);
      const card = review.body.split('<li class="card"').find((c) => c.includes('<strong>a cat</strong>')) ?? '';
      const id = /id="report-([0-9a-f]{32})"/.exec(card)?.[1];
      assert.ok(id, 'the labelled report has a card');
      assert.match(review.body, /<dt>User says<\/dt><dd><strong>a cat<\/strong>/);
      assert.match(review.body, /<time datetime="\d{4}-\d\d-\d\dT/);
      assert.match((await app.inject({ url: '/feedback/review?status=reviewed' })).body, /No reports match/);
      assert.match(card, /<img src="\/static\/uploads\/[0-9a-f]{32}\.\w+"/, 'a stored image is shown');

      const cross = await app.inject({ method: 'POST', url: '/feedback/review/mark', ...form({ id, reviewed: '1' }), headers: { 'content-type': 'application/x-www-form-urlencoded', 'sec-fetch-site': 'cross-site' } });
      assert.equal(cross.statusCode, 403);
      const remote = await app.inject({ method: 'POST', url: '/feedback/review/mark', remoteAddress: '203.0.113.9', ...form({ id, reviewed: '1' }) });
      assert.equal(remote.statusCode, 403, 'admin only');
      const marked = await app.inject({ method: 'POST', url: '/feedback/review/mark', ...form({ id, reviewed: '1', back: 'model=tiny-rgb&evil=//x.example' }) });
      assert.equal(marked.statusCode, 303);
      assert.equal(marked.headers.location, `/feedback/review?model=tiny-rgb#report-${id}`, 'back to the same filter, nothing else');
      const reviewed = await app.inject({ url: '/feedback/review?status=reviewed&model=tiny-rgb' });
      assert.match(reviewed.body, new RegExp(`id="report-${id}"`));
      assert.match(reviewed.body, /Mark as not reviewed/);
      // Each card's heading and button name its report, so a screen reader's lists tell them apart.
      const [heading] = /<h2 class="visually-hidden">Report: predicted [^<]+<\/h2>/.exec(reviewed.body) ?? [];
      assert.ok(heading, 'the card has a heading');
      assert.match(reviewed.body, /<button type="submit" class="secondary">Mark as not reviewed<span class="visually-hidden">: predicted [^<]+, reported \d{4}-\d\d-\d\d \d\d:\d\d UTC<\/span><\/button>/);

      // A value outside a fixed set is refused naming the values allowed.
      const bad = await app.inject({ url: '/feedback/export.csv?status=zzz' });
      assert.equal(bad.statusCode, 400);
      assert.match(bad.json().error.message, /querystring status must be one of "reviewed", "unreviewed", ""$/);
      const badMark = await app.inject({ method: 'POST', url: '/feedback/review/mark', ...form({ id, reviewed: '7' }) });
      assert.equal(badMark.statusCode, 400);
      assert.match(badMark.body, /body reviewed must be one of &#34;1&#34;, &#34;0&#34;/, "the page, its quotes escaped");

      const csv = await app.inject({ url: '/feedback/export.csv?status=reviewed' });
      assert.equal(csv.statusCode, 200);
      assert.match(String(csv.headers['content-type']), /^text\/csv/);
      assert.match(String(csv.headers['content-disposition']), /^attachment; filename="reports-\d{4}-\d\d-\d\d\.csv"$/);
      const rows = csv.body.trim().split('\r\n');
      assert.equal(rows.length, 2);
      assert.match(rows[1]!, /,tiny-rgb,1,(red|green|blue),[\d.]+,a cat,true,/);
      const jsonl = await app.inject({ url: '/feedback/export.jsonl' });
      assert.ok(jsonl.body.trim().split('\n').every((l) => typeof JSON.parse(l).reviewed === 'boolean'));
      const tar = await app.inject({ url: '/feedback/dataset.tar?status=reviewed' });
      assert.equal(tar.headers['content-type'], 'application/x-tar');
      assert.equal(tar.rawPayload.subarray(257, 262).toString(), 'ustar');
      assert.equal(tar.rawPayload.subarray(345, 350).toString(), 'a cat');
      for (const url of ['/feedback/export.csv', '/feedback/export.jsonl', '/feedback/dataset.tar']) {
        assert.equal((await app.inject({ url, remoteAddress: '203.0.113.9' })).statusCode, 403, `${url} is admin only`);
      }
    });
  });

  describe('pages, files and errors', () => {
    it('reports past the first 200 are on later pages, with links both ways; marking one returns to its page (page 2 showed page 1 again)', async () => {
      for (let i = 0; i < 205; i++) {
        const r = await app.inject({ method: 'POST', url: '/v1/feedback', payload: { report: `paging report ${i}`, model: 'paging-model' } });
        assert.equal(r.statusCode, 201, r.body);
      }
      const first = await app.inject({ url: '/feedback/review?model=paging-model', headers: HTML });
      assert.match(first.body, /Showing reports 1–200 of 205 matching, newest first\./);
      assert.equal(first.body.match(/<li class="card"/g)?.length, 200);
      assert.match(first.body, /<a class="button secondary" href="\/feedback\/review\?model=paging-model&#38;page=2" rel="next">Older reports<\/a>/);
      assert.doesNotMatch(first.body, /rel="prev"/);
      assert.match(first.body, /paging report 204/, 'newest first');

      const second = await app.inject({ url: '/feedback/review?model=paging-model&page=2', headers: HTML });
      assert.match(second.body, /Showing reports 201–205 of 205 matching, newest first\./);
      assert.equal(second.body.match(/<li class="card"/g)?.length, 5);
      assert.match(second.body, /paging report 0</);
      assert.doesNotMatch(second.body, /paging report 5</);
      assert.match(second.body, /href="\/feedback\/review\?model=paging-model" rel="prev">Newer reports<\/a>/);
      assert.doesNotMatch(second.body, /rel="next"/);

      const id = /id="report-([0-9a-f]{32})"/.exec(second.body)![1]!;
      const back = /name="back" value="([^"]*)"/.exec(second.body)![1]!.replace(/&#38;/g, '&');
      const marked = await app.inject({ method: 'POST', url: '/feedback/review/mark', ...form({ id, reviewed: '1', back }) });
      assert.equal(marked.headers.location, `/feedback/review?model=paging-model&page=2#report-${id}`);

      const beyond = await app.inject({ url: '/feedback/review?model=paging-model&page=9', headers: HTML });
      assert.match(beyond.body, /No reports on page 9: 205 matching reports fill 2 pages\./);
      assert.match(beyond.body, /href="\/feedback\/review\?model=paging-model&#38;page=2" rel="prev">Newer reports/);
      assert.equal((await app.inject({ url: '/feedback/review?page=0', headers: HTML })).statusCode, 400);
    });

    it('unknown paths and missing images: an HTML page for browsers, JSON for programs and the APIs', async () => {
      const page = await app.inject({ url: '/no/such/page', headers: HTML });
      assert.equal(page.statusCode, 404);
      assert.match(page.body, /<h1>Page not found<\/h1>/);
      const missing = await app.inject({ url: `/static/uploads/${'f'.repeat(32)}.png`, headers: HTML });
      assert.match(missing.body, /<h1>Page not found<\/h1>/);
      assert.equal((await app.inject({ url: '/no/such/page' })).json().error.code, 'NOT_FOUND');
      assert.equal((await app.inject({ url: '/v1/nothing', headers: HTML })).json().error.code, 'NOT_FOUND');
      // The choice follows Accept's q values (text/html;q=0 refuses HTML), and says so to caches.
      for (const [accept, page] of [
        ['text/html;q=0, application/json', false],
        ['application/json, text/html', false],
        ['application/json;q=0.5, text/html', true],
        ['text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8', true],
      ] as const) {
        const r = await app.inject({ url: '/no/such/page', headers: { accept } });
        assert.equal(/^text\/html/.test(String(r.headers['content-type'])), page, accept);
        assert.equal(r.headers.vary, 'Accept', accept);
      }
      assert.equal((await app.inject({ url: '/v1/nothing', headers: HTML })).headers.vary, undefined, 'an API path is JSON whatever Accept says');
    });

    it('favicon, style sheet and the pages\' compiled scripts; revalidation; nothing outside api/public', async () => {
      const icon = await app.inject({ url: '/favicon.ico' });
      assert.equal(icon.statusCode, 301);
      assert.equal((await app.inject({ url: icon.headers.location! })).headers['content-type'], 'image/svg+xml');
      const js = await app.inject({ url: '/static/js/upload-page.js' });
      assert.equal(js.statusCode, 200, 'npm run build compiles api/client into api/public/js');
      assert.match(String(js.headers['content-type']), /^text\/javascript/);
      assert.equal((await app.inject({ url: '/static/js/upload-page.js', headers: { 'if-none-match': String(js.headers.etag) } })).statusCode, 304);
      // Compared weakly, in a list, or `*` (RFC 9110): only the exact single tag got its 304.
      for (const header of [`W/${String(js.headers.etag)}`, `"other", ${String(js.headers.etag)}`, '*']) {
        assert.equal((await app.inject({ url: '/static/js/upload-page.js', headers: { 'if-none-match': header } })).statusCode, 304, header);
      }
      assert.equal((await app.inject({ url: '/static/js/upload-page.js', headers: { 'if-none-match': '"other"' } })).statusCode, 200);
      for (const bad of ['/static/../src/app.ts', '/static/%2e%2e/package.json', '/static/js/.tsbuildinfo', '/static/js']) {
        assert.equal((await app.inject({ url: bad })).statusCode, 404, bad);
      }
    });

    it('upload errors in words: sizes in MB, every accepted format named, no decoder internals', async () => {
      const flashOf = async (payload: Awaited<ReturnType<typeof upload>>) => {
        const r = await app.inject({ method: 'POST', url: '/', ...payload });
        assert.equal(r.statusCode, 302);
        return decodeURIComponent(/flash=([^;]*)/.exec(String(r.headers['set-cookie']))![1]!);
      };
      const big = multipartBody([{ name: 'file', filename: 'big.jpg', value: Buffer.alloc(1024 * 1024 + 10, 0xff) }]);
      assert.equal(await flashOf({ payload: big.body, headers: { 'content-type': big.contentType } }), 'The file is larger than the upload limit: the limit is 1 MB');
      const pdf = multipartBody([{ name: 'file', filename: 'invoice.pdf', value: 'x' }]);
      assert.equal(await flashOf({ payload: pdf.body, headers: { 'content-type': pdf.contentType } }), 'Allowed image types are -> png, jpg, jpeg, gif, webp');
      assert.equal(await flashOf(await upload('truncated.jpg')), 'The image is damaged and cannot be decoded');
      const declared = await app.inject({ method: 'POST', url: '/v1/predict', headers: { 'content-type': 'image/png', 'content-length': String(3 * 1024 * 1024) }, payload: Buffer.alloc(10) });
      assert.match(declared.json().error.message, /the limit is 1 MB, this upload is 3 MB/);
    });

    it('/docs: Swagger UI from the package, under a policy without inline script, with curl, Python and fetch examples', async () => {
      const docs = await app.inject({ url: '/docs/', headers: HTML });
      assert.equal(docs.statusCode, 200);
      assert.match(docs.body, /<meta name="viewport" content="width=device-width, initial-scale=1">/, 'a phone lays it out at its own width');
      assert.equal(Number(docs.headers['content-length']), Buffer.byteLength(docs.body));
      const csp = String(docs.headers['content-security-policy']);
      assert.match(csp, /script-src 'self'(;|$)/);
      assert.doesNotMatch(csp, /unsafe-inline|unsafe-eval|https?:/);
      for (const src of docs.body.match(/<script[^>]*>/g) ?? []) assert.match(src, /src="\.?\/?[\w/.-]+"/, `same-origin file, not inline: ${src}`);
      const asset = /src="([^"]*swagger-ui-bundle\.js)"/.exec(docs.body)![1]!;
      assert.equal((await app.inject({ url: new URL(asset, 'http://x/docs/').pathname })).statusCode, 200);
      const spec = (await app.inject({ url: '/docs/json', headers: { host: 'classifier.example:8080' } })).json();
      for (const path of ['/predict', '/v1/predict']) {
        const samples = spec.paths[path].post['x-codeSamples'] as { label: string; source: string }[];
        assert.deepEqual(samples.map((s) => s.label), ['curl', 'Python requests', 'JavaScript fetch']);
        assert.ok(samples.every((s) => s.source.includes(`http://classifier.example:8080${path}`)), 'examples name this service');
        assert.match(spec.paths[path].post.description, /```python\nimport requests/);
      }
    });
  });
});

describe('deadline fair to slow uplinks', () => {
  it('an upload that takes longer than REQUEST_TIMEOUT_MS still gets its prediction', async () => {
    const slow = await startInjectApi({ REQUEST_TIMEOUT_MS: '400' });
    const { app } = slow;
    try {
      await app.listen({ port: 0, host: '127.0.0.1' });
      const { port } = app.server.address() as { port: number };
      const { body, contentType } = multipartBody([{ name: 'file', filename: 'rocket.jpg', value: await readFile(image('rocket.jpg')) }]);
      // Ten slices, 150 ms apart: the upload takes ~1.4 s, 3.5 × the prediction deadline.
      const slices = 10;
      const stream = new ReadableStream<Uint8Array>({
        async pull(controller) {
          const i = (this as unknown as { i?: number }).i ?? 0;
          (this as unknown as { i: number }).i = i + 1;
          if (i === slices) return controller.close();
          if (i > 0) await new Promise((r) => setTimeout(r, 150));
          controller.enqueue(new Uint8Array(body.subarray(Math.floor((i * body.length) / slices), Math.floor(((i + 1) * body.length) / slices))));
        },
      });
      const started = Date.now();
      const r = await fetch(`http://127.0.0.1:${port}/v1/predict`, { method: 'POST', body: stream, headers: { 'content-type': contentType }, duplex: 'half' } as RequestInit);
      const took = Date.now() - started;
      const answer = (await r.json()) as { success: boolean; timings: { uploadMs: number } };
      assert.equal(r.status, 200, JSON.stringify(answer));
      assert.ok(took > 400 && answer.timings.uploadMs > 400, `the upload took ${answer.timings.uploadMs} ms, longer than the deadline`);
    } finally {
      await slow.close();
    }
  });
});

describe('the upload form keeps its model when an upload is refused (two models, no JavaScript)', () => {
  let api: InjectApi;
  before(async () => {
    api = await startInjectApi({ MODELS_DIR: await fixtureModels(['tiny-rgb', 'tiny-slow']), DEFAULT_MODEL: 'tiny-rgb' });
  });
  after(() => api.close());
  const picked = (page: string) => /<option value="([^"]+)" selected>/.exec(page)?.[1];

  it('the picker comes before the file, so the form sends the model first', async () => {
    const page = (await api.app.inject({ url: '/', headers: HTML })).body;
    assert.ok(page.indexOf('name="model"') > 0 && page.indexOf('name="model"') < page.indexOf('name="file"'), 'the model field precedes the file field');
    assert.equal(picked(page), 'tiny-rgb');
  });

  it('a refused file (flash and redirect, as the original) comes back to the page with the model it had picked', async () => {
    const pdf = multipartBody([{ name: 'model', value: 'tiny-slow' }, { name: 'file', filename: 'invoice.pdf', value: 'x' }]);
    const r = await api.app.inject({ method: 'POST', url: '/', payload: pdf.body, headers: { 'content-type': pdf.contentType, ...HTML } });
    assert.equal(r.statusCode, 302);
    assert.equal(r.headers.location, '/?model=tiny-slow');
    const cookie = String(r.headers['set-cookie']).split(';')[0]!;
    const page = await api.app.inject({ url: r.headers.location, headers: { ...HTML, cookie } });
    assert.match(page.body, /Allowed image types are -&#62; png/);
    assert.equal(picked(page.body), 'tiny-slow');
    // A model no longer served (or a made-up one) falls back to the default.
    assert.equal(picked((await api.app.inject({ url: '/?model=gone', headers: HTML })).body), 'tiny-rgb');
  });

  it('a report naming an image but no model takes none when two models answered that image', async () => {
    const png = await readFile(image('coffee.png'));
    for (const model of ['tiny-rgb', 'tiny-slow']) {
      const r = await api.app.inject({ method: 'POST', url: `/v1/predict?model=${model}`, headers: { 'content-type': 'image/png' }, payload: png });
      assert.equal(r.statusCode, 200, r.body);
    }
    const name = `${createHash('md5').update(png).digest('hex')}.png`;
    const report = await api.app.inject({ method: 'POST', url: '/v1/feedback', payload: { report: 'which model?', image: name } });
    assert.equal(report.statusCode, 201, report.body);
    const records = (await readFile(join(api.config.FEEDBACK_DIR, 'reports.jsonl'), 'utf8')).trim().split('\n').map((l) => JSON.parse(l));
    const mine = records.find((r) => r.id === report.json().id);
    assert.equal(mine.model, undefined);
    assert.equal(mine.prediction, undefined);
    // Its card's picture has no prediction to name: its alt text read "Reported image, a report".
    const review = await api.app.inject({ url: '/feedback/review', headers: HTML });
    const card = review.body.split('<li class="card"').find((c) => c.includes(`id="report-${mine.id}"`)) ?? '';
    assert.match(card, new RegExp(`<img src="/static/uploads/${name}" alt="Reported image" `));
  });

  it('the thanks after a report is for the reported model\'s result only, not the same image\'s by another model', async () => {
    const png = await readFile(image('coffee.png'));
    for (const model of ['tiny-rgb', 'tiny-slow']) {
      const r = await api.app.inject({ method: 'POST', url: `/v1/predict?model=${model}`, headers: { 'content-type': 'image/png' }, payload: png });
      assert.equal(r.statusCode, 200, r.body);
    }
    const name = `${createHash('md5').update(png).digest('hex')}.png`;
    const posted = await api.app.inject({ method: 'POST', url: '/feedback', ...form({ report: 'not blue', image: name, model: 'tiny-slow' }) });
    assert.equal(posted.statusCode, 303, posted.body.slice(0, 200));
    const cookie = String(posted.headers['set-cookie']).split(';')[0]!;
    const other = await api.app.inject({ url: `/result/${name}?model=tiny-rgb`, headers: { ...HTML, cookie } });
    assert.doesNotMatch(other.body, /Thank you/);
    assert.equal(other.headers['set-cookie'], undefined, 'the mark stays for its own result');
    const own = await api.app.inject({ url: `/result/${name}?model=tiny-slow`, headers: { ...HTML, cookie } });
    assert.match(own.body, /id="report-saved"/);
  });

  it('an error shown in place keeps the picker and its model (it had no picker at all)', async () => {
    const bad = multipartBody([{ name: 'model', value: 'tiny-slow' }, { name: 'top_k', value: 'many' }, { name: 'file', filename: 'coffee.png', value: await readFile(image('coffee.png')) }]);
    const r = await api.app.inject({ method: 'POST', url: '/', payload: bad.body, headers: { 'content-type': bad.contentType, ...HTML } });
    assert.equal(r.statusCode, 400, r.body.slice(0, 300));
    assert.match(r.body, /class="error" role="alert">[^<]*top_k/);
    assert.equal(picked(r.body), 'tiny-slow');
    assert.match(r.body, /data-max-bytes="\d+"/, 'and the size limit the page checks before sending');
    assert.match(r.body, /data-max-pixels="50000000"/, 'and MAX_PIXELS, which it checks from the header');
  });
});
