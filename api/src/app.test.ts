/**
 * The api through app.inject(): every test of the original Flask ML API, ported with the same
 * assertions, plus the upload checks it lacked. Predictions are real: an in-process queue and the
 * generated tiny-rgb model on ONNX Runtime.
 */
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { copyFile, readFile, readdir, symlink } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import type { FastifyInstance, InjectOptions } from 'fastify';
import { gzipSync } from 'node:zlib';
import { expectedTinyRgb, image, solidPng } from '../../tests/helpers/fixtures.ts';
import { startInjectApi, type InjectApi } from '../test/inject-app.ts';
import { loadModelEntry, modelBuild } from '@icls/model/repository/model-repository';
import { esc } from './views/page.ts';

interface Part {
  name: string;
  value: string | Buffer;
  filename?: string;
  type?: string;
}

/** A multipart body as a browser would send it. */
async function multipart(parts: Part[]): Promise<{ payload: Buffer; headers: Record<string, string> }> {
  const form = new FormData();
  for (const p of parts) {
    if (p.filename !== undefined) form.append(p.name, new Blob([typeof p.value === 'string' ? p.value : new Uint8Array(p.value)], { type: p.type ?? 'application/octet-stream' }), p.filename);
    else form.append(p.name, String(p.value));
  }
  const r = new Response(form);
  return { payload: Buffer.from(await r.arrayBuffer()), headers: { 'content-type': r.headers.get('content-type')! } };
}

const fileOf = async (name: string, filename = name) => multipart([{ name: 'file', value: await readFile(image(name)), filename }]);

