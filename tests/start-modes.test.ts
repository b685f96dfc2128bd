/**
 * `npm start` end to end: embedded mode (one process, in-process queue) and the automatic choice of
 * Redis mode when a Redis answers, through the real entry point.
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { after, describe, it } from 'node:test';
import { redisAnswers } from '@icls/lib/redis-probe';
import { expectedTinyRgb, fixtureModels, image, tempDir } from './helpers/fixtures.ts';
import { postFile, waitFor200 } from './helpers/http.ts';
import { deleteRedisPrefix, ENTRY, freePort, REDIS_URL, startService, type Service } from './helpers/processes.ts';

describe('npm start', () => {
  const services: Service[] = [];
  const prefix = `test-${randomBytes(4).toString('hex')}`;
  after(async () => {
    await Promise.all(services.map((s) => s.stop()));
    await deleteRedisPrefix(prefix);
  });

  async function startWith(extra: Record<string, string>) {
    const port = await freePort();
    const s = startService(ENTRY.start, {
      MODELS_DIR: await fixtureModels(['tiny-rgb']),
      UPLOAD_DIR: await tempDir('uploads'),
      FEEDBACK_DIR: await tempDir('feedback'),
      PORT: String(port),
      ...extra,
    });
    services.push(s);
    await waitFor200(`http://127.0.0.1:${port}/readyz`, 30_000, s.logs);
    return { s, base: `http://127.0.0.1:${port}` };
  }

  it('embedded mode: api and model in one process, says so, and answers /predict', async () => {
    const { s, base } = await startWith({ QUEUE_MODE: 'embedded' });
    assert.match(s.logs(), /embedded mode/);
    const expected = await expectedTinyRgb(image('coffee.png'));
    const r = await postFile(`${base}/predict`, image('coffee.png'));
    assert.deepEqual(await r.json(), { success: true, prediction: expected.label, score: expected.score });
    // SIGTERM drains and exits cleanly.
    await s.stop('SIGTERM');
    assert.equal(s.proc.exitCode, 0, s.logs());
  });

  it('auto mode picks Redis when one answers on localhost, and runs a worker process', async () => {
    assert.ok(await redisAnswers(REDIS_URL, 1000), `Redis must answer at ${REDIS_URL}`);
    const { s, base } = await startWith({ QUEUE_MODE: 'auto', REDIS_URL: '', REDIS_PREFIX: prefix });
    assert.match(s.logs(), /redis mode/);
    const r = await postFile(`${base}/v1/predict`, image('chelsea.png'));
    const body = (await r.json()) as { worker: string };
    assert.equal(r.status, 200);
    assert.doesNotMatch(body.worker, new RegExp(`-${s.proc.pid}-`), 'answered by a separate worker process');
  });

  it('the Redis probe says no, quickly, when nothing listens', async () => {
    const port = await freePort();
    const timeoutMs = 300;
    const t0 = Date.now();
    assert.equal(await redisAnswers(`redis://127.0.0.1:${port}`, timeoutMs), false);
    // Relative to its own timeout: it gives up by then (a refused connection answers sooner still).
    assert.ok(Date.now() - t0 < 3 * timeoutMs, `took ${Date.now() - t0} ms with a ${timeoutMs} ms timeout`);
  });
});
