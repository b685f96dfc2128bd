/**
 * A model named in the form, after the file (as the page's form and `curl -F file=@… -F model=…` send
 * it), is admitted against its own queue: a full queue of the default model refuses only the requests
 * that are for it. Before, the admission (made before the body is read) counted every such request
 * against the default model and refused it with "the queue for model <default> is full".
 */
import assert from 'node:assert/strict';
import type { AddressInfo } from 'node:net';
import { after, before, it } from 'node:test';
import { loadConfig } from '@icls/lib/config';
import type { JobData, JobResult } from '@icls/lib/job-contract';
import { createLogger } from '@icls/lib/logger';
import { MemoryQueue } from '@icls/lib/queue/memory-queue';
import { solidPng, tempDir } from '../../tests/helpers/fixtures.ts';
import { buildApp, type BuiltApi } from './app.ts';

const png = await solidPng([0, 128, 255]);
const held: { model: string; answer: () => void }[] = [];
let api: BuiltApi;
let queue: MemoryQueue;
let base: string;

before(async () => {
  const config = loadConfig({ UPLOAD_DIR: await tempDir('uploads'), FEEDBACK_DIR: await tempDir('feedback'), DEFAULT_MODEL: 'm', LOG_LEVEL: 'silent' });
  const log = createLogger('silent', 'test');
  // The model is not under test: a stand-in answers each job when the test says so.
  const handler = (job: JobData) =>
    new Promise<JobResult>((resolve) =>
      held.push({
        model: job.model,
        answer: () => resolve({ id: job.id, model: job.model, modelVersion: '1', predictions: [{ label: job.model, score: 1 }], worker: 'stand-in', timings: { queueMs: 0, preprocessMs: 0, inferenceMs: 0 } }),
      }),
    );
  // One job per model at most: one running job fills a model's queue.
  queue = new MemoryQueue({ maxWaiting: 1, concurrency: 2, models: ['m', 'n'], handler, log });
  await queue.start();
  api = await buildApp(config, queue, log);
  await api.app.listen({ port: 0, host: '127.0.0.1' });
  base = `http://127.0.0.1:${(api.app.server.address() as AddressInfo).port}`;
});
after(async () => {
  // A failed test may leave jobs waiting for their answer.
  for (const h of held.splice(0)) h.answer();
  await api.app.close();
  await queue.close();
});

/** A multipart form with the file first, then the fields. */
function form(fields: Record<string, string>): FormData {
  const f = new FormData();
  f.set('file', new Blob([new Uint8Array(png)], { type: 'image/png' }), 'solid.png');
  for (const [k, v] of Object.entries(fields)) f.set(k, v);
  return f;
}

const post = (path: string, body: FormData | Buffer, headers: Record<string, string> = {}) =>
  fetch(`${base}${path}`, { method: 'POST', body: body instanceof FormData ? body : new Uint8Array(body), headers, redirect: 'manual', signal: AbortSignal.timeout(10_000) });

async function untilHeld(model: string): Promise<() => void> {
  const until = Date.now() + 5000;
  for (;;) {
    const i = held.findIndex((h) => h.model === model);
    if (i >= 0) return held.splice(i, 1)[0]!.answer;
    assert.ok(Date.now() < until, `no job for ${model} within 5 s`);
    await new Promise((r) => setTimeout(r, 5));
  }
}

it('with the default model\'s queue full, a form naming another model after its file is answered by that model', async () => {
  // The default model's one place is taken by a running job.
  const running = post('/v1/predict', form({}));
  const answerRunning = await untilHeld('m');

  const other = post('/v1/predict', form({ model: 'n' }));
  (await untilHeld('n'))();
  const answered = await other;
  assert.equal(answered.status, 200, await answered.clone().text());
  assert.equal(((await answered.json()) as { model: { name: string } }).model.name, 'n');

  // The original's /predict and the page take the form's model the same way.
  const original = post('/predict', form({ model: 'n' }));
  (await untilHeld('n'))();
  assert.deepEqual(await (await original).json(), { success: true, prediction: 'n', score: 1 });

  // Requests for the default model itself are still refused: no model named, the default named in
  // the form, or a raw body (refused before it is read).
  for (const [what, body, headers] of [
    ['no model', form({}), {}],
    ['the default named in the form', form({ model: 'm' }), {}],
    ['a raw body', png, { 'content-type': 'image/png' }],
  ] as const) {
    const refused = await post('/v1/predict', body, headers);
    assert.equal(refused.status, 503, what);
    const error = ((await refused.json()) as { error: { code: string; message: string } }).error;
    assert.equal(error.code, 'QUEUE_FULL', what);
    assert.match(error.message, /model m is full/, what);
  }

  answerRunning();
  assert.equal((await running).status, 200);
});

it('a form naming a model whose own queue is full is refused for that model', async () => {
  const running = post('/v1/predict', form({ model: 'n' }));
  const answerRunning = await untilHeld('n');
  const blockDefault = post('/v1/predict', form({}));
  const answerDefault = await untilHeld('m');

  const refused = await post('/v1/predict', form({ model: 'n' }));
  assert.equal(refused.status, 503);
  assert.match(((await refused.json()) as { error: { message: string } }).error.message, /model n is full/);

  answerRunning();
  answerDefault();
  assert.equal((await running).status, 200);
  assert.equal((await blockDefault).status, 200);
});
