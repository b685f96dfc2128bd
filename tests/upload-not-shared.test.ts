/**
 * A deployment whose worker does not see the api's UPLOAD_DIR (another host, another volume, path
 * transport): the client is told the service is at fault, not its image (500 UPLOAD_NOT_SHARED, no
 * path or setting in the answer), and the operator reads the fix in the api's log at error level.
 * Real processes and Redis; the upload is over INLINE_IMAGE_BYTES, so the worker reads the file, unless
 * the request is lone: its image then travels inside its job, and the worker checks it sees the file.
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { after, it } from 'node:test';
import { fixtureModels, image, tempDir } from './helpers/fixtures.ts';
import { postFile, waitFor200 } from './helpers/http.ts';
import { deleteRedisPrefix, ENTRY, freePort, REDIS_URL, startService, type Service } from './helpers/processes.ts';

const services: Service[] = [];
const prefix = `test-${randomBytes(4).toString('hex')}`;
after(async () => {
  await Promise.all(services.map((s) => s.stop()));
  await deleteRedisPrefix(prefix);
});

it('a worker that cannot read the stored upload: 500 UPLOAD_NOT_SHARED, the fix in the log; a lone request is answered, and the worker says so', async () => {
  const [port, lonePort] = [await freePort(), await freePort()];
  const env = { QUEUE_MODE: 'redis', REDIS_URL, REDIS_PREFIX: prefix, MODELS_DIR: await fixtureModels(['tiny-rgb']), FEEDBACK_DIR: await tempDir('feedback'), ORT_THREADS: '1', SOLO_ORT_THREADS: '1' };
  // Two apis on one queue: one sends a lone request's image inside its job (the default), one never does.
  const loneApi = startService(ENTRY.api, { ...env, PORT: String(lonePort), UPLOAD_DIR: await tempDir('api-uploads') });
  const api = startService(ENTRY.api, { ...env, PORT: String(port), UPLOAD_DIR: await tempDir('api-uploads'), INLINE_LONE_IMAGE_BYTES: '0' });
  const worker = startService(ENTRY.worker, { ...env, UPLOAD_DIR: await tempDir('worker-uploads') });
  services.push(loneApi, api, worker);
  const base = `http://127.0.0.1:${port}`;
  const loneBase = `http://127.0.0.1:${lonePort}`;
  await waitFor200(`${base}/readyz`, 30_000, () => services.map((s) => s.logs()).join('\n'));
  await waitFor200(`${loneBase}/readyz`, 30_000, () => services.map((s) => s.logs()).join('\n'));

  // Another image than below: the same one would be answered from the result cache.
  const lone = await postFile(`${loneBase}/v1/predict`, image('coffee.png'), { contentType: 'image/png' });
  assert.equal(lone.status, 200, await lone.clone().text());
  assert.ok(((await lone.json()) as { predictions: unknown[] }).predictions.length > 0);
  await worker.waitForLog(/"level":50[^\n]*sent inside its job, is not in the worker's UPLOAD_DIR[^\n]*not in this worker's UPLOAD_DIR/, 5000);

  for (const route of ['/v1/predict', '/predict']) {
    const r = await postFile(`${base}${route}`, image('astronaut.png'), { contentType: 'image/png' });
    assert.equal(r.status, 500, route);
    const body = (await r.json()) as { error: { code: string; message: string } };
    assert.equal(body.error.code, 'UPLOAD_NOT_SHARED', route);
    assert.match(body.error.message, /the image is not at fault/);
    assert.doesNotMatch(body.error.message, /IMAGE_TRANSPORT|\.png/, 'the fix is for the operator: in the log, not the answer');
  }
  // The api's log names the file and both fixes.
  await api.waitForLog(/"level":50[^\n]*UPLOAD_NOT_SHARED[^\n]*give the workers the api's UPLOAD_DIR[^\n]*or set IMAGE_TRANSPORT=bytes/, 5000);
  // The worker's own log said it once for the three jobs (the spot check first): at most a line a minute,
  // whichever way it was found (two ways kept a minute each, and two lines came within seconds).
  await new Promise((r) => setTimeout(r, 500));
  assert.equal(worker.logs().match(/not in this worker's UPLOAD_DIR/g)?.length, 1, worker.logs());
});
