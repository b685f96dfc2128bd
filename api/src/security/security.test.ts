/**
 * The admin surface, the CSRF check and the rate limit through app.inject(), which lets a test choose
 * the client's address. The queue is a real in-process one with no model: these routes need none.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type { FastifyInstance } from 'fastify';
import { loadConfig } from '@icls/lib/config';
import { createLogger } from '@icls/lib/logger';
import { MemoryQueue } from '@icls/lib/queue/memory-queue';
import { tempDir } from '../../../tests/helpers/fixtures.ts';
import { buildApp } from '../app.ts';
import { securityHeaders } from './security-headers.ts';

const TOKEN = 'correct-horse-battery-staple';
const ADMIN_URLS = ['/feedback/review', '/v1/feedback', '/metrics'];
const REMOTE = '203.0.113.7';

async function appWith(env: Record<string, string>): Promise<{ app: FastifyInstance; close: () => Promise<void> }> {
  const log = createLogger('silent', 'test');
  const config = loadConfig({ UPLOAD_DIR: await tempDir('uploads'), FEEDBACK_DIR: await tempDir('feedback'), LOG_LEVEL: 'silent', ...env });
  const queue = new MemoryQueue({ maxWaiting: 1, concurrency: 1, models: [], handler: async () => assert.fail('no job expected'), log });
  const { app } = await buildApp(config, queue, log);
  return { app, close: () => app.close() };
}

describe('admin surface', () => {
  let open: Awaited<ReturnType<typeof appWith>>;
  let guarded: Awaited<ReturnType<typeof appWith>>;
  before(async () => {
    open = await appWith({});
    guarded = await appWith({ ADMIN_TOKEN: TOKEN });
  });
  after(async () => {
    await open.close();
    await guarded.close();
  });

  it('without ADMIN_TOKEN: loopback clients only (IPv4, IPv6, mapped)', async () => {
    for (const url of ADMIN_URLS) {
      for (const address of ['127.0.0.1', '::1', '::ffff:127.0.0.1']) {
        assert.equal((await open.app.inject({ url, remoteAddress: address })).statusCode, 200, `${url} from ${address}`);
      }
      const r = await open.app.inject({ url, remoteAddress: REMOTE });
      assert.equal(r.statusCode, 403, url);
      assert.match(r.body, /Without ADMIN_TOKEN set, this page answers only on the server itself/);
    }
  });

  it('with ADMIN_TOKEN: Bearer for programs, Basic (any user) for browsers; loopback is not enough', async () => {
    const basic = (user: string, password: string) => `Basic ${Buffer.from(`${user}:${password}`).toString('base64')}`;
    for (const url of ADMIN_URLS) {
      const none = await guarded.app.inject({ url, remoteAddress: '127.0.0.1' });
      assert.equal(none.statusCode, 401, url);
      assert.match(String(none.headers['www-authenticate']), /^Basic realm=/, 'the browser asks for the token');
      for (const authorization of [`Bearer ${TOKEN}`, basic('admin', TOKEN), basic('', TOKEN)]) {
        assert.equal((await guarded.app.inject({ url, remoteAddress: REMOTE, headers: { authorization } })).statusCode, 200, `${url} ${authorization}`);
      }
      for (const authorization of [`Bearer ${TOKEN}x`, basic(TOKEN, 'x'), 'Bearer', `Token ${TOKEN}`, 'Basic !!!']) {
        assert.equal((await guarded.app.inject({ url, remoteAddress: REMOTE, headers: { authorization } })).statusCode, 401, `${url} ${authorization}`);
      }
    }
  });

  it('the public routes stay open to everyone', async () => {
    for (const [method, url] of [['GET', '/'], ['GET', '/healthz'], ['GET', '/openapi.json'], ['POST', '/feedback']] as const) {
      const r = await guarded.app.inject({ method, url, remoteAddress: REMOTE, ...(method === 'POST' ? { payload: { report: 'x' } } : {}) });
      assert.equal(r.statusCode, 200, `${method} ${url}`);
    }
  });
});

describe('same-origin form posts', () => {
  let t: Awaited<ReturnType<typeof appWith>>;
  before(async () => {
    t = await appWith({});
  });
  after(() => t.close());

  const postFeedback = (headers: Record<string, string>) =>
    t.app.inject({ method: 'POST', url: '/feedback', payload: 'report=wrong', headers: { 'content-type': 'application/x-www-form-urlencoded', host: 'classifier.example:8080', ...headers } });

  it('the page itself, a typed-in URL, and programs without the headers are served', async () => {
    const served: Record<string, string>[] = [{}, { 'sec-fetch-site': 'same-origin' }, { 'sec-fetch-site': 'none' }, { origin: 'http://classifier.example:8080' }];
    for (const headers of served) {
      assert.equal((await postFeedback(headers)).statusCode, 200, JSON.stringify(headers));
    }
  });

  it('another site, a sibling subdomain, a null or foreign Origin are refused with the page and 403', async () => {
    const refused: Record<string, string>[] = [
      { 'sec-fetch-site': 'cross-site' },
      { 'sec-fetch-site': 'same-site' },
      { origin: 'null' },
      { origin: 'http://evil.example' },
      { origin: 'http://classifier.example:9090' },
    ];
    for (const headers of refused) {
      const r = await postFeedback(headers);
      assert.equal(r.statusCode, 403, JSON.stringify(headers));
      assert.match(String(r.headers['content-type']), /text\/html/);
      assert.match(r.body, /A form on another site cannot post here/);
    }
  });

  it('POST /v1/feedback too: a form on another site cannot forge a report into the dataset; programs are served', async () => {
    const post = (headers: Record<string, string>) =>
      t.app.inject({ method: 'POST', url: '/v1/feedback', payload: 'report=forged&label=x', headers: { 'content-type': 'application/x-www-form-urlencoded', host: 'classifier.example:8080', ...headers } });
    for (const headers of [{ 'sec-fetch-site': 'cross-site' }, { origin: 'https://evil.example' }] as Record<string, string>[]) {
      const r = await post(headers);
      assert.equal(r.statusCode, 403, JSON.stringify(headers));
      assert.equal(r.json().error.code, 'CROSS_SITE_POST');
    }
    assert.equal((await post({})).statusCode, 201, 'a program without the headers');
    assert.equal((await post({ 'sec-fetch-site': 'same-origin' })).statusCode, 201, "the service's own page");
  });
});

describe('rate limit (RATE_LIMIT_PER_MINUTE)', () => {
  it('off by default; when set, the next request gets 429 from the error table with Retry-After, health probes excepted', async () => {
    const off = await appWith({});
    for (let i = 0; i < 20; i++) assert.equal((await off.app.inject({ url: '/feedback' })).statusCode, 200);
    await off.close();
    const on = await appWith({ RATE_LIMIT_PER_MINUTE: '3' });
    for (let i = 0; i < 3; i++) assert.equal((await on.app.inject({ url: '/feedback', remoteAddress: REMOTE })).statusCode, 200);
    const limited = await on.app.inject({ url: '/v1/models', remoteAddress: REMOTE });
    assert.equal(limited.statusCode, 429);
    assert.equal(limited.json().error.code, 'TOO_MANY_REQUESTS');
    assert.ok(Number(limited.headers['retry-after']) >= 1);
    assert.equal((await on.app.inject({ url: '/healthz', remoteAddress: REMOTE })).statusCode, 200);
    assert.equal((await on.app.inject({ url: '/feedback', remoteAddress: '198.51.100.1' })).statusCode, 200, 'another client has its own count');
    await on.close();
  });

  it('the admin pages count once let in (a scrape of /metrics too); a refused token is answered before the count', async () => {
    const token = 'scrape-token-0123456789';
    const on = await appWith({ RATE_LIMIT_PER_MINUTE: '3', ADMIN_TOKEN: token });
    const scrape = async (bearer: string) => (await on.app.inject({ url: '/metrics', remoteAddress: REMOTE, headers: { authorization: `Bearer ${bearer}` } })).statusCode;
    for (let i = 0; i < 5; i++) assert.equal(await scrape('not-the-token-000000'), 401);
    for (let i = 0; i < 3; i++) assert.equal(await scrape(token), 200);
    assert.equal(await scrape(token), 429);
    await on.close();
  });

  it('a page load counts once: the page\'s own files (style, scripts, icon) and the API page\'s are not counted', async () => {
    const on = await appWith({ RATE_LIMIT_PER_MINUTE: '2' });
    const page = await on.app.inject({ url: '/', remoteAddress: REMOTE });
    const assets = [...page.body.matchAll(/(?:href|src)="(\/static\/[^"?#]+)"/g)].map((m) => m[1]!);
    assert.ok(assets.length >= 2, `the page names its files: ${assets.join(', ')}`);
    for (let round = 0; round < 3; round++) {
      for (const asset of [...assets, '/favicon.ico', '/docs/static/index.css']) {
        const r = await on.app.inject({ url: asset, remoteAddress: REMOTE });
        assert.notEqual(r.statusCode, 429, asset);
      }
    }
    assert.equal((await on.app.inject({ url: '/', remoteAddress: REMOTE })).statusCode, 200, 'the second counted request');
    assert.equal((await on.app.inject({ url: '/', remoteAddress: REMOTE })).statusCode, 429);
    await on.close();
  });

  it('paths no route matches are limited too', async () => {
    const on = await appWith({ RATE_LIMIT_PER_MINUTE: '3' });
    const statuses: number[] = [];
    for (let i = 0; i < 5; i++) statuses.push((await on.app.inject({ url: `/nothing-${i}`, remoteAddress: REMOTE })).statusCode);
    assert.deepEqual(statuses, [404, 404, 404, 429, 429]);
    await on.close();
  });
});

describe('security headers', () => {
  it('every answer has the same set, worked out once: the page, a refused upload (no model: 503), a refused admin call, a 404', async () => {
    const { app, close } = await appWith({ ADMIN_TOKEN: TOKEN });
    const expected = securityHeaders();
    assert.match(expected['Content-Security-Policy'] ?? '', /^default-src 'none';.*frame-ancestors 'none'/);
    assert.equal(expected['X-Frame-Options'], 'DENY');
    assert.equal(expected['Referrer-Policy'], 'same-origin');
    assert.equal(expected['Strict-Transport-Security'], undefined, 'HSTS is for whoever terminates TLS');
    const answers = [
      await app.inject({ url: '/', headers: { accept: 'text/html' } }),
      await app.inject({ method: 'POST', url: '/v1/predict', headers: { 'content-type': 'text/plain' }, payload: 'x' }),
      await app.inject({ url: '/metrics', remoteAddress: REMOTE }),
      await app.inject({ url: '/nothing-here' }),
    ];
    assert.deepEqual(answers.map((a) => a.statusCode), [200, 503, 401, 404]);
    for (const answer of answers) {
      for (const [name, value] of Object.entries(expected)) assert.equal(answer.headers[name.toLowerCase()], value, `${name} on the ${answer.statusCode}`);
    }
    await close();
  });
});
