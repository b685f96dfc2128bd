/**
 * The whole system across processes: an api process and model worker processes talking through a real
 * Redis, on the generated tiny models and real ONNX Runtime. Each run uses its own key prefix.
 * Needs Redis on 127.0.0.1:6379 (or TEST_REDIS_URL): it fails, never skips, when Redis is missing.
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import { createLogger } from '@icls/lib/logger';
import { connectRedis } from '@icls/lib/queue/redis-connection';
import { cacheEntryPrefix } from '@icls/lib/queue/redis-keys';
import { redisAnswers } from '@icls/lib/redis-probe';
import { loadModelEntry, modelBuild } from '@icls/model/repository/model-repository';
import { expectedTinyRgb, fixtureModels, image, solidPng, tempDir } from './helpers/fixtures.ts';
import { postFile, waitFor200 } from './helpers/http.ts';
import { deleteRedisPrefix, ENTRY, freePort, REDIS_URL, startService, type Service } from './helpers/processes.ts';

describe('api + workers through Redis', () => {
  const services: Service[] = [];
  let base: string;
  let env: Record<string, string>;

  const start = (entry: string, extra: Record<string, string> = {}) => {
    const s = startService(entry, { ...env, ...extra });
    services.push(s);
    return s;
  };
  const logsOfAll = () => services.map((s, i) => `--- process ${i} ---\n${s.logs().slice(-3000)}`).join('\n');

  before(async () => {
    assert.ok(await redisAnswers(REDIS_URL, 1000), `Redis must answer at ${REDIS_URL} (start redis-server; CI's .ci/run does)`);
    const port = await freePort();
    base = `http://127.0.0.1:${port}`;
    env = {
      QUEUE_MODE: 'redis',
      REDIS_URL,
      REDIS_PREFIX: `test-${randomBytes(4).toString('hex')}`,
      MODELS_DIR: await fixtureModels(['tiny-rgb', 'tiny-slow']),
      UPLOAD_DIR: await tempDir('uploads'),
      FEEDBACK_DIR: await tempDir('feedback'),
      DEFAULT_MODEL: 'tiny-rgb',
      PORT: String(port),
      QUEUE_MAX_WAITING: '100',
      // The default deadline (10 s) and heartbeat timeout (2 s): what users run.
      WORKER_CONCURRENCY: '1',
      ORT_THREADS: '1',
      // One thread per run, no solo session on every core: tiny-slow must stay slower than the 300 ms
      // deadline below (on 2 threads of a 2-core Xeon it took 280–310 ms, on one 540–570).
      SOLO_ORT_THREADS: '1',
    };
    start(ENTRY.api);
    // Two general workers hold only the fast model; tiny-slow gets its own workers below.
    start(ENTRY.worker, { MODELS: 'tiny-rgb' });
    start(ENTRY.worker, { MODELS: 'tiny-rgb' });
    await waitFor200(`${base}/readyz`, 30_000, logsOfAll);
    await waitForWorkers('tiny-rgb', 2);
  });

  after(async () => {
    await Promise.all(services.map((s) => s.stop()));
    await deleteRedisPrefix(env.REDIS_PREFIX!);
  });

  /** A second api process on the same Redis, with its own settings. */
  async function extraApi(extra: Record<string, string>): Promise<string> {
    const port = await freePort();
    const api = start(ENTRY.api, { ...extra, PORT: String(port) });
    await waitFor200(`http://127.0.0.1:${port}/healthz`, 20_000, api.logs);
    return `http://127.0.0.1:${port}`;
  }

  async function waitForWorkers(model: string, n: number) {
    const until = Date.now() + 30_000;
    while (Date.now() < until) {
      const models = (await (await fetch(`${base}/v1/models`)).json()) as { models: { name: string; workers: number }[] };
      if ((models.models.find((m) => m.name === model)?.workers ?? 0) >= n) return;
      await new Promise((r) => setTimeout(r, 200));
    }
    throw new Error(`${n} workers for ${model} never showed up\n${logsOfAll()}`);
  }

  it('original integration: GET / → 200; empty POST / followed → 200', async () => {
    assert.equal((await fetch(`${base}/`)).status, 200);
    const r = await fetch(`${base}/`, { method: 'POST', redirect: 'follow' });
    assert.equal(r.status, 200);
  });

  it('original integration: POST /predict → 200 with the model\'s class and score', async () => {
    const expected = await expectedTinyRgb(image('chelsea.png'));
    const r = await postFile(`${base}/predict`, image('chelsea.png'), { contentType: 'image/png' });
    assert.equal(r.status, 200);
    assert.deepEqual(await r.json(), { success: true, prediction: expected.label, score: expected.score });
  });

  it('an identical upload is answered from the result cache, kept under the model build the workers hold', async () => {
    const png = await solidPng([12, 34, 56]);
    const ask = async () => (await (await postFile(`${base}/v1/predict`, png, { contentType: 'image/png' })).json()) as { cached: boolean; model: { version: string } };
    const first = await ask();
    await new Promise((r) => setTimeout(r, 100)); // the answer is stored beside the reply, not before it
    const second = await ask();
    assert.equal(first.cached, false);
    assert.equal(second.cached, true, 'the workers told the api their version in their heartbeats');
    const redis = connectRedis(REDIS_URL, 'test-inspect', createLogger('silent', 'test'));
    try {
      await new Promise((r) => redis.once('ready', r));
      const keys = await redis.keys(`${cacheEntryPrefix(env.REDIS_PREFIX!)}*`);
      // Keyed by the workers' build: the version, then a digest of the model's files.
      const build = new RegExp(`:tiny-rgb@${first.model.version}\\+[0-9a-f]{12}:`);
      assert.ok(keys.some((k) => build.test(k)), keys.join(', '));
    } finally {
      redis.disconnect();
    }
    // /v1/models shows the same build, the one `models list` computes from the folder to compare.
    const models = (await (await fetch(`${base}/v1/models`)).json()) as { models: { name: string; versions: string[] }[] };
    const folder = await modelBuild(await loadModelEntry(env.MODELS_DIR!, 'tiny-rgb'));
    assert.deepEqual(models.models.find((m) => m.name === 'tiny-rgb')?.versions, [folder]);
  });

  it('concurrent requests are all answered correctly, by both workers', async () => {
    const photos = ['chelsea.png', 'coffee.png', 'astronaut.png', 'rocket.jpg'];
    const expected = new Map(await Promise.all(photos.map(async (p) => [p, await expectedTinyRgb(image(p))] as const)));
    const responses = await Promise.all(
      Array.from({ length: 24 }, async (_, i) => {
        const photo = photos[i % photos.length]!;
        const r = await postFile(`${base}/v1/predict`, image(photo));
        return { photo, status: r.status, body: (await r.json()) as { prediction: string; score: number; worker: string } };
      }),
    );
    for (const { photo, status, body } of responses) {
      assert.equal(status, 200, JSON.stringify(body));
      assert.equal(body.prediction, expected.get(photo)!.label, photo);
      assert.equal(body.score, expected.get(photo)!.score, photo);
    }
    assert.equal(new Set(responses.map((r) => r.body.worker)).size, 2, 'both workers took jobs');
  });

  it('a corrupt image gives that client a clear 400, and the worker serves the next request', async () => {
    const bad = await postFile(`${base}/v1/predict`, image('truncated.jpg'));
    assert.equal(bad.status, 400);
    const body = (await bad.json()) as { error: { code: string; message: string } };
    assert.equal(body.error.code, 'IMAGE_UNREADABLE');
    assert.match(body.error.message, /damaged/);
    const ok = await postFile(`${base}/predict`, image('coffee.png'));
    assert.equal(ok.status, 200);
  });

  it('a worker killed with SIGKILL mid-job loses nothing: the other worker answers, well within the deadline', async (t) => {
    const slow = [start(ENTRY.worker, { MODELS: 'tiny-slow', LOG_LEVEL: 'debug' }), start(ENTRY.worker, { MODELS: 'tiny-slow', LOG_LEVEL: 'debug' })];
    const ready = /"worker":"([^"]+)"[^\n]*"msg":"worker ready"/;
    const ids = await Promise.all(slow.map(async (w) => ready.exec(await w.waitForLog(ready, 30_000))![1]!));
    await waitForWorkers('tiny-slow', 2);
    const expected = await expectedTinyRgb(image('astronaut.png'));
    const t0 = Date.now();
    const answer = postFile(`${base}/v1/predict?model=tiny-slow`, image('astronaut.png'));
    let doomed = -1;
    while (doomed < 0 && Date.now() - t0 < 10_000) {
      doomed = slow.findIndex((w) => w.logs().includes('"msg":"job started"'));
      if (doomed < 0) await new Promise((r) => setTimeout(r, 10));
    }
    assert.ok(doomed >= 0, `no worker started the job\n${logsOfAll()}`);
    slow[doomed]!.proc.kill('SIGKILL');
    const killedAt = Date.now() - t0;
    const r = await answer;
    const ms = Date.now() - t0;
    const body = (await r.json()) as { prediction: string; score: number; worker: string };
    assert.equal(r.status, 200, JSON.stringify(body));
    assert.equal(body.prediction, expected.label);
    assert.equal(body.score, expected.score);
    assert.equal(body.worker, ids[1 - doomed], 'answered by the surviving worker');
    t.diagnostic(`killed the worker ${killedAt} ms after the request; answered by the other after ${ms} ms`);
  });

  it('a full queue answers 503 with Retry-After at once; accepted requests still get answers', async () => {
    await waitForWorkers('tiny-slow', 1);
    // The three accepted run one after another on the one slow worker left: tiny-slow took 3.7-4.0 s a run
    // on one VM, so three passed the default 10 s deadline; the refusals are what is measured here.
    const bounded = await extraApi({ QUEUE_MAX_WAITING: '3', REQUEST_TIMEOUT_MS: '30000' });
    const results = await Promise.all(
      Array.from({ length: 10 }, async () => {
        const t0 = Date.now();
        const r = await postFile(`${bounded}/v1/predict?model=tiny-slow`, image('chelsea.png'));
        return { status: r.status, retryAfter: r.headers.get('retry-after'), ms: Date.now() - t0, body: await r.text() };
      }),
    );
    const rejected = results.filter((r) => r.status === 503);
    const accepted = results.filter((r) => r.status === 200);
    assert.ok(rejected.length >= 1, `expected some 503s, got ${results.map((r) => r.status).join(',')}`);
    assert.equal(accepted.length + rejected.length, results.length, results.map((r) => `${r.status} ${r.body}`).join('\n'));
    for (const r of rejected) {
      assert.equal(r.retryAfter, '1');
      assert.match(r.body, /QUEUE_FULL/);
      assert.ok(r.ms < 2000, `a rejection took ${r.ms} ms`);
    }
  });

  it('a request whose deadline passes gets 504 with a clear JSON error', async () => {
    // No result cache: an earlier test's answer for this image would come back at once.
    const impatient = await extraApi({ REQUEST_TIMEOUT_MS: '300', RESULT_CACHE_TTL_S: '0' });
    const t0 = Date.now();
    const r = await postFile(`${impatient}/v1/predict?model=tiny-slow`, image('chelsea.png'));
    const ms = Date.now() - t0;
    assert.equal(r.status, 504);
    const body = (await r.json()) as { error: { code: string; message: string } };
    assert.equal(body.error.code, 'DEADLINE_EXCEEDED');
    assert.match(body.error.message, /deadline/);
    assert.ok(ms < 5000, `504 took ${ms} ms`);
  });
});
