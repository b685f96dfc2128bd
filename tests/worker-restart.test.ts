/**
 * A model's only worker dies and an orchestrator (compose's `restart:`, Kubernetes) starts another: the
 * api cannot know one is coming, and used to refuse every request with 503 NOT_READY from the moment the
 * dead worker's heartbeat was stale until the new one beat. With WORKER_RESTART_GRACE_MS they are queued
 * for the successor instead (and /readyz stays 200, so a load balancer keeps sending), and refused at once
 * again when none comes within the grace. Real processes
 * (the api and workers as they ship), real Redis with a prefix of its own, no supervisor.
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { request } from 'node:http';
import { after, before, describe, it } from 'node:test';
import { fixtureModels, solidPng, tempDir } from './helpers/fixtures.ts';
import { postFile, waitFor200 } from './helpers/http.ts';
import { deleteRedisPrefix, ENTRY, freePort, REDIS_URL, startService, type Service } from './helpers/processes.ts';

/** What `/v1/predict` answered, and how long it took; settles once the answer is read. */
async function predict(base: string, rgb: [number, number, number]) {
  const t0 = Date.now();
  const r = await postFile(`${base}/v1/predict`, await solidPng(rgb), { filename: 'solid.png', contentType: 'image/png' });
  const body = (await r.json()) as { worker?: string; error?: { code: string; message: string } };
  return { status: r.status, ms: Date.now() - t0, body };
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe('the only worker restarted by an orchestrator', () => {
  const services: Service[] = [];
  const prefix = `test-${randomBytes(4).toString('hex')}`;
  const GRACE_MS = 4000;
  let env: Record<string, string>;
  /** An api with the grace, and one with it off: the same Redis, workers and moments. */
  let graceful: string;
  let strict: string;
  const logsOfAll = () => services.map((s, i) => `--- process ${i} ---\n${s.logs().slice(-3000)}`).join('\n');
  const start = (entry: string, extra: Record<string, string> = {}) => {
    const s = startService(entry, { ...env, ...extra });
    services.push(s);
    return s;
  };
  const startWorker = async () => {
    const w = start(ENTRY.worker);
    await w.waitForLog(/worker ready/);
    return w;
  };

  before(async () => {
    env = {
      QUEUE_MODE: 'redis',
      REDIS_URL,
      REDIS_PREFIX: prefix,
      MODELS_DIR: await fixtureModels(['tiny-rgb']),
      UPLOAD_DIR: await tempDir('uploads'),
      FEEDBACK_DIR: await tempDir('feedback'),
      DEFAULT_MODEL: 'tiny-rgb',
      ORT_THREADS: '1',
      // The dead worker's beat is stale after 0.3 s, long before a successor could be ready.
      WORKER_DEAD_AFTER_MS: '300',
    };
    const [p1, p2] = [await freePort(), await freePort()];
    graceful = `http://127.0.0.1:${p1}`;
    strict = `http://127.0.0.1:${p2}`;
    start(ENTRY.api, { PORT: String(p1), WORKER_RESTART_GRACE_MS: String(GRACE_MS) });
    start(ENTRY.api, { PORT: String(p2), WORKER_RESTART_GRACE_MS: '0' });
    await startWorker();
    await waitFor200(`${graceful}/readyz`, 20_000, logsOfAll);
    await waitFor200(`${strict}/readyz`, 20_000, logsOfAll);
  });

  after(async () => {
    await Promise.all(services.map((s) => s.stop()));
    await deleteRedisPrefix(prefix);
  });

  it('a request sent while no worker is alive is answered by the successor; with the grace off it gets 503 at once', async () => {
    const first = await predict(graceful, [10, 20, 30]);
    assert.equal(first.status, 200, JSON.stringify(first.body));
    assert.equal((await predict(strict, [10, 20, 31])).status, 200);
    services.at(-1)!.proc.kill('SIGKILL');
    await sleep(800); // the beat is stale, and both apis' views (kept 250 ms) say so
    assert.equal((await fetch(`${strict}/readyz`)).status, 503, 'no live worker, and none awaited');
    // Polled briefly: a 503 for another reason (a slow Redis ping on a loaded CI machine) is not what is tested.
    let awaiting = await fetch(`${graceful}/readyz`);
    let readiness = (await awaiting.json()) as { workers: number; reason?: string };
    for (let i = 0; i < 10 && awaiting.status !== 200; i++) {
      await sleep(200);
      awaiting = await fetch(`${graceful}/readyz`);
      readiness = (await awaiting.json()) as { workers: number; reason?: string };
    }
    assert.equal(awaiting.status, 200, `ready: requests are queued for the restarted worker (${JSON.stringify(readiness)})\n${logsOfAll()}`);
    assert.equal(readiness.workers, 0, 'no live worker right now');
    assert.match(readiness.reason ?? '', /queued for the worker being restarted/);

    const refused = await predict(strict, [40, 50, 60]);
    assert.equal(refused.status, 503, JSON.stringify(refused.body));
    assert.equal(refused.body.error?.code, 'NOT_READY');
    assert.ok(refused.ms < 2000, `refused at once, not after ${refused.ms} ms`);

    let settled = false;
    const waiting = predict(graceful, [70, 80, 90]).finally(() => (settled = true));
    await sleep(500);
    assert.equal(settled, false, `the graceful api refused too:\n${logsOfAll()}`);
    await startWorker();
    const answered = await waiting;
    assert.equal(answered.status, 200, JSON.stringify(answered.body));
    assert.notEqual(answered.body.worker, first.body.worker, 'answered by the successor');
  });

  it('an api that had no request for longer than the grace still queues for the successor', async () => {
    assert.equal((await predict(graceful, [7, 8, 9])).status, 200, 'the successor serves');
    await sleep(GRACE_MS + 500); // idle: the grace used to count from this api's last request
    services.at(-1)!.proc.kill('SIGKILL');
    await sleep(800);
    let settled = false;
    const waiting = predict(graceful, [11, 12, 13]).finally(() => (settled = true));
    await sleep(500);
    assert.equal(settled, false, `refused at once after an idle spell:\n${logsOfAll()}`);
    await startWorker();
    const answered = await waiting;
    assert.equal(answered.status, 200, JSON.stringify(answered.body));
  });

  it('when no worker comes back within the grace, requests are refused at once again', async () => {
    assert.equal((await predict(graceful, [1, 2, 3])).status, 200, 'the successor serves');
    services.at(-1)!.proc.kill('SIGKILL');
    await sleep(300 + GRACE_MS + 800);
    assert.equal((await fetch(`${graceful}/readyz`)).status, 503, 'not ready once the grace is over');
    const refused = await predict(graceful, [4, 5, 6]);
    assert.equal(refused.status, 503, JSON.stringify(refused.body));
    assert.equal(refused.body.error?.code, 'NOT_READY');
    assert.ok(refused.ms < 2000, `refused at once, not after ${refused.ms} ms`);
    // No model has a worker, so nothing the body could name is served: refused before the upload is read.
    const early = await expectContinue(`${graceful}/v1/predict`);
    assert.deepEqual(early, { status: 503, askedForBody: false });
    // Naming the model changes nothing: with no worker at all, the api cannot call it unknown (a 404 is not retried).
    const named = await expectContinue(`${graceful}/v1/predict?model=tiny-rgb`);
    assert.deepEqual(named, { status: 503, askedForBody: false });
  });
});

/** A POST that announces `Expect: 100-continue`: its status, and whether the api asked for the body first. */
function expectContinue(url: string): Promise<{ status: number; askedForBody: boolean }> {
  return new Promise((resolve, reject) => {
    let askedForBody = false;
    const req = request(url, { method: 'POST', headers: { 'content-type': 'image/png', 'content-length': '100000', expect: '100-continue' }, timeout: 10_000 });
    req.on('continue', () => {
      askedForBody = true;
      req.end(Buffer.alloc(100_000));
    });
    req.on('response', (res) => {
      res.resume();
      resolve({ status: res.statusCode ?? 0, askedForBody });
      req.destroy();
    });
    req.on('timeout', () => req.destroy(new Error('no answer within 10 s')));
    req.on('error', reject);
    req.flushHeaders();
  });
}
