/**
 * The hostile-input corpus as a test: a real api process and a real worker on Redis, sent every case
 * of issue 8's table and its "also seen" list. Each case must get a 4xx from the error table (or be
 * cut) within its timeout; through the whole corpus the api's RSS stays under 250 MB, its log stays
 * short (sampled), and no file appears outside UPLOAD_DIR and FEEDBACK_DIR (HOME and TMPDIR of both
 * processes are empty folders that must stay empty: ONNX Runtime's telemetry wrote there).
 * Timeouts are set small through the config so the run stays short.
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { connect } from 'node:net';
import { gzipSync } from 'node:zlib';
import { readdir, readFile } from 'node:fs/promises';
import { after, before, describe, it } from 'node:test';
import { UPLOAD_DIR_MARK } from '@icls/lib/job-contract';
import { redisAnswers } from '@icls/lib/redis-probe';
import { STORED_NAME } from '@icls/api/upload/allowed-file';
import { fixtureModels, tempDir } from './helpers/fixtures.ts';
import { controlReport, jpegBytes, lyingGif, pngBytes } from './helpers/hostile-corpus.ts';
import { postFile, waitFor200 } from './helpers/http.ts';
import { deleteRedisPrefix, ENTRY, freePort, REDIS_URL, scriptNodeFlags, startService, type Service } from './helpers/processes.ts';
import { multipartBody, rawRequest } from './helpers/raw-http.ts';

const MAX_UPLOAD = 2 * 1024 * 1024;
const IDLE_MS = 400;
const RSS_LIMIT_MB = 250;

describe('hostile input (api + worker through Redis)', () => {
  const services: Service[] = [];
  let api: Service;
  let port: number;
  let base: string;
  let env: Record<string, string>;
  const quiet: Record<'api' | 'worker', { HOME: string; TMPDIR: string }> = {} as never;
  let peakRssMb = 0;
  let sampler: NodeJS.Timeout;

  const rssMb = async (pid: number) => Number(/VmRSS:\s+(\d+)/.exec(await readFile(`/proc/${pid}/status`, 'utf8'))![1]) / 1024;
  const logs = () => services.map((s, i) => `--- process ${i} ---\n${s.logs().slice(-3000)}`).join('\n');
  const json = async (r: Response) => JSON.parse(await r.text()) as Record<string, unknown> & { error?: { code: string; message: string } };
  const raw = (head: string, opts: { body?: Buffer; unterminated?: boolean; abort?: boolean; deadlineMs?: number } = {}) =>
    rawRequest({ port, head, deadlineMs: 5000, ...opts });
  const post = (path: string, body: { body: Buffer; contentType: string }) =>
    fetch(`${base}${path}`, { method: 'POST', body: new Uint8Array(body.body), headers: { 'content-type': body.contentType }, redirect: 'manual' });

  before(async () => {
    assert.ok(await redisAnswers(REDIS_URL, 1000), `Redis must answer at ${REDIS_URL}`);
    port = await freePort();
    base = `http://127.0.0.1:${port}`;
    for (const who of ['api', 'worker'] as const) quiet[who] = { HOME: await tempDir(`${who}-home`), TMPDIR: await tempDir(`${who}-tmp`) };
    env = {
      QUEUE_MODE: 'redis',
      REDIS_URL,
      REDIS_PREFIX: `test-hostile-${randomBytes(4).toString('hex')}`,
      MODELS_DIR: await fixtureModels(['tiny-rgb']),
      UPLOAD_DIR: await tempDir('uploads'),
      FEEDBACK_DIR: await tempDir('feedback'),
      DEFAULT_MODEL: 'tiny-rgb',
      PORT: String(port),
      MAX_UPLOAD_BYTES: String(MAX_UPLOAD),
      UPLOAD_MEMORY_BYTES: String(8 * 1024 * 1024),
      BODY_IDLE_TIMEOUT_MS: String(IDLE_MS),
      REQUEST_RECEIVE_TIMEOUT_MS: '4000',
      HEADERS_TIMEOUT_MS: '1000',
      ORT_THREADS: '1',
      // The code must turn telemetry off by itself, whatever the environment says.
      ORT_DISABLE_TELEMETRY: '0',
    };
    // node's flags of `npm run start:api` and `start:model` (and the images): the heap limits shape the peak.
    api = startService(ENTRY.api, { ...env, ...quiet.api }, scriptNodeFlags('start:api'));
    services.push(api, startService(ENTRY.worker, { ...env, ...quiet.worker }, scriptNodeFlags('start:model')));
    await waitFor200(`${base}/readyz`, 30_000, logs);
    sampler = setInterval(() => {
      rssMb(api.proc.pid!).then((mb) => (peakRssMb = Math.max(peakRssMb, mb)), () => undefined);
    }, 50);
  });

  after(async () => {
    clearInterval(sampler);
    await Promise.all(services.map((s) => s.stop()));
    await deleteRedisPrefix(env.REDIS_PREFIX!);
  });

  it('1: a thousand unique ?model= names are refused before the body is read', async () => {
    const long = await fetch(`${base}/v1/predict?model=${'m'.repeat(8 * 1024)}`, { method: 'POST' });
    assert.equal(long.status, 400);
    assert.match((await json(long)).error!.message, /model must be a name of at most 128 characters/);
    for (let batch = 0; batch < 10; batch++) {
      const answers = await Promise.all(
        Array.from({ length: 100 }, (_, i) => fetch(`${base}/v1/predict?model=${randomBytes(60).toString('hex')}-${batch}-${i}`, { method: 'POST' })),
      );
      for (const r of answers) {
        assert.equal(r.status, 404);
        assert.equal((await json(r)).error!.code, 'UNKNOWN_MODEL');
      }
    }
  });

  it('2: broken multipart gets a 4xx from the table; /predict keeps its three keys', async () => {
    const png = await pngBytes();
    const noBoundary = { body: Buffer.from('--x\r\n\r\nhello\r\n--x--\r\n'), contentType: 'multipart/form-data' };
    const twoFiles = multipartBody([{ name: 'file', filename: 'a.png', value: png }, { name: 'file', filename: 'b.png', value: png }]);
    const manyParts = multipartBody(Array.from({ length: 1000 }, (_, i) => ({ name: `f${i}`, value: 'x' })));
    const cut = { body: Buffer.from('--hostileBoundary42\r\nContent-Disposition: form-data; name="file"; filename="a.png"\r\n\r\nabc'), contentType: 'multipart/form-data; boundary=hostileBoundary42' };
    const emptyBoundary = { body: Buffer.from('--\r\nContent-Disposition: form-data; name="file"; filename="a.png"\r\nContent-Type: image/png\r\n\r\n'), contentType: 'multipart/form-data; boundary=' };
    emptyBoundary.body = Buffer.concat([emptyBoundary.body, png, Buffer.from('\r\n----\r\n')]);
    const b = 'b'.repeat(300); // the form parser took at most 256: a 500
    const longBoundary = { body: Buffer.from(`--${b}\r\nContent-Disposition: form-data; name="report"\r\n\r\nhello\r\n--${b}--\r\n`), contentType: `multipart/form-data; boundary=${b}` };
    for (const [name, body, status, code] of [
      ['no boundary', noBoundary, 400, 'MALFORMED_BODY'],
      ['an empty boundary', emptyBoundary, 400, 'MALFORMED_BODY'],
      ['two file parts', twoFiles, 413, 'TOO_MANY_PARTS'],
      ['1,000 parts', manyParts, 413, 'TOO_MANY_PARTS'],
      ['a body cut short', cut, 400, 'MALFORMED_BODY'],
      ['a 300-character boundary', longBoundary, 400, 'MALFORMED_BODY'],
    ] as const) {
      for (const path of ['/predict', '/v1/predict']) {
        const r = await post(path, body);
        const got = await json(r);
        assert.equal(r.status, status, `${name} → ${path}: ${JSON.stringify(got)}`);
        assert.equal(got.error?.code, code, `${name} → ${path}`);
        if (path === '/predict') assert.deepEqual([got.success, got.prediction, got.score], [false, null, null], `${name}: three keys`);
      }
    }
    // The report form reads multipart too: its empty boundary is refused alike (a report was stored).
    const emptyReport = { body: Buffer.from('--\r\nContent-Disposition: form-data; name="report"\r\n\r\nwrong answer\r\n----\r\n'), contentType: 'multipart/form-data; boundary=""' };
    const report = await post('/v1/feedback', emptyReport);
    assert.equal(report.status, 400, JSON.stringify(await json(report)));
    const page = await post('/', twoFiles);
    assert.equal(page.status, 413);
    assert.match(await page.text(), /The form has more parts than allowed/);
  });

  it('3 and 4: empty model means the default; form fields work, the query wins; out of range is 400 with the range', async () => {
    const png = await pngBytes();
    const ok = await postFile(`${base}/v1/predict?model=`, png, { filename: 'a.png' });
    assert.equal(ok.status, 200, await ok.clone().text());
    assert.equal(((await json(ok)).model as { name: string }).name, 'tiny-rgb');
    const form = await json(await postFile(`${base}/v1/predict`, png, { filename: 'a.png', fields: { top_k: '2', model: '' } }));
    assert.equal((form.predictions as unknown[]).length, 2, 'form field top_k');
    const both = await json(await postFile(`${base}/v1/predict?top_k=3`, png, { filename: 'a.png', fields: { top_k: '1' } }));
    assert.equal((both.predictions as unknown[]).length, 3, 'the query wins');
    for (const [url, fields] of [
      ['/v1/predict?top_k=0', {}],
      ['/v1/predict?top_k=1001', {}],
      ['/v1/predict?top_k=abc', {}],
      ['/v1/predict', { top_k: '5000' }],
      ['/v1/predict', { top_k: '-1' }],
    ] as const) {
      const r = await postFile(`${base}${url}`, png, { filename: 'a.png', fields });
      assert.equal(r.status, 400, url);
      const body = await json(r);
      assert.equal(body.error!.code, 'BAD_PARAMETER');
      assert.match(body.error!.message, /top_k must be a whole number from 1 to 1000/);
    }
  });

  it('5: a stalled body is cut after the idle time with 408; 50 stalled uploads hold no memory', async () => {
    const head = (length: number) => `POST /v1/predict HTTP/1.1\r\nHost: x\r\nContent-Type: image/png\r\nContent-Length: ${length}`;
    const one = await raw(head(100_000), { body: Buffer.from('\x89PNG\r\n\x1a\n..'), deadlineMs: IDLE_MS * 10 });
    assert.equal(one.status, 408, JSON.stringify(one));
    assert.equal(JSON.parse(one.body).error.code, 'BODY_TIMEOUT');
    // The code tells the idle timer from the 4 s whole-request limit; the bound is loose for a busy machine.
    assert.ok(one.ms >= IDLE_MS * 0.9 && one.ms < IDLE_MS * 25, `answered after ${one.ms} ms`);
    const chunk = randomBytes(MAX_UPLOAD - 100_000);
    const multi = multipartBody([{ name: 'file', filename: 'big.png', value: chunk }]);
    const stalled = await Promise.all(
      Array.from({ length: 50 }, (_, i) =>
        raw(`POST ${i % 2 ? '/predict' : '/'} HTTP/1.1\r\nHost: x\r\nContent-Type: ${multi.contentType}\r\nContent-Length: ${multi.body.length + 1000}`, {
          body: multi.body.subarray(0, multi.body.length - 50),
          deadlineMs: 15_000,
        }),
      ),
    );
    for (const s of stalled) assert.ok(s.status === 408 || s.closed, `stalled upload answered ${s.status} after ${s.ms} ms`);
  });

  it('6: aborted requests leave the in-flight gauge at its true value and log no error', async () => {
    const png = await pngBytes();
    await Promise.all(
      Array.from({ length: 30 }, () =>
        raw(`POST /v1/predict HTTP/1.1\r\nHost: x\r\nContent-Type: image/png\r\nContent-Length: ${png.length}`, { body: png.subarray(0, 1000), abort: true }),
      ),
    );
    await new Promise((r) => setTimeout(r, 300));
    const metrics = await (await fetch(`${base}/metrics`)).text();
    assert.match(metrics, /^icls_http_requests_in_flight 1$/m, 'only the /metrics request itself is in flight');
    assert.doesNotMatch(api.logs(), /"level":50/, 'nothing logged at error level');
  });

  it('7: feedback reports are capped as stored; GET /v1/feedback caps its limit', async () => {
    const answers = await Promise.all(
      Array.from({ length: 100 }, () =>
        fetch(`${base}/v1/feedback`, { method: 'POST', body: JSON.stringify({ report: controlReport(4000) }), headers: { 'content-type': 'application/json' } }),
      ),
    );
    for (const r of answers) assert.equal(r.status, 413);
    const stored = await fetch(`${base}/v1/feedback`, { method: 'POST', body: JSON.stringify({ report: 'a\nb' }), headers: { 'content-type': 'application/json' } });
    assert.equal(stored.status, 201);
    const big = await fetch(`${base}/v1/feedback?limit=10000`);
    assert.equal(big.status, 400);
    assert.match((await json(big)).error!.message, /limit must be a whole number from 1 to 1000/);
    assert.deepEqual((await json(await fetch(`${base}/v1/feedback?limit=1000`))).reports, ['a\\nb']);
    for (const [body, type, status, code] of [
      ['{"report": ', 'application/json', 400, 'MALFORMED_BODY'],
      ['<report>x</report>', 'application/xml', 415, 'UNSUPPORTED_CONTENT_TYPE'],
      [JSON.stringify({ report: 'x'.repeat(70_000) }), 'application/json', 413, 'BODY_TOO_LARGE'],
    ] as const) {
      const r = await fetch(`${base}/v1/feedback`, { method: 'POST', body, headers: { 'content-type': type } });
      assert.equal(r.status, status, body.slice(0, 20));
      assert.equal((await json(r)).error!.code, code);
    }
  });

  it('also seen: parts the form parser skips (16 to 64 KiB without a name, `attachment`) and parts without a name are answered, not held or a 500', async () => {
    const png = await pngBytes();
    const form = (...parts: (string | Buffer)[]) => ({ body: Buffer.concat([...parts.map((p) => Buffer.from(p)), Buffer.from('--XyZ--\r\n')]), contentType: 'multipart/form-data; boundary=XyZ' });
    const skipped = (header: string, bytes: number) => `--XyZ\r\n${header}\r\n\r\n${'a'.repeat(bytes)}\r\n`;
    const file = Buffer.concat([Buffer.from('--XyZ\r\nContent-Disposition: form-data; name="file"; filename="a.png"\r\nContent-Type: image/png\r\n\r\n'), png, Buffer.from('\r\n')]);
    for (const [name, body, status, message] of [
      ['a 20,000-byte part without Content-Disposition', form(skipped('Content-Type: text/plain', 20_000)), 400, /No file part/],
      ['a 60,000-byte `attachment` part', form(skipped('Content-Disposition: attachment; name="x"', 60_000)), 400, /No file part/],
      ['the image, then a skipped 20,000-byte part', form(file, skipped('Content-Type: text/plain', 20_000)), 200, /"predictions"/],
      ['a file part without a name', form('--XyZ\r\nContent-Disposition: form-data; filename="x.png"\r\n\r\nabc\r\n'), 400, /\(it has: a file part without a name\)/],
      ['a 20,000-byte field without a name', form(skipped('Content-Disposition: form-data', 20_000)), 400, /No file part/],
    ] as const) {
      const r = await fetch(`${base}/v1/predict`, { method: 'POST', body: new Uint8Array(body.body), headers: { 'content-type': body.contentType }, signal: AbortSignal.timeout(5000) });
      const text = await r.text();
      assert.equal(r.status, status, `${name}: ${text}`);
      assert.match(text, message, name);
    }
    assert.doesNotMatch(api.logs(), /"level":50/, 'no error-level line (the nameless file part was a TypeError, a 500)');
  });

  it('also seen: a declared Content-Length over the limit is refused before any body byte is sent', async () => {
    for (const path of ['/predict', '/v1/predict', '/']) {
      const r = await raw(`POST ${path} HTTP/1.1\r\nHost: x\r\nContent-Type: multipart/form-data; boundary=b\r\nContent-Length: ${100 * 1024 * 1024}`, { deadlineMs: 3000 });
      assert.equal(r.status, path === '/' ? 302 : 413, `${path}: ${JSON.stringify(r)}`);
      if (path === '/') assert.match(r.headers['set-cookie'] ?? '', /larger%20than%20the%20upload%20limit/);
      else assert.equal(JSON.parse(r.body).error.code, 'FILE_TOO_LARGE');
    }
  });

  it("also seen: Node's own refusals (headers too large or too slow, a long URL parameter) come from the error table", async () => {
    const big = await raw(`GET / HTTP/1.1\r\nHost: x\r\nX-Big: ${'a'.repeat(20_000)}`);
    assert.equal(big.status, 431);
    assert.equal(JSON.parse(big.body).error.code, 'HEADERS_TOO_LARGE');
    const slow = await raw('GET / HTTP/1.1\r\nHost: x\r\nX-Slow: 1', { unterminated: true, deadlineMs: 5000 });
    assert.equal(slow.status, 408, JSON.stringify(slow));
    assert.equal(JSON.parse(slow.body).error.code, 'REQUEST_TIMEOUT');
    const long = await fetch(`${base}/static/uploads/${'a'.repeat(200)}.png`);
    assert.equal(long.status, 414);
    assert.equal((await json(long)).error!.code, 'URI_TOO_LONG');
    assert.match((await json(await fetch(`${base}/static/uploads/${'a'.repeat(200)}.png`))).error!.message, /may be at most 100 characters$/, 'the limit named');
    const badPercent = await raw('GET /static/uploads/%ZZ.png HTTP/1.1\r\nHost: x');
    assert.equal(badPercent.status, 400);
    assert.match(JSON.parse(badPercent.body).error.message, /a % not followed by two hexadecimal digits/);
    const notUtf8 = await raw('GET /static/uploads/%C0%AE%C0%AE HTTP/1.1\r\nHost: x');
    assert.equal(notUtf8.status, 400);
    assert.match(JSON.parse(notUtf8.body).error.message, /or escapes that are not UTF-8$/);
    // Node undoes only the chunking: a gzip transfer coding reached the route still compressed, and was classified.
    const gz = gzipSync(await pngBytes());
    const gzipped = await raw('POST /v1/predict HTTP/1.1\r\nHost: x\r\nContent-Type: image/png\r\nTransfer-Encoding: gzip, chunked', {
      body: Buffer.concat([Buffer.from(`${gz.length.toString(16)}\r\n`), gz, Buffer.from('\r\n0\r\n\r\n')]),
    });
    assert.equal(gzipped.status, 415, JSON.stringify(gzipped));
    assert.match(JSON.parse(gzipped.body).error.message, /^This kind of body is not accepted here: its Transfer-Encoding is gzip, chunked: send it uncompressed/);
    // A chunk longer than it declared is about the body (Node: HPE_STRICT, a code also used for headers).
    const overlong = await raw('POST /v1/predict HTTP/1.1\r\nHost: x\r\nContent-Type: image/png\r\nTransfer-Encoding: chunked', {
      body: Buffer.from('3\r\nabcdef\r\n0\r\n\r\n'),
    });
    assert.equal(overlong.status, 400, JSON.stringify(overlong));
    assert.equal(JSON.parse(overlong.body).error.code, 'MALFORMED_BODY', overlong.body);
    assert.match(JSON.parse(overlong.body).error.message, /its chunked encoding is not valid \(HPE_\w+: .*chunk/);
    const garbage = await raw('NOT HTTP AT ALL');
    assert.equal(garbage.status, 400);
    assert.equal(JSON.parse(garbage.body).error.code, 'BAD_REQUEST', 'about the request line, not a body');
    assert.match(JSON.parse(garbage.body).error.message, /not HTTP\/1\.1 as this server reads it \(HPE_/);
    // CONNECT goes to Node's 'connect' event, never to a route: before, the connection closed without a word.
    const tunnel = await raw('CONNECT example.com:443 HTTP/1.1\r\nHost: example.com:443');
    assert.equal(tunnel.status, 405, JSON.stringify(tunnel));
    assert.equal(JSON.parse(tunnel.body).error.code, 'METHOD_NOT_ALLOWED');
    assert.match(JSON.parse(tunnel.body).error.message, /not a proxy/);
    assert.equal((await fetch(`${base}/healthz`)).status, 200, 'and the server goes on');
  });

  it('also seen: a request pipelined behind bad bytes keeps its own answer; the 400 follows it, then the connection closes', async () => {
    const png = await pngBytes();
    // The prediction is answered while the parser has already refused what follows it (before, its 200 was replaced by the 400).
    const head = `POST /v1/predict HTTP/1.1\r\nHost: x\r\nContent-Type: image/png\r\nContent-Length: ${png.length}\r\n\r\n`;
    const received = await new Promise<string>((resolve, reject) => {
      let text = '';
      const socket = connect(port, '127.0.0.1', () => socket.write(Buffer.concat([Buffer.from(head), png, Buffer.from('BREW /pot HTTP/1.1\r\nHost: x\r\n\r\n')])));
      const timer = setTimeout(() => reject(new Error(`no close within 5 s; got ${JSON.stringify(text)}`)), 5000);
      socket.on('data', (d: Buffer) => (text += d.toString('latin1')));
      socket.on('close', () => {
        clearTimeout(timer);
        resolve(text);
      });
    });
    const answers = received.split(/(?=HTTP\/1\.1 \d{3} [A-Z])/);
    assert.equal(answers.length, 2, received);
    assert.match(answers[0]!, /^HTTP\/1\.1 200 [\s\S]*"predictions"/);
    assert.match(answers[1]!, /^HTTP\/1\.1 400 [\s\S]*connection: close[\s\S]*"code":"BAD_REQUEST"/i);
  });

  it('also seen: security headers; uploads are served by their content type with nosniff', async () => {
    const page = await fetch(`${base}/`);
    const csp = page.headers.get('content-security-policy') ?? '';
    assert.match(csp, /frame-ancestors 'none'/);
    assert.match(csp, /style-src 'self'/);
    assert.doesNotMatch(csp, /unsafe-inline/);
    assert.equal(page.headers.get('x-content-type-options'), 'nosniff');
    assert.equal(page.headers.get('referrer-policy'), 'same-origin');
    // Scripts only from files (the page's module, since issue 10), no inline script or style.
    assert.doesNotMatch(await page.text(), /<script(?![^>]*\ssrc=)[^>]*>|<style| style=| on\w+=/, 'nothing inline in the page');
    const jpeg = await jpegBytes();
    const stored = await json(await postFile(`${base}/v1/predict`, jpeg, { filename: 'photo.png' }));
    assert.match(stored.image as string, /\.png$/, 'the stored name keeps the client extension');
    const served = await fetch(`${base}/static/uploads/${stored.image as string}`);
    assert.equal(served.headers.get('content-type'), 'image/jpeg');
    assert.equal(served.headers.get('x-content-type-options'), 'nosniff');
  });

  it('also seen: cross-site form posts are refused; programs without browser headers work as before', async () => {
    const png = await pngBytes();
    const forms: Record<string, ReturnType<typeof multipartBody>> = {
      '/': multipartBody([{ name: 'file', filename: 'a.png', value: png }]),
      '/predict': multipartBody([{ name: 'file', filename: 'a.png', value: png }]),
      '/feedback': multipartBody([{ name: 'report', value: 'wrong' }]),
    };
    const send = (path: string, headers: Record<string, string>) =>
      fetch(`${base}${path}`, { method: 'POST', body: new Uint8Array(forms[path]!.body), headers: { 'content-type': forms[path]!.contentType, ...headers }, redirect: 'manual' });
    for (const path of ['/', '/feedback']) {
      const r = await send(path, { 'sec-fetch-site': 'cross-site', origin: 'https://evil.example' });
      assert.equal(r.status, 403, path);
      assert.match(await r.text(), /A form on another site cannot post here/);
      assert.equal((await send(path, { origin: 'null' })).status, 403, `${path}: Origin null`);
    }
    assert.equal((await send('/', {})).status, 200, 'curl-like post to /');
    assert.equal((await send('/feedback', {})).status, 200, 'curl-like post to /feedback');
    // A browser's post from the page itself is redirected to the result's address (issue 10).
    assert.equal((await send('/', { 'sec-fetch-site': 'same-origin', origin: base })).status, 303, 'the page itself');
    assert.equal((await send('/predict', { 'sec-fetch-site': 'cross-site' })).status, 200, '/predict is unaffected');
  });

  it('also seen: a GIF whose first frame is larger than its screen is refused by the api', async () => {
    const r = await postFile(`${base}/v1/predict`, lyingGif(10_000, 10_000), { filename: 'tiny.gif' });
    assert.equal(r.status, 400);
    assert.equal((await json(r)).error!.code, 'IMAGE_TOO_MANY_PIXELS');
  });

  it('through the corpus: api RSS under 250 MB, a short log, no stray files, nothing in HOME or TMPDIR (8: telemetry)', async (t) => {
    assert.ok(peakRssMb > 0 && peakRssMb < RSS_LIMIT_MB, `api peak RSS ${peakRssMb.toFixed(0)} MB`);
    t.diagnostic(`api peak RSS ${peakRssMb.toFixed(0)} MB`);
    const apiLines = api.logs().split('\n').length;
    assert.ok(apiLines < 200, `the api logged ${apiLines} lines for a few thousand refusals`);
    // Stored uploads, and the api's mark for the workers' spot check.
    for (const name of await readdir(env.UPLOAD_DIR!)) if (name !== UPLOAD_DIR_MARK) assert.match(name, STORED_NAME, `stray file in UPLOAD_DIR: ${name}`);
    // The original's line file, the structured report log and its once-only markers (issue 10).
    assert.deepEqual((await readdir(env.FEEDBACK_DIR!)).sort(), ['feedback', 'report-ids', 'reports.jsonl']);
    for (const who of ['api', 'worker'] as const) {
      for (const dir of Object.values(quiet[who])) {
        // The processes run the compiled JavaScript: nothing at all may appear (no loader cache either).
        assert.deepEqual(await readdir(dir), [], `${who} wrote into ${dir}`);
      }
    }
  });
});
