/**
 * The upload form posted without JavaScript (a browser's top-level navigation, `Sec-Fetch-Mode:
 * navigate`) and refused by the service for now: a 303 back to the page with the refusal as a flash,
 * so reloading the page does not post the form again; the page's own fetch and programs keep the
 * status and the page. Pages tell a visitor what they can act on, never the settings, folders or
 * Redis behind a refusal; JSON keeps them. A real private redis-server refusing the api's password
 * (NOT_READY), and the in-process queue with a slow or held model (DEADLINE_EXCEEDED, QUEUE_FULL).
 */
import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { after, describe, it } from 'node:test';
import { loadConfig } from '@icls/lib/config';
import { createLogger } from '@icls/lib/logger';
import { RedisProducer } from '@icls/lib/queue/redis-producer';
import type { FastifyInstance } from 'fastify';
import { image, tempDir } from '../../tests/helpers/fixtures.ts';
import { multipartBody } from '../../tests/helpers/raw-http.ts';
import { startPrivateRedis } from '../../tests/helpers/redis-server.ts';
import { startInjectApi } from '../test/inject-app.ts';
import { buildApp } from './app.ts';

const log = createLogger('silent', 'test');
const PNG = await readFile(image('coffee.png'));
const cleanups: (() => Promise<unknown> | unknown)[] = [];
after(async () => {
  for (const c of cleanups.reverse()) await c();
});

/** What Chromium sends with the form's own post (no JavaScript), and with the page's fetch of it. */
const NAVIGATE = { 'sec-fetch-mode': 'navigate', 'sec-fetch-site': 'same-origin', 'sec-fetch-dest': 'document', accept: 'text/html,application/xhtml+xml' };
const FETCH = { 'sec-fetch-mode': 'cors', 'sec-fetch-site': 'same-origin', 'sec-fetch-dest': 'empty', accept: 'text/html' };

async function uploadForm(fields: Record<string, string> = {}) {
  const { body, contentType } = multipartBody([...Object.entries(fields).map(([name, value]) => ({ name, value })), { name: 'file', filename: 'coffee.png', value: PNG }]);
  return { payload: body, headers: { 'content-type': contentType } };
}

const post = async (app: FastifyInstance, url: string, headers: Record<string, string>, fields?: Record<string, string>) => {
  const form = await uploadForm(fields);
  return app.inject({ method: 'POST', url, payload: form.payload, headers: { ...form.headers, ...headers } });
};

const flashOf = (setCookie: unknown): string => decodeURIComponent(/^flash=([^;]*)/.exec(String(setCookie))?.[1] ?? '');

/** The page the browser is sent to, with the flash cookie it was given: the message as the page shows it. */
async function followed(app: FastifyInstance, answer: { headers: Record<string, unknown> }): Promise<string> {
  const cookie = String(answer.headers['set-cookie']).split(';')[0]!;
  const page = await app.inject({ url: String(answer.headers.location), headers: { ...NAVIGATE, cookie } });
  assert.equal(page.statusCode, 200);
  return page.body;
}

