/**
 * The result cache as clients see it (inject, in-process queue, the real tiny-rgb model): a repeated
 * upload is answered without the model, `/v1/predict` says so, `/predict` keeps its three keys, and a
 * different top_k or a different file is computed.
 */
import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { after, before, describe, it } from 'node:test';
import type { FastifyInstance } from 'fastify';
import type { JobData } from '@icls/lib/job-contract';
import { image } from '../../tests/helpers/fixtures.ts';
import { cacheFields } from './predict-service.ts';
import { startInjectApi } from '../test/inject-app.ts';

describe('result cache through the api', () => {
  let app: FastifyInstance;
  let close: () => Promise<void>;
  const ran: JobData[] = [];

  before(async () => {
    ({ app, close } = await startInjectApi({}, {
      cache: true,
      wrap: (handler) => (job) => {
        ran.push(job);
        return handler(job);
      },
    }));
  });
  after(() => close());

  const upload = async (url: string, name: string, bytes?: Buffer) =>
    app.inject({ method: 'POST', url, headers: { 'content-type': 'image/png' }, payload: bytes ?? (await readFile(image(name))) });

  it('the same upload, model and top_k: the second answer is cached, the same, and ran no model', async () => {
    const first = await upload('/v1/predict?top_k=2', 'chelsea.png');
    const runs = ran.length;
    const second = await upload('/v1/predict?top_k=2', 'chelsea.png');
    assert.equal(ran.length, runs, 'no model ran');
    assert.equal(first.json().cached, false);
    assert.equal(first.headers['x-cache'], 'MISS');
    assert.equal(second.json().cached, true);
    assert.deepEqual(second.json().predictions, first.json().predictions);
    assert.equal(second.json().image, first.json().image);
    assert.equal(second.json().timings.inferenceMs, 0);
  });

  it('the api times a request on its monotonic clock to 0.01 ms, not in whole milliseconds', async () => {
    const timings: { uploadMs: number; totalMs: number; overheadMs: number }[] = [];
    for (let i = 0; i < 5; i++) timings.push((await upload('/v1/predict?top_k=2', 'chelsea.png')).json().timings);
    // Cached answers take a few ms: whole milliseconds five times in a row would be a 1-in-10^10 chance.
    assert.ok(timings.some((t) => !Number.isInteger(t.totalMs)), JSON.stringify(timings));
    for (const t of timings) {
      assert.equal(t.totalMs, Math.round(t.totalMs * 100) / 100);
      assert.ok(t.uploadMs <= t.totalMs);
      assert.equal(t.overheadMs, t.totalMs, 'a cached answer ran no queue and no model');
    }
  });

  it('another top_k, or another file, is computed', async () => {
    const runs = ran.length;
    assert.equal((await upload('/v1/predict?top_k=3', 'chelsea.png')).json().cached, false);
    const other = Buffer.concat([await readFile(image('coffee.png'))]);
    assert.equal((await upload('/v1/predict?top_k=3', 'coffee.png', other)).json().cached, false);
    assert.equal(ran.length, runs + 2);
  });

  it('the page says an answer came from the result cache, instead of showing a model that took 0 ms', async () => {
    const page = (posted: Awaited<ReturnType<typeof upload>>) => /Answered in [^<]*/.exec(posted.body)?.[0] ?? posted.body;
    const first = page(await upload('/', 'astronaut.png'));
    assert.match(first, /^Answered in [\d.]+ m?s \(upload [\d.]+ m?s, queue [\d.]+ m?s, preprocessing [\d.]+ m?s, inference [\d.]+ m?s\)/);
    const again = page(await upload('/', 'astronaut.png'));
    assert.match(again, /^Answered in [\d.]+ m?s \(upload [\d.]+ m?s\), from the result cache: this model classified the same image earlier and did not run again/);
  });

  it('/predict keeps exactly its three keys when the answer is cached', async () => {
    await upload('/predict', 'rocket.jpg');
    const runs = ran.length;
    const r = await upload('/predict', 'rocket.jpg');
    assert.equal(ran.length, runs);
    assert.deepEqual(Object.keys(r.json()).sort(), ['prediction', 'score', 'success']);
    assert.equal(r.headers['x-cache'], 'HIT', 'a header says it, for /predict clients and the stress test');
  });
});

describe('result cache keys', () => {
  const key = (versions?: Map<string, ReadonlySet<string>>) => cacheFields('abc', 'm', 5, versions);

  it('name the one version of the model that live workers hold, so a replaced model is never answered from the old one', () => {
    assert.deepEqual(key(new Map([['m', new Set(['2'])]])), { cacheKey: 'abc:m@2:5', cacheVersion: '2' });
  });

  it('are not used while two versions are live (a rolling upgrade) or none is known for the model', () => {
    assert.deepEqual(key(new Map([['m', new Set(['1', '2'])]])), {});
    assert.deepEqual(key(new Map([['other', new Set(['1'])]])), {});
  });

  it('name the model alone when the queue does not say which versions it serves (embedded mode)', () => {
    assert.deepEqual(key(undefined), { cacheKey: 'abc:m:5' });
  });
});
