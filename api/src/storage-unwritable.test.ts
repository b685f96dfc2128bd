/**
 * A folder that turns read-only while the api runs (the kernel remounts a disk so on I/O errors): 503
 * STORAGE_UNWRITABLE naming the variable, one error line without a stack, /readyz says so, and the
 * service takes uploads and reports again once the folder is writable. The EROFS is the kernel's own: a
 * tmpfs remounted read-only (mounting needs root, as CI runs; elsewhere the tests are skipped and say why).
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { readdir } from 'node:fs/promises';
import { after, describe, it } from 'node:test';
import { createLogger } from '@icls/lib/logger';
import { solidPng, tempDir } from '../../tests/helpers/fixtures.ts';
import { multipartBody } from '../../tests/helpers/raw-http.ts';
import { mountTinyDisk, unmountTinyDisk } from '../../tests/helpers/tiny-disk.ts';
import { startInjectApi, type InjectApi } from '../test/inject-app.ts';

interface LogLine {
  level: number;
  msg: string;
  err?: unknown;
  [key: string]: unknown;
}

const remount = (dir: string, mode: 'ro' | 'rw'): void => {
  const r = spawnSync('mount', ['-o', `remount,${mode}`, dir], { encoding: 'utf8' });
  assert.equal(r.status, 0, r.stderr);
};

describe('a folder that cannot be written any more', () => {
  const apis: InjectApi[] = [];
  const mounted: string[] = [];
  after(async () => {
    await Promise.all(apis.map((a) => a.close()));
    for (const dir of mounted) unmountTinyDisk(dir);
  });

  async function smallDisk(name: string): Promise<string | { skip: string }> {
    const dir = await tempDir(name);
    const cannot = mountTinyDisk(dir, '4m');
    if (cannot) return { skip: cannot };
    mounted.push(dir);
    return dir;
  }

  async function start(env: Record<string, string>) {
    const lines: LogLine[] = [];
    const log = createLogger('info', 'test', { write: (l: string) => void lines.push(JSON.parse(l) as LogLine) });
    const api = await startInjectApi(env, { log });
    apis.push(api);
    const readyz = async () => {
      const r = await api.app.inject({ url: '/readyz' });
      return { status: r.statusCode, body: r.json() as { status: string; reason?: string } };
    };
    return { api, lines, readyz };
  }

  it('UPLOAD_DIR remounted read-only: 503 STORAGE_UNWRITABLE naming UPLOAD_DIR on every upload route (not on pages), one error line, /readyz not ready; served again once writable', async (t) => {
    const uploads = await smallDisk('uploads-ro');
    if (typeof uploads !== 'string') return t.skip(uploads.skip);
    const { api, lines, readyz } = await start({ UPLOAD_DIR: uploads });
    let shade = 0;
    const predict = async (url = '/v1/predict', headers: Record<string, string> = {}) => {
      // A new image each time: an identical upload already stored needs no write.
      const { body, contentType } = multipartBody([{ name: 'file', filename: 'p.png', value: await solidPng([shade++, 9, 9]) }]);
      return api.app.inject({ method: 'POST', url, payload: body, headers: { 'content-type': contentType, ...headers } });
    };
    assert.equal((await predict()).statusCode, 200);
    assert.equal((await readyz()).status, 200);
    const [stored] = (await readdir(uploads)).filter((f) => /^[0-9a-f]{32}\.png$/.test(f));
    assert.ok(stored, 'the first upload is stored');

    remount(uploads, 'ro');
    // What is stored is still shown: its page (predicted again from the image, then remembered) twice.
    for (const time of ['predicted again', 'remembered']) {
      const page = await api.app.inject({ url: `/result/${stored}?model=tiny-rgb`, headers: { accept: 'text/html' } });
      assert.equal(page.statusCode, 200, `${time}: ${page.body.slice(0, 300)}`);
    }
    const refused = await predict();
    assert.equal(refused.statusCode, 503, refused.body);
    assert.equal(refused.json().error.code, 'STORAGE_UNWRITABLE');
    assert.match(refused.json().error.message, /UPLOAD_DIR cannot be written \(its file system is read-only\)/);
    assert.doesNotMatch(refused.json().error.message, new RegExp(uploads), 'no server path to the client');
    assert.ok(refused.headers['retry-after']);
    const original = await predict('/predict');
    assert.equal(original.statusCode, 503);
    assert.equal(original.json().error.code, 'STORAGE_UNWRITABLE');
    // The upload form: in place for the page's fetch, back to the page with a flash when posted without JavaScript.
    const inPlace = await predict('/', { 'sec-fetch-site': 'same-origin', 'sec-fetch-mode': 'cors', accept: 'text/html' });
    assert.equal(inPlace.statusCode, 503);
    // The page names no setting or folder: a visitor can only wait, the operator reads the log and /readyz.
    const words = 'The server cannot store this now: a folder it writes to cannot be written; its operator must fix it';
    assert.ok(inPlace.body.includes(`<p class="error" role="alert">${words}</p>`), inPlace.body.slice(0, 2000));
    assert.doesNotMatch(inPlace.body, /UPLOAD_DIR|read-only/);
    const navigated = await predict('/', { 'sec-fetch-site': 'same-origin', 'sec-fetch-mode': 'navigate', accept: 'text/html' });
    assert.equal(navigated.statusCode, 303, navigated.body.slice(0, 300));
    assert.equal(navigated.headers.location, '/');
    assert.equal(navigated.headers['retry-after'], '5');
    assert.equal(String(navigated.headers['set-cookie']).split(';')[0], `flash=${encodeURIComponent(words)}`);
    for (let i = 0; i < 5; i++) assert.equal((await predict()).statusCode, 503);

    const errors = lines.filter((l) => l.level >= 50);
    assert.equal(errors.length, 1, JSON.stringify(errors));
    assert.match(errors[0]!.msg, new RegExp(`^UPLOAD_DIR ${uploads} cannot be written \\(EROFS: its file system is read-only\\): .*point UPLOAD_DIR at a writable folder`));
    assert.ok(!lines.some((l) => JSON.stringify(l).includes('"stack"')), 'no stack trace in the log');

    const notReady = await readyz();
    assert.equal(notReady.status, 503);
    assert.equal(notReady.body.reason, 'UPLOAD_DIR cannot be written (its file system is read-only): uploads are refused');

    remount(uploads, 'rw');
    assert.equal((await predict()).statusCode, 200, 'writable again');
    assert.equal((await readyz()).status, 200);
    assert.ok(lines.some((l) => l.msg === `UPLOAD_DIR ${uploads} can be written again`));
    assert.ok((await readdir(uploads)).every((f) => !f.startsWith('.upload-')), 'no temporary file left');
  });

  it('FEEDBACK_DIR remounted read-only: 503 STORAGE_UNWRITABLE naming FEEDBACK_DIR, predictions go on and /readyz stays ready saying so', async (t) => {
    const feedback = await smallDisk('feedback-ro');
    if (typeof feedback !== 'string') return t.skip(feedback.skip);
    const { api, lines, readyz } = await start({ FEEDBACK_DIR: feedback });
    const post = (report: string) => api.app.inject({ method: 'POST', url: '/v1/feedback', payload: { report } });
    const stored = await post('a cat, not a dog');
    assert.equal(stored.statusCode, 201);

    remount(feedback, 'ro');
    // Marking it from a filtered review page (no JavaScript) fails; the error page leads back to that view.
    const back = 'status=unreviewed&page=2&evil=//x.example';
    const mark = await api.app.inject({
      method: 'POST',
      url: '/feedback/review/mark',
      payload: new URLSearchParams({ id: stored.json().id, reviewed: '1', back }).toString(),
      headers: { 'content-type': 'application/x-www-form-urlencoded', 'sec-fetch-site': 'same-origin', accept: 'text/html' },
    });
    assert.equal(mark.statusCode, 503, mark.body);
    assert.match(mark.body, /<a class="button" href="\/feedback\/review\?status=unreviewed&#38;page=2">Go to the review page<\/a>/);
    const refused = await post('a dog, not a cat');
    assert.equal(refused.statusCode, 503, refused.body);
    assert.equal(refused.json().error.code, 'STORAGE_UNWRITABLE');
    assert.match(refused.json().error.message, /FEEDBACK_DIR cannot be written/);
    const errors = lines.filter((l) => l.level >= 50);
    assert.equal(errors.length, 1, JSON.stringify(errors));
    assert.match(errors[0]!.msg, /^FEEDBACK_DIR .* cannot be written \(EROFS/);

    // A report stored before is still answered a duplicate (nothing to write), and says nothing of the folder.
    const duplicate = await post('a cat, not a dog');
    assert.equal(duplicate.statusCode, 201, duplicate.body);
    assert.equal(duplicate.json().duplicate, true);
    assert.equal((await post('a bird, not a plane')).statusCode, 503);
    assert.equal(lines.filter((l) => l.level >= 50).length, 1, 'still one error line');

    const ready = await readyz();
    assert.equal(ready.status, 200, 'predictions are still served');
    assert.equal(ready.body.reason, 'FEEDBACK_DIR cannot be written (its file system is read-only): reports are refused');

    remount(feedback, 'rw');
    assert.equal((await post('a dog, not a cat')).statusCode, 201, 'stored once writable');
    assert.equal((await readyz()).body.reason, undefined);
  });
});