describe('a refused upload form', () => {
  it('NOT_READY (Redis refuses the password): the form\'s own post → 303 to the page with a flash, Retry-After kept; fetch and programs keep the 503; pages name no setting', async () => {
    const redis = await startPrivateRedis();
    cleanups.push(() => redis.stop());
    redis.requirePassword('pw');
    const producer = new RedisProducer({ redisUrl: redis.url, prefix: 'hweb', maxQueued: 4, deadAfterMs: 2000, log });
    const config = loadConfig({ QUEUE_MODE: 'redis', REDIS_URL: redis.url, REDIS_PREFIX: 'hweb', UPLOAD_DIR: await tempDir('uploads'), FEEDBACK_DIR: await tempDir('feedback'), LOG_LEVEL: 'silent' });
    const { app } = await buildApp(config, producer, log);
    cleanups.push(() => app.close(), () => producer.close());

    // Programs keep the whole story (once the api has heard Redis refuse it).
    const v1 = async () => (await post(app, '/v1/predict', {})).json() as { error: { code: string; message: string } };
    let json = await v1();
    for (const until = Date.now() + 3000; !json.error.message.includes('REDIS_URL') && Date.now() < until; json = await v1()) await new Promise((r) => setTimeout(r, 50));
    assert.equal(json.error.code, 'NOT_READY');
    assert.match(json.error.message, /^The service cannot take this request now: the queue \(Redis\) cannot be used: NOAUTH .*REDIS_URL/);

    const words = 'The service cannot take this request now. Try again in a few seconds.';
    const navigated = await post(app, '/', NAVIGATE);
    assert.equal(navigated.statusCode, 303, navigated.body.slice(0, 300));
    assert.equal(navigated.headers.location, '/');
    assert.equal(navigated.headers['retry-after'], '1');
    assert.equal(flashOf(navigated.headers['set-cookie']), words);
    const page = await followed(app, navigated);
    assert.ok(page.includes(`<div role="alert"><ul class="flashes"><li>${words}</li></ul></div>`), 'an alert on the page the browser lands on');

    // The page's fetch and a program posting the form: the status and the page, as before, in the same words.
    for (const headers of [FETCH, {}]) {
      const inPlace = await post(app, '/', headers);
      assert.equal(inPlace.statusCode, 503, JSON.stringify(headers));
      assert.equal(inPlace.headers['retry-after'], '1');
      assert.equal(inPlace.headers['set-cookie'], undefined);
      assert.ok(inPlace.body.includes(`<p class="error" role="alert">${words}</p>`), inPlace.body.slice(0, 2000));
      assert.doesNotMatch(inPlace.body, /Redis|REDIS_URL|NOAUTH/);
    }
    // A browser over plain http to another host sends no Sec-Fetch headers: its navigation asks for HTML
    // first, which the page's own upload (XMLHttpRequest) and curl do not.
    const plainHttp = await post(app, '/', { accept: 'text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8' });
    assert.equal(plainHttp.statusCode, 303, plainHttp.body.slice(0, 300));
    assert.equal(flashOf(plainHttp.headers['set-cookie']), words);
    for (const accept of ['*/*', 'application/json']) assert.equal((await post(app, '/', { accept })).statusCode, 503, accept);
    // The programs' routes are untouched, whatever the browser says.
    const original = await post(app, '/predict', NAVIGATE);
    assert.equal(original.statusCode, 503);
    const body = original.json() as { error: { code: string } };
    assert.deepEqual({ ...body, error: body.error.code }, { success: false, prediction: null, score: null, error: 'NOT_READY' });
    const api = await post(app, '/v1/predict', NAVIGATE);
    assert.equal(api.statusCode, 503);
    assert.match(api.json().error.message, /REDIS_URL/);
  });

  it('DEADLINE_EXCEEDED: 303 to the page with the model the form had picked, the table\'s words on pages, the detail in JSON', async () => {
    const slow = await startInjectApi({ REQUEST_TIMEOUT_MS: '300' }, { wrap: (handler) => async (job) => (await new Promise((r) => setTimeout(r, 600)), handler(job)) });
    cleanups.push(() => slow.close());
    const words = 'The prediction did not finish before its deadline. Try again in a few seconds.';
    const navigated = await post(slow.app, '/', NAVIGATE, { model: 'tiny-rgb' });
    assert.equal(navigated.statusCode, 303, navigated.body.slice(0, 300));
    assert.equal(navigated.headers.location, '/?model=tiny-rgb');
    assert.equal(navigated.headers['retry-after'], undefined, 'none said, none sent');
    assert.equal(flashOf(navigated.headers['set-cookie']), words);
    assert.ok((await followed(slow.app, navigated)).includes(`<li>${words}</li>`));

    const inPlace = await post(slow.app, '/', FETCH, { model: 'tiny-rgb' });
    assert.equal(inPlace.statusCode, 504);
    assert.ok(inPlace.body.includes(`<p class="error" role="alert">${words}</p>`), inPlace.body.slice(0, 2000));
    const api = await post(slow.app, '/v1/predict', {});
    assert.equal(api.statusCode, 504);
    assert.match(api.json().error.message, /^The prediction did not finish before its deadline: .+/, 'programs keep the detail');
  });

  it('QUEUE_FULL: 303 with the queue named (a visitor can act on that), Retry-After kept', async () => {
    let open!: () => void;
    const gate = new Promise<void>((r) => (open = r));
    const held = await startInjectApi({}, { wrap: (handler) => async (job) => (await gate, handler(job)) });
    cleanups.push(() => held.close());
    const filling = Array.from({ length: 10 }, (_, i) => held.app.inject({ method: 'POST', url: '/v1/predict', headers: { 'content-type': 'image/png' }, payload: Buffer.concat([PNG, Buffer.from([i])]) }));
    const navigated = await post(held.app, '/', NAVIGATE);
    const inPlace = await post(held.app, '/', FETCH);
    open();
    await Promise.all(filling);
    assert.equal(navigated.statusCode, 303, navigated.body.slice(0, 300));
    assert.equal(navigated.headers['retry-after'], '1');
    assert.match(flashOf(navigated.headers['set-cookie']), /^Too many predictions are waiting; retry shortly: the queue for model tiny-rgb is full/);
    assert.equal(inPlace.statusCode, 503);
    assert.match(inPlace.body, /class="error" role="alert">Too many predictions are waiting; retry shortly: the queue for model tiny-rgb is full/);
  });
});