describe('api (inject, embedded queue, tiny-rgb model)', () => {
  let app: FastifyInstance;
  let api: InjectApi;
  let uploadDir: string;
  let feedbackDir: string;

  before(async () => {
    api = await startInjectApi({ MAX_UPLOAD_BYTES: String(1024 * 1024), MAX_PIXELS: String(1_000_000) });
    ({ app } = api);
    uploadDir = api.config.UPLOAD_DIR;
    feedbackDir = api.config.FEEDBACK_DIR;
  });
  after(() => api.close());

  describe('ported from the original', () => {
    it('bad parameters: JSON body to /predict → 400 with false/null/null', async () => {
      const r = await app.inject({ method: 'POST', url: '/predict', payload: { not_a_file: 'blabla' } });
      assert.equal(r.statusCode, 400);
      assert.deepEqual(r.json(), { success: false, prediction: null, score: null });
    });

    it('predict ok: three keys, the class and the score rounded to 4 decimals', async () => {
      const expected = await expectedTinyRgb(image('chelsea.png'));
      const r = await app.inject({ method: 'POST', url: '/predict', ...(await fileOf('chelsea.png')) });
      assert.equal(r.statusCode, 200);
      assert.deepEqual(Object.keys(r.json()).sort(), ['prediction', 'score', 'success']);
      assert.deepEqual(r.json(), { success: true, prediction: expected.label, score: expected.score });
    });

    it('feedback: the report becomes the last line of the feedback file', async () => {
      const report = "{'filename': 'test', 'prediction': 'test-pred', 'score': 1. }";
      const file = join(feedbackDir, 'feedback');
      const before = await readFile(file, 'utf8').catch(() => '');
      const r = await app.inject({ method: 'POST', url: '/feedback', payload: { report } });
      assert.equal(r.statusCode, 200);
      const lines = (await readFile(file, 'utf8')).split('\n').filter(Boolean);
      assert.equal(lines.length, before.split('\n').filter(Boolean).length + 1);
      assert.equal(lines.at(-1), report);
    });

    it('feedback as an urlencoded form, as the page posts it', async () => {
      const report = "{'filename': 'abc.png', 'prediction': 'red', 'score': 0.5 }";
      const r = await app.inject({
        method: 'POST',
        url: '/feedback',
        headers: { 'content-type': 'application/x-www-form-urlencoded' },
        payload: new URLSearchParams({ report }).toString(),
      });
      assert.equal(r.statusCode, 200);
      assert.equal((await readFile(join(feedbackDir, 'feedback'), 'utf8')).trimEnd().split('\n').at(-1), report);
      // Held to the multipart form's 16 KiB per field, as multipart is: it was taken (and a label silently cut).
      const long = await app.inject({
        method: 'POST',
        url: '/v1/feedback',
        headers: { 'content-type': 'application/x-www-form-urlencoded' },
        payload: new URLSearchParams({ report: 'a long label', label: 'x'.repeat(17_000) }).toString(),
      });
      assert.equal(long.statusCode, 400, long.body);
      assert.match(long.json().error.message, /the form field "label" is too long$/);
    });

    it('index: GET / → 200; empty POST / → 302', async () => {
      const g = await app.inject({ method: 'GET', url: '/' });
      assert.equal(g.statusCode, 200);
      assert.match(g.body, /<form[^>]+enctype="multipart\/form-data"/);
      assert.match(g.body, /name="file"/);
      const p = await app.inject({ method: 'POST', url: '/' });
      assert.equal(p.statusCode, 302);
      assert.equal(p.headers.location, '/');
    });

    it('feedback availability: GET /feedback → 200; empty POST /feedback → 200, nothing written', async () => {
      const file = join(feedbackDir, 'feedback');
      const before = await readFile(file, 'utf8').catch(() => '');
      assert.equal((await app.inject({ method: 'GET', url: '/feedback' })).statusCode, 200);
      assert.equal((await app.inject({ method: 'POST', url: '/feedback' })).statusCode, 200);
      assert.equal(await readFile(file, 'utf8').catch(() => ''), before);
    });

    it('predict availability: GET /predict → 405; empty POST /predict → 400', async () => {
      const get = await app.inject({ method: 'GET', url: '/predict' });
      assert.equal(get.statusCode, 405);
      assert.equal(get.headers.allow, 'POST');
      assert.deepEqual(get.json(), { success: false, prediction: null, score: null, error: { code: 'METHOD_NOT_ALLOWED', message: get.json().error.message } });
      assert.equal((await app.inject({ method: 'GET', url: '/v1/predict' })).json().error.code, 'METHOD_NOT_ALLOWED');
      const r = await app.inject({ method: 'POST', url: '/predict' });
      assert.equal(r.statusCode, 400);
      assert.deepEqual(r.json(), { success: false, prediction: null, score: null });
    });

    it('file hash: stored as md5(bytes).ext, and the stored file is the upload', async () => {
      const bytes = await readFile(image('rocket.jpg'));
      const md5 = createHash('md5').update(bytes).digest('hex');
      const r = await app.inject({ method: 'POST', url: '/v1/predict', ...(await fileOf('rocket.jpg')) });
      assert.equal(r.statusCode, 200);
      assert.equal(r.json().image, `${md5}.jpg`);
      assert.deepEqual(await readFile(join(uploadDir, `${md5}.jpg`)), bytes);
    });
  });

  describe('the original page flow', () => {
    it('POST / with a file: 200, the page with the image, class, score and a report form (as the original)', async () => {
      const expected = await expectedTinyRgb(image('coffee.png'));
      const r = await app.inject({ method: 'POST', url: '/', ...(await fileOf('coffee.png')) });
      const md5 = createHash('md5').update(await readFile(image('coffee.png'))).digest('hex');
      assert.equal(r.statusCode, 200);
      assert.match(r.body, new RegExp(`<img src="/display/${md5}.png"`));
      assert.match(r.body, new RegExp(`id="prediction">${expected.label}<`));
      assert.match(r.body, new RegExp(`id="score">${expected.score}<`));
      assert.match(r.body, /<form method="post" action="\/feedback"[^>]*>/);
      // The hidden report keeps the original's Python-dict-looking text.
      assert.ok(r.body.includes(`&#39;filename&#39;: &#39;${md5}.png&#39;, &#39;prediction&#39;: &#39;${expected.label}&#39;, &#39;score&#39;: ${expected.score} }`));
    });

    for (const [what, parts, flash] of [
      ['no file part', [{ name: 'other', value: 'x' }], 'No file part'],
      ['an empty file name', [{ name: 'file', value: '', filename: '' }], 'No image selected for uploading'],
      ['a disallowed extension', [{ name: 'file', value: 'x', filename: 'invoice.pdf' }], 'Allowed image types are -> png, jpg, jpeg, gif, webp'],
    ] as const) {
      it(`POST / with ${what} → 302 to / with the flash "${flash}"`, async () => {
        const r = await app.inject({ method: 'POST', url: '/', ...(await multipart([...parts])) });
        assert.equal(r.statusCode, 302);
        const cookie = String(r.headers['set-cookie']).split(';')[0]!;
        const page = await app.inject({ method: 'GET', url: '/', headers: { cookie } });
        assert.ok(page.body.includes(esc(flash)), `flash "${flash}" not shown`);
        // shown once only
        assert.match(String(page.headers['set-cookie']), /Max-Age=0/);
      });
    }

    it('GET /display/<name> → 301 to the static URL, which serves the bytes', async () => {
      const up = await app.inject({ method: 'POST', url: '/v1/predict', ...(await fileOf('chelsea.png')) });
      const name = up.json().image as string;
      const r = await app.inject({ method: 'GET', url: `/display/${name}` });
      assert.equal(r.statusCode, 301);
      assert.equal(r.headers.location, `/static/uploads/${name}`);
      const s = await app.inject({ method: 'GET', url: `/static/uploads/${name}` });
      assert.equal(s.statusCode, 200);
      assert.equal(s.headers['content-type'], 'image/png');
      assert.deepEqual(s.rawPayload, await readFile(image('chelsea.png')));
      // Its name is its MD5: the ETag, so a revalidation is a 304 (it had no validator at all).
      assert.equal(s.headers.etag, `"${name.split('.')[0]}"`);
      const again = await app.inject({ method: 'GET', url: `/static/uploads/${name}`, headers: { 'if-none-match': String(s.headers.etag) } });
      assert.equal(again.statusCode, 304);
      assert.equal(again.rawPayload.length, 0);
    });

    it('static uploads serve only stored names: traversal and odd names are 404', async () => {
      for (const bad of ['..%2F..%2Fetc%2Fpasswd', '.upload-abc', 'feedback', '0123.png', `${'a'.repeat(32)}.exe`]) {
        const r = await app.inject({ method: 'GET', url: `/static/uploads/${bad}` });
        assert.equal(r.statusCode, 404, bad);
      }
    });

    it('a symbolic link named like an upload is not followed out of the folder', async () => {
      const outside = join(feedbackDir, 'elsewhere.png');
      await copyFile(image('chelsea.png'), outside);
      const name = `${'b'.repeat(32)}.png`;
      await symlink(outside, join(uploadDir, name));
      const r = await app.inject({ method: 'GET', url: `/static/uploads/${name}` });
      assert.equal(r.statusCode, 404);
    });
  });

  describe('upload checks the original lacked', () => {
    it('an upload over MAX_UPLOAD_BYTES → 413, nothing stored', async () => {
      const big = Buffer.concat([await readFile(image('rocket.jpg')), Buffer.alloc(1024 * 1024)]);
      const r = await app.inject({ method: 'POST', url: '/predict', ...(await multipart([{ name: 'file', value: big, filename: 'big.jpg' }])) });
      assert.equal(r.statusCode, 413);
      assert.equal(r.json().error.code, 'FILE_TOO_LARGE');
      assert.deepEqual((await readdir(uploadDir)).filter((f) => f.startsWith('.upload-')), []);
    });

    it('text named .jpg → 415 saying it is not an image', async () => {
      const r = await app.inject({ method: 'POST', url: '/predict', ...(await fileOf('corrupt.jpg')) });
      assert.equal(r.statusCode, 415);
      assert.equal(r.json().success, false);
      assert.match(r.json().error.message, /not a PNG, JPEG, GIF or WebP/);
    });

    it('more pixels than MAX_PIXELS → 400 naming the size', async () => {
      const huge = await solidPng([10, 20, 30], 1200, 1000);
      const r = await app.inject({ method: 'POST', url: '/v1/predict', ...(await multipart([{ name: 'file', value: huge, filename: 'huge.png' }])) });
      assert.equal(r.statusCode, 400);
      assert.equal(r.json().error.code, 'IMAGE_TOO_MANY_PIXELS');
      assert.match(r.json().error.message, /1200×1000/);
    });

    it('a truncated JPEG → 400 from the worker, and the next request is served', async () => {
      const r = await app.inject({ method: 'POST', url: '/predict', ...(await fileOf('truncated.jpg')) });
      assert.equal(r.statusCode, 400);
      assert.equal(r.json().error.code, 'IMAGE_UNREADABLE');
      const ok = await app.inject({ method: 'POST', url: '/predict', ...(await fileOf('chelsea.png')) });
      assert.equal(ok.statusCode, 200);
    });

    it('a program\'s form mistakes are named: "file" sent as text, the image under another name, a file name without an image extension; the page keeps the original\'s words', async () => {
      const photo = await readFile(image('chelsea.png'));
      const messageOf = async (parts: Part[]) => {
        const r = await app.inject({ method: 'POST', url: '/v1/predict', ...(await multipart(parts)) });
        assert.equal(r.statusCode, 400, r.body);
        return `${r.json().error.code}: ${r.json().error.message}`;
      };
      assert.equal(await messageOf([{ name: 'file', value: 'abc' }]), 'NO_FILE_PART: No file part: the form\'s "file" is a text field, not a file: send the image as a file part (curl -F file=@photo.jpg)');
      assert.equal(await messageOf([{ name: 'image', value: photo, filename: 'a.png' }]), 'NO_FILE_PART: No file part: the form has no file part named "file" (it has: "image"): name the image\'s part "file"');
      // Python's requests names bytes after their field; fetch names a Blob "blob".
      assert.equal(
        await messageOf([{ name: 'file', value: photo, filename: 'file', type: 'image/png' }]),
        'EXTENSION_NOT_ALLOWED: Allowed image types are -> png, jpg, jpeg, gif, webp: the file name "file" has no extension (the part says image/png): give it a name such as photo.png',
      );
      assert.match(await messageOf([{ name: 'file', value: photo, filename: 'scan.tiff' }]), /the file name "scan\.tiff" ends in "\.tiff"$/);
      // Past the form parser's header limit the name was cut, lost its ".jpg" and was "a name without an extension".
      for (const length of [1025, 200_000]) {
        assert.equal(
          await messageOf([{ name: 'file', value: photo, filename: `${'a'.repeat(length - 4)}.jpg` }]),
          `FILE_NAME_TOO_LONG: The file name is longer than allowed; rename the file: "${'a'.repeat(40)}…" has over 1024 characters`,
        );
      }
      assert.equal((await app.inject({ method: 'POST', url: '/v1/predict', ...(await multipart([{ name: 'file', value: photo, filename: `${'a'.repeat(1020)}.png` }])) })).statusCode, 200, '1024 characters are fine');
      // /predict: the original's three keys only; the page: the original's words, exactly.
      assert.deepEqual((await app.inject({ method: 'POST', url: '/predict', ...(await multipart([{ name: 'file', value: photo, filename: 'file' }])) })).json(), { success: false, prediction: null, score: null });
      for (const [parts, flash] of [
        [[{ name: 'file', value: 'abc' }], 'No file part'],
        [[{ name: 'file', value: photo, filename: 'file', type: 'image/png' }], 'Allowed image types are -&#62; png, jpg, jpeg, gif, webp'],
      ] as const) {
        const r = await app.inject({ method: 'POST', url: '/', ...(await multipart([...parts])) });
        const page = await app.inject({ method: 'GET', url: '/', headers: { cookie: String(r.headers['set-cookie']).split(';')[0]! } });
        assert.match(page.body, new RegExp(`>${flash}<`), flash);
      }
    });

    it("a photo sent as a form, JSON or text body (curl --data-binary's default type) → 400 NO_FILE_PART naming the type, whatever its size", async () => {
      const photo = await readFile(image('rocket.jpg')); // 110 KB: over the 64 KiB other bodies get
      for (const type of ['application/x-www-form-urlencoded', 'application/json', 'text/plain; charset=utf-8']) {
        const r = await app.inject({ method: 'POST', url: '/v1/predict', headers: { 'content-type': type }, payload: photo });
        assert.equal(r.statusCode, 400, `${type}: ${r.body}`);
        assert.equal(r.json().error.code, 'NO_FILE_PART');
        assert.match(r.json().error.message, new RegExp(`body is ${type.split(';')[0]}: send the image as multipart/form-data field "file" \\(curl -F file=@photo.jpg\\), or as the body with Content-Type image/png, image/jpeg, image/gif, image/webp`));
        // The original's /predict: its three keys, as for any request without a file part.
        const original = await app.inject({ method: 'POST', url: '/predict', headers: { 'content-type': type }, payload: photo });
        assert.equal(original.statusCode, 400, `${type} to /predict: ${original.body}`);
        assert.deepEqual(original.json(), { success: false, prediction: null, score: null });
      }
      // The page answers it as the original did: the flash "No file part", back to the form.
      const page = await app.inject({ method: 'POST', url: '/', headers: { 'content-type': 'application/x-www-form-urlencoded' }, payload: photo });
      assert.equal(page.statusCode, 302, page.body);
      // A type no route reads is still 415.
      const xml = await app.inject({ method: 'POST', url: '/v1/predict', headers: { 'content-type': 'application/xml' }, payload: photo });
      assert.equal(xml.statusCode, 415);
    });

    it('a PNG named .gif is accepted (content decides) and keeps the client extension', async () => {
      const png = await solidPng([0, 0, 255]);
      const r = await app.inject({ method: 'POST', url: '/v1/predict', ...(await multipart([{ name: 'file', value: png, filename: 'Blue.GIF' }])) });
      assert.equal(r.statusCode, 200);
      assert.match(r.json().image, /^[0-9a-f]{32}\.gif$/);
      assert.equal(r.json().prediction, 'blue');
    });
  });

  describe('versioned JSON API', () => {
    it('/v1/predict: top-k, model, stored image and timings', async () => {
      const expected = await expectedTinyRgb(image('astronaut.png'));
      const r = await app.inject({ method: 'POST', url: '/v1/predict?top_k=3', ...(await fileOf('astronaut.png')) });
      assert.equal(r.statusCode, 200);
      const body = r.json();
      assert.equal(body.prediction, expected.label);
      assert.deepEqual(body.model, { name: 'tiny-rgb', version: '1' });
      assert.equal(body.predictions.length, 3);
      const byLabel = Object.fromEntries(body.predictions.map((p: { label: string; score: number }) => [p.label, p.score]));
      ['red', 'green', 'blue'].forEach((l, i) => assert.ok(Math.abs(byLabel[l] - expected.scores[i]!) < 1e-5, l));
      for (const k of ['queueMs', 'preprocessMs', 'inferenceMs', 'totalMs', 'overheadMs']) assert.equal(typeof body.timings[k], 'number', k);
    });

    it('top_k and limit: Infinity and 1e400 are 400 (the validator let them through: a 500, an unbounded listing); an empty value is not given', async () => {
      for (const value of ['Infinity', '-Infinity', '%2BInfinity', '1e400', '1001', '0', '0x10', '1e2', '%2B3', '%203', '3.0']) {
        const r = await app.inject({ method: 'POST', url: `/v1/predict?top_k=${value}`, ...(await fileOf('chelsea.png')) });
        assert.equal(r.statusCode, 400, `top_k=${value}: ${r.body}`);
        assert.equal(r.json().error.code, 'BAD_PARAMETER');
        assert.match(r.json().error.message, /top_k must be a whole number from 1 to 1000/);
        const list = await app.inject({ url: `/v1/feedback?limit=${value}` });
        assert.equal(list.statusCode, 400, `limit=${value}: ${list.body}`);
        assert.match(list.json().error.message, /limit must be a whole number from 1 to 1000/);
      }
      const digits = await app.inject({ method: 'POST', url: `/v1/predict?top_k=${'9'.repeat(400)}`, ...(await fileOf('chelsea.png')) });
      assert.match(digits.json().error.message, /, got "9{20}…"$/, 'the value as sent, not "Infinity"');
      const empty = await app.inject({ method: 'POST', url: '/v1/predict?top_k=&model=', ...(await fileOf('chelsea.png')) });
      assert.equal(empty.statusCode, 200, empty.body);
      assert.equal(empty.json().predictions.length, 3, 'the default of 5, capped by the 3 classes of tiny-rgb');
      const form = await app.inject({ method: 'POST', url: '/v1/predict?top_k=', ...(await multipart([{ name: 'file', value: await readFile(image('chelsea.png')), filename: 'c.png' }, { name: 'top_k', value: '2' }])) });
      assert.equal(form.json().predictions.length, 2, 'an empty query value lets the form field apply');
      assert.equal((await app.inject({ url: '/v1/feedback?limit=' })).statusCode, 200);
      // /predict answers the top class whatever top_k says: a bad one is ignored there, not refused.
      const original = await app.inject({ method: 'POST', url: '/predict?top_k=abc', ...(await fileOf('chelsea.png')) });
      assert.equal(original.statusCode, 200, original.body);
      assert.deepEqual(Object.keys(original.json()), ['success', 'prediction', 'score']);
    });

    it('/v1/feedback takes strings only: a JSON number, boolean, array or object is a 400 (it was stored as "5"); a null optional field is not given', async () => {
      for (const [payload, message] of [
        [{ report: 5 }, /: report must be a string with some text, got the number 5$/],
        [{ report: true }, /: report must be a string with some text, got the boolean true$/],
        [{ report: null }, /: report must be a string with some text, got null$/],
        [{ report: 'x', label: ['a'] }, /: label must be a string, got an array$/],
        [{ report: 'x', model: { a: 1 } }, /: model must be a string, got an object$/],
      ] as const) {
        const r = await app.inject({ method: 'POST', url: '/v1/feedback', payload });
        assert.equal(r.statusCode, 400, `${JSON.stringify(payload)}: ${r.body}`);
        assert.equal(r.json().error.code, 'BAD_PARAMETER');
        assert.match(r.json().error.message, message);
      }
      const r = await app.inject({ method: 'POST', url: '/v1/feedback', payload: { report: 'a null image', image: null, model: null } });
      assert.equal(r.statusCode, 201, r.body);
    });

    it('/v1/feedback answers with the text as stored: a lone UTF-16 half (a JSON "\\ud800" escape) is U+FFFD in both', async () => {
      const payload = '{"report":"half \\ud800 here","label":"tail \\udc00"}';
      const r = await app.inject({ method: 'POST', url: '/v1/feedback', headers: { 'content-type': 'application/json' }, payload });
      assert.equal(r.statusCode, 201, r.body);
      assert.ok(!/\\ud[89a-f]/i.test(r.body), `no lone half echoed: ${r.body}`);
      const stored = (await readFile(join(feedbackDir, 'reports.jsonl'), 'utf8')).trimEnd().split('\n').map((line) => JSON.parse(line));
      const record = stored.find((e) => e.id === r.json().id);
      assert.ok(record, `stored under the id answered: ${r.body}`);
      assert.equal(record.report, 'half \ufffd here');
      assert.equal(record.label, 'tail \ufffd');
      assert.equal(r.json().stored, record.report);
    });

    it('a raw image body (Content-Type: image/*) works like a multipart upload', async () => {
      const bytes = await readFile(image('rocket.jpg'));
      const expected = await expectedTinyRgb(image('rocket.jpg'));
      const r = await app.inject({ method: 'POST', url: '/v1/predict', headers: { 'content-type': 'image/jpeg' }, payload: bytes });
      assert.equal(r.statusCode, 200, r.body);
      assert.equal(r.json().image, `${createHash('md5').update(bytes).digest('hex')}.jpg`);
      assert.equal(r.json().prediction, expected.label);
      const p = await app.inject({ method: 'POST', url: '/predict', headers: { 'content-type': 'image/png' }, payload: await readFile(image('chelsea.png')) });
      assert.deepEqual(Object.keys(p.json()).sort(), ['prediction', 'score', 'success']);
      const text = await app.inject({ method: 'POST', url: '/v1/predict', headers: { 'content-type': 'image/png' }, payload: 'not an image at all' });
      assert.equal(text.statusCode, 415);
      const big = await app.inject({ method: 'POST', url: '/v1/predict', headers: { 'content-type': 'image/jpeg' }, payload: Buffer.concat([bytes, Buffer.alloc(1024 * 1024)]) });
      assert.equal(big.statusCode, 413);
    });

    it('an unknown model → 404 naming the served ones', async () => {
      const r = await app.inject({ method: 'POST', url: '/v1/predict?model=nope', ...(await fileOf('chelsea.png')) });
      assert.equal(r.statusCode, 404);
      assert.match(r.json().error.message, /nope.*tiny-rgb/);
    });

    it('another method on a path that exists: 405 with Allow, as the original answered; an unknown path: 404', async () => {
      for (const [method, url, allow] of [
        ['DELETE', '/predict', 'POST'],
        ['PUT', '/feedback', 'GET, HEAD, POST'],
        ['PATCH', '/', 'GET, HEAD, POST'],
        ['POST', '/display/x.png', 'GET, HEAD'],
        ['DELETE', '/v1/models', 'GET, HEAD'],
      ] as const) {
        const r = await app.inject({ method, url });
        assert.equal(r.statusCode, 405, `${method} ${url}`);
        assert.equal(r.headers.allow, allow, `${method} ${url}`);
        assert.equal(r.json().error.code, 'METHOD_NOT_ALLOWED');
      }
      const nothing = await app.inject({ method: 'DELETE', url: '/nothing-here' });
      assert.equal(nothing.statusCode, 404);
      // A route of that very method that finds nothing: 404 (a missing Swagger UI file was "405: answers GET, HEAD" to a GET).
      for (const method of ['GET', 'HEAD'] as const) {
        const missing = await app.inject({ method, url: '/docs/static/nope.css' });
        assert.equal(missing.statusCode, 404, `${method}: ${missing.body}`);
        assert.equal(missing.headers.allow, undefined);
      }
      // Every /predict answer has the original's three keys, these 405s included (they had `success` and `error` only).
      for (const method of ['PUT', 'DELETE', 'PATCH', 'OPTIONS'] as const) {
        const r = await app.inject({ method, url: '/predict?x=1' });
        assert.deepEqual(Object.keys(r.json()), ['success', 'prediction', 'score', 'error'], method);
      }
      assert.deepEqual(Object.keys((await app.inject({ method: 'PUT', url: '/v1/predict' })).json()), ['success', 'error']);
    });

    it('/predict takes the model from the query as /v1/predict does, and keeps its three keys', async () => {
      const unknown = await app.inject({ method: 'POST', url: '/predict?model=nope', ...(await fileOf('chelsea.png')) });
      assert.equal(unknown.statusCode, 404);
      assert.deepEqual(Object.keys(unknown.json()), ['success', 'prediction', 'score', 'error']);
      assert.match(unknown.json().error.message, /nope.*tiny-rgb/);
      const named = await app.inject({ method: 'POST', url: '/predict?model=tiny-rgb&top_k=3', ...(await fileOf('chelsea.png')) });
      assert.equal(named.statusCode, 200);
      assert.deepEqual(Object.keys(named.json()), ['success', 'prediction', 'score']);
      const long = await app.inject({ method: 'POST', url: `/predict?model=${'m'.repeat(129)}`, ...(await fileOf('chelsea.png')) });
      assert.equal(long.statusCode, 400);
      assert.equal(long.json().error.code, 'BAD_PARAMETER');
    });

    it('/v1/models, /healthz, /readyz', async () => {
      // The build is the one `models list` compares with the folder's files.
      const build = await modelBuild(await loadModelEntry(api.config.MODELS_DIR, 'tiny-rgb'));
      assert.deepEqual((await app.inject({ url: '/v1/models' })).json(), { default: 'tiny-rgb', models: [{ name: 'tiny-rgb', workers: 1, versions: [build] }], broken: [] });
      assert.equal((await app.inject({ url: '/healthz' })).statusCode, 200);
      const ready = await app.inject({ url: '/readyz' });
      assert.equal(ready.statusCode, 200);
      assert.equal(ready.json().defaultModel, 'tiny-rgb');
    });

    it('/openapi.json documents the routes with their response schemas', async () => {
      const spec = (await app.inject({ url: '/openapi.json' })).json();
      assert.equal(spec.openapi.startsWith('3.'), true);
      for (const path of ['/predict', '/v1/predict', '/v1/models', '/v1/feedback', '/healthz', '/readyz']) assert.ok(spec.paths[path], path);
      assert.ok(spec.paths['/predict'].post.responses['200']);
      assert.ok(spec.paths['/v1/predict'].post.responses['200']);
      // Upload routes read their own bodies (no body schema): the document still says what to send.
      for (const path of ['/predict', '/v1/predict']) {
        const body = spec.paths[path].post.requestBody;
        assert.equal(body?.content['multipart/form-data'].schema.properties.file.format, 'binary', path);
        assert.deepEqual(body.content['multipart/form-data'].schema.required, ['file']);
        assert.ok(body.content['image/jpeg'], `${path}: a raw image body`);
      }
      assert.ok(spec.paths['/v1/predict'].post.requestBody.content['multipart/form-data'].schema.properties.top_k);
      assert.deepEqual(Object.keys(spec.paths['/v1/feedback'].post.requestBody.content).sort(), ['application/json', 'application/x-www-form-urlencoded', 'multipart/form-data']);
      const docs = (await app.inject({ url: '/docs/json' })).json();
      assert.deepEqual(docs.paths['/v1/predict'].post.requestBody, spec.paths['/v1/predict'].post.requestBody, 'the page shows the same');
    });

    it('/v1/feedback stores one line and lists it back', async () => {
      const r = await app.inject({ method: 'POST', url: '/v1/feedback', payload: { report: 'line one\nforged line' } });
      assert.equal(r.statusCode, 201);
      assert.equal(r.json().stored, 'line one\\nforged line');
      const list = await app.inject({ url: '/v1/feedback?limit=1' });
      assert.deepEqual(list.json().reports, ['line one\\nforged line']);
    });

    it('/metrics counts requests by route, status and error code, in Prometheus text format', async () => {
      await app.inject({ method: 'POST', url: '/predict', ...(await fileOf('chelsea.png')) });
      await app.inject({ method: 'POST', url: '/v1/predict', ...(await fileOf('corrupt.jpg')) });
      // Refused by the router before any hook: they went uncounted.
      assert.equal((await app.inject({ url: `/static/uploads/${'a'.repeat(200)}.png` })).statusCode, 414);
      assert.equal((await app.inject({ url: '/static/uploads/%ZZ.png' })).statusCode, 400);
      const m = await app.inject({ url: '/metrics' });
      assert.equal(m.statusCode, 200);
      assert.match(m.headers['content-type'] as string, /^text\/plain; version=0\.0\.4/);
      assert.match(m.body, /^icls_http_requests_total\{method="POST",route="\/predict",status="200",error_code=""\} [1-9]\d*$/m);
      assert.match(m.body, /^icls_http_requests_total\{method="POST",route="\/v1\/predict",status="415",error_code="NOT_AN_IMAGE"\} [1-9]\d*$/m);
      assert.match(m.body, /^icls_http_requests_total\{method="GET",route="unmatched",status="414",error_code="URI_TOO_LONG"\} 1$/m);
      assert.match(m.body, /^icls_http_refusals_total\{reason="URI_TOO_LONG"\} 1$/m);
      assert.match(m.body, /^icls_http_requests_total\{method="GET",route="unmatched",status="400",error_code="BAD_REQUEST"\} 1$/m);
      assert.match(m.body, /^icls_http_request_duration_seconds_count\{method="POST",route="\/predict"\} [1-9]\d*$/m);
      assert.match(m.body, /^icls_http_requests_in_flight 1$/m); // the /metrics request itself
      assert.match(m.body, /^icls_upload_size_bytes_count [1-9]\d*$/m);
      // Embedded in this test: the in-process queue answers the scrape-time queue reads.
      assert.match(m.body, /^icls_queue_up 1$/m);
      assert.match(m.body, /^icls_queue_length\{model="[^"]+"\} 0$/m);
      assert.match(m.body, /^process_resident_memory_bytes \d+$/m);
    });

    it('a refused body says why: bad or empty JSON, a built-in property as a field name, a type no route takes, an empty file', async () => {
      const refusal = async (opts: InjectOptions) => {
        const r = await app.inject(opts);
        return { status: r.statusCode, ...(r.json() as { error: { code: string; message: string } }).error };
      };
      const json = (payload: string) => refusal({ method: 'POST', url: '/v1/feedback', headers: { 'content-type': 'application/json' }, payload });
      for (const body of ['{"report":"x","__proto__":{}}', '{bad']) {
        const r = await json(body);
        assert.equal(r.code, 'MALFORMED_BODY');
        assert.match(r.message, /it is not valid JSON \(or it has a __proto__ or constructor\.prototype key, which is refused\)$/);
      }
      assert.match((await json('')).message, /the body is empty, and its Content-Type says JSON$/);
      const field = await refusal({ method: 'POST', url: '/v1/predict', ...(await multipart([{ name: 'constructor', value: 'y' }, { name: 'file', value: await solidPng([1, 2, 3]), filename: 'a.png' }])) });
      assert.deepEqual([field.status, field.code], [400, 'MALFORMED_BODY']);
      assert.match(field.message, /a form field may not be named __proto__, constructor or after another built-in property$/);
      const bmp = await refusal({ method: 'POST', url: '/v1/predict', headers: { 'content-type': 'image/bmp' }, payload: 'BM' });
      assert.deepEqual([bmp.status, bmp.code], [415, 'UNSUPPORTED_CONTENT_TYPE']);
      assert.match(bmp.message, /uploads take multipart\/form-data or an image\/png, image\/jpeg, image\/gif or image\/webp body; reports take JSON or a form$/);
      for (const [url, type] of [['/v1/predict', 'image/png'], ['/v1/feedback', 'application/json']]) {
        const gzip = await refusal({ method: 'POST', url, headers: { 'content-type': type, 'content-encoding': 'gzip' }, payload: gzipSync(Buffer.from('{"report":"x"}')) });
        assert.deepEqual([gzip.status, gzip.code], [415, 'UNSUPPORTED_CONTENT_TYPE'], url);
        assert.match(gzip.message, /^This kind of body is not accepted here: its Content-Encoding is gzip: send it uncompressed$/);
      }
      const empty = await refusal({ method: 'POST', url: '/v1/predict', headers: { 'content-type': 'image/png' }, payload: '' });
      assert.deepEqual([empty.status, empty.code], [415, 'NOT_AN_IMAGE']);
      assert.match(empty.message, /the file is empty \(0 bytes\)$/);
    });

    it('errors are JSON with a code and never leak a stack trace', async () => {
      const r = await app.inject({ method: 'POST', url: '/v1/predict', payload: { x: 1 } });
      assert.equal(r.statusCode, 400);
      assert.equal(r.json().error.code, 'NO_FILE_PART');
      const nf = await app.inject({ url: '/nope' });
      assert.equal(nf.statusCode, 404);
      assert.doesNotMatch(nf.body, /at .*\.ts:\d+/);
    });
  });
});
