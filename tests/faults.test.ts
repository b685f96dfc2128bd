/**
 * Fast versions of the chaos run's faults, across real processes, each with a private redis-server
 * (so Redis can be killed) and the default deadline and heartbeat settings: Redis away and back
 * (fail fast, nothing lost), an api started without Redis, a broken model beside a good one.
 */
import assert from 'node:assert/strict';
import { cp, mkdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { fixtureModels, image, tempDir } from './helpers/fixtures.ts';
import { postFile, waitFor200 } from './helpers/http.ts';
import { ENTRY, freePort, startService, type Service } from './helpers/processes.ts';
import { startPrivateRedis, type PrivateRedis } from './helpers/redis-server.ts';

/** Times a request; never throws (a refused connection is status 0). */
async function timed(run: () => Promise<Response>): Promise<{ status: number; ms: number; retryAfter: string | null; body: string }> {
  const t0 = Date.now();
  try {
    const r = await run();
    return { status: r.status, ms: Date.now() - t0, retryAfter: r.headers.get('retry-after'), body: await r.text() };
  } catch (err) {
    return { status: 0, ms: Date.now() - t0, retryAfter: null, body: (err as Error).message };
  }
}

describe('faults: Redis away, Redis restarted, broken models', () => {
  const services: Service[] = [];
  let redis: PrivateRedis;
  let base: string;
  let env: Record<string, string>;
  const logsOfAll = () => services.map((s, i) => `--- process ${i} ---\n${s.logs().slice(-3000)}`).join('\n');
  const start = (entry: string, extra: Record<string, string> = {}) => {
    const s = startService(entry, { ...env, ...extra });
    services.push(s);
    return s;
  };

  before(async () => {
    // The api starts before Redis exists: it must listen anyway, and say it is not ready.
    redis = await startPrivateRedis({ running: false });
    const models = await tempDir('models-broken');
    await cp(await fixtureModels(['tiny-rgb', 'tiny-slow']), models, { recursive: true });
    // A folder whose file ONNX Runtime cannot load: one model down, not the whole worker.
    await mkdir(join(models, 'broken-onnx'));
    await cp(join(models, 'tiny-rgb', 'labels.txt'), join(models, 'broken-onnx', 'labels.txt'));
    const config = JSON.parse(await readFile(join(models, 'tiny-rgb', 'config.json'), 'utf8')) as object;
    await writeFile(join(models, 'broken-onnx', 'config.json'), JSON.stringify({ ...config, name: 'broken-onnx' }));
    await writeFile(join(models, 'broken-onnx', 'model.onnx'), 'not an onnx graph');
    const port = await freePort();
    base = `http://127.0.0.1:${port}`;
    env = {
      QUEUE_MODE: 'redis',
      REDIS_URL: redis.url,
      REDIS_PREFIX: 'faults',
      MODELS_DIR: models,
      UPLOAD_DIR: await tempDir('uploads'),
      FEEDBACK_DIR: await tempDir('feedback'),
      DEFAULT_MODEL: 'tiny-rgb',
      PORT: String(port),
      ORT_THREADS: '1',
    };
  });

  after(async () => {
    await Promise.all(services.map((s) => s.stop()));
    await redis.stop();
  });

  it('an api started while Redis is down listens, is not ready, and refuses predictions at once', async () => {
    const api = start(ENTRY.api);
    await waitFor200(`${base}/healthz`, 20_000, api.logs);
    const ready = await timed(() => fetch(`${base}/readyz`));
    assert.equal(ready.status, 503, ready.body);
    assert.equal(ready.retryAfter, '1');
    for (const url of ['/predict', '/v1/predict']) {
      const r = await timed(() => postFile(`${base}${url}`, image('chelsea.png')));
      assert.equal(r.status, 503, r.body);
      assert.match(r.body, /NOT_READY/);
      assert.equal(r.retryAfter, '1');
      // Generous for a shared 2-core machine: the point is "not the 10 s deadline".
      assert.ok(r.ms < 1000, `refused after ${r.ms} ms`);
    }
    const models = await timed(() => fetch(`${base}/v1/models`));
    assert.equal(models.status, 503, models.body);
    assert.equal((await timed(() => fetch(`${base}/`))).status, 200, 'the upload page still renders');
  });

  it('once Redis and a worker are up, a broken model folder is one model down, shown with its reason', async () => {
    await redis.restart();
    start(ENTRY.worker, { MODELS: 'tiny-rgb,broken-onnx' });
    start(ENTRY.worker, { MODELS: 'tiny-slow', LOG_LEVEL: 'debug' });
    await waitFor200(`${base}/readyz`, 30_000, logsOfAll);
    const until = Date.now() + 20_000;
    let body: { models: { name: string }[]; broken: { name: string; reason: string }[] } = { models: [], broken: [] };
    while (Date.now() < until && !body.models.some((m) => m.name === 'tiny-slow')) {
      body = (await (await fetch(`${base}/v1/models`)).json()) as typeof body;
      await new Promise((r) => setTimeout(r, 100));
    }
    assert.deepEqual(body.models.map((m) => m.name), ['tiny-rgb', 'tiny-slow']);
    assert.equal(body.broken.length, 1, JSON.stringify(body));
    assert.equal(body.broken[0]!.name, 'broken-onnx');
    assert.match(body.broken[0]!.reason, /ONNX Runtime cannot load/);
    // Where the server keeps its models is not the client's business: paths are relative to MODELS_DIR.
    assert.ok(!body.broken[0]!.reason.includes(env.MODELS_DIR!), body.broken[0]!.reason);
    assert.match(body.broken[0]!.reason, /broken-onnx\/model\.onnx/);
    assert.equal((await postFile(`${base}/predict`, image('coffee.png'))).status, 200);
  });

  it('a Redis restart mid-job loses nothing; meanwhile requests get 503 at once; readiness returns with Redis', async (t) => {
    const slowWorker = services[2]!;
    const inFlight = timed(() => postFile(`${base}/v1/predict?model=tiny-slow`, image('astronaut.png')));
    await slowWorker.waitForLog(/"msg":"job started"/);
    await redis.kill();
    const during = await timed(() => postFile(`${base}/predict`, image('chelsea.png')));
    assert.equal(during.status, 503, during.body);
    assert.match(during.body, /NOT_READY/);
    assert.ok(during.ms < 1000, `refused after ${during.ms} ms while Redis was down`);
    const readyDuring = await timed(() => fetch(`${base}/readyz`));
    assert.equal(readyDuring.status, 503);
    assert.ok(readyDuring.ms < 1000, `/readyz took ${readyDuring.ms} ms while Redis was down`);
    await new Promise((r) => setTimeout(r, 1000));
    await redis.restart();
    const back = Date.now();
    // No NOT_READY window while the workers are alive: ready as soon as the api has reconnected.
    await waitFor200(`${base}/readyz`, 5000, logsOfAll);
    const readyAfterMs = Date.now() - back;
    const answer = await inFlight;
    assert.equal(answer.status, 200, `${answer.body}\n${logsOfAll()}`);
    t.diagnostic(`503 while Redis was down after ${during.ms} ms; ready ${readyAfterMs} ms after it came back; the in-flight job answered after ${answer.ms} ms`);
    assert.ok(readyAfterMs < 2000, `ready ${readyAfterMs} ms after Redis came back`);
    assert.equal((await postFile(`${base}/predict`, image('coffee.png'))).status, 200);
  });
});
