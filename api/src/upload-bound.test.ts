/**
 * UPLOAD_DIR stays bounded as users see it (inject, in-process queue, the real tiny-rgb model): once
 * the stored uploads take more than UPLOAD_DIR_MAX_BYTES, the api removes the least recently uploaded
 * ones, but never one a feedback report names, nor one just uploaded; /metrics tells what it did.
 */
import assert from 'node:assert/strict';
import { readdir, readFile, utimes } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { image } from '../../tests/helpers/fixtures.ts';
import { startInjectApi, type InjectApi } from '../test/inject-app.ts';

describe('the upload folder bound (UPLOAD_DIR_MAX_BYTES)', () => {
  let api: InjectApi;
  before(async () => {
    api = await startInjectApi({ UPLOAD_DIR_MAX_BYTES: '1200000' });
  });
  after(() => api.close());

  const upload = async (name: string): Promise<string> => {
    const res = await api.app.inject({ method: 'POST', url: '/v1/predict', headers: { 'content-type': 'image/png' }, payload: await readFile(image(name)) });
    assert.equal(res.statusCode, 200, res.body);
    return res.json().image as string;
  };
  const stored = async () => (await readdir(api.config.UPLOAD_DIR)).filter((n) => !n.startsWith('.')).sort();
  const hourAgo = async (name: string) => {
    const t = new Date(Date.now() - 3_600_000);
    await utimes(join(api.config.UPLOAD_DIR, name), t, t);
  };

  it('removes the least recently uploaded, and keeps the reported and the new ones', async () => {
    const chelsea = await upload('chelsea.png'); // 235 KiB, reported below
    const coffee = await upload('coffee.png'); // 456 KiB
    const rocket = await upload('rocket.jpg'); // 110 KiB
    const report = await api.app.inject({ method: 'POST', url: '/v1/feedback', payload: { report: 'not a cat', image: chelsea } });
    assert.equal(report.statusCode, 201, report.body);
    for (const n of [chelsea, coffee, rocket]) await hourAgo(n);
    // 773 KiB: over the bound (1,574 KiB against 1,200,000 bytes), this write starts a sweep, down to
    // 1,080,000 bytes: coffee, then rocket; chelsea is reported (removed only if those were not enough).
    const astronaut = await upload('astronaut.png');

    const deadline = Date.now() + 5000;
    while ((await stored()).length > 2 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
    assert.deepEqual(await stored(), [chelsea, astronaut].sort(), 'coffee and rocket removed; chelsea is reported, astronaut in use');

    const gone = await api.app.inject({ method: 'GET', url: `/static/uploads/${coffee}` });
    assert.equal(gone.statusCode, 404);
    const metrics = (await api.app.inject({ method: 'GET', url: '/metrics' })).body;
    assert.match(metrics, /^icls_uploads_removed_total\{reason="size"\} 2$/m);
    const bytes = Number(/^icls_upload_dir_bytes (\d+)$/m.exec(metrics)?.[1]);
    const expected = (await readFile(image('chelsea.png'))).length + (await readFile(image('astronaut.png'))).length;
    assert.equal(bytes, expected);
  });

  it('counts what is stored between sweeps too (a sweep runs only hourly under the bound)', async () => {
    const before = Number(/^icls_upload_dir_bytes (\d+)$/m.exec((await api.app.inject({ method: 'GET', url: '/metrics' })).body)?.[1]);
    await upload('rocket.jpg'); // under the bound: no sweep
    const after = Number(/^icls_upload_dir_bytes (\d+)$/m.exec((await api.app.inject({ method: 'GET', url: '/metrics' })).body)?.[1]);
    assert.equal(after - before, (await readFile(image('rocket.jpg'))).length);
  });
});
