/**
 * A model that fails at run time: the client is told the model failed on its image, in the table's words
 * only (ONNX Runtime's own message names graph nodes and indices: internals), on /v1/predict, /predict and
 * the page; the detail stays in the log. The worker is a stand-in that fails as ONNX Runtime does (the
 * real failure is produced in model/src/engine/onnx-errors.test.ts).
 */
import assert from 'node:assert/strict';
import { after, before, it } from 'node:test';
import { loadConfig } from '@icls/lib/config';
import { createLogger } from '@icls/lib/logger';
import { MemoryQueue } from '@icls/lib/queue/memory-queue';
import { solidPng, tempDir } from '../../tests/helpers/fixtures.ts';
import { buildApp, type BuiltApi } from './app.ts';

const ORT_MESSAGE = "Non-zero status code returned while running Gather node. Name:'Gather_0' Status Message: indices element out of data bounds";
let built: BuiltApi;
let queue: MemoryQueue;

before(async () => {
  const config = loadConfig({ UPLOAD_DIR: await tempDir('uploads'), FEEDBACK_DIR: await tempDir('feedback'), LOG_LEVEL: 'silent' });
  const log = createLogger('silent', 'test');
  queue = new MemoryQueue({ maxWaiting: 4, concurrency: 1, models: ['m'], handler: async () => Promise.reject(new Error(ORT_MESSAGE)), log });
  await queue.start();
  built = await buildApp(config, queue, log);
});

after(async () => {
  await built.app.close();
  await queue.close();
});

const post = async (url: string, headers: Record<string, string> = {}) =>
  built.app.inject({ method: 'POST', url, payload: await solidPng([200, 10, 10]), headers: { 'content-type': 'image/png', ...headers } });

it('a failed run is a 500 PREDICTION_FAILED in the table\'s words, without ONNX Runtime\'s message', async () => {
  const v1 = await post('/v1/predict');
  assert.equal(v1.statusCode, 500);
  assert.deepEqual(v1.json(), { success: false, error: { code: 'PREDICTION_FAILED', message: 'The model failed on this image' } });
  const original = await post('/predict');
  assert.equal(original.statusCode, 500);
  assert.deepEqual(original.json(), { success: false, prediction: null, score: null, error: { code: 'PREDICTION_FAILED', message: 'The model failed on this image' } });
  const page = await post('/', { accept: 'text/html', 'sec-fetch-site': 'same-origin' });
  assert.equal(page.statusCode, 500);
  assert.match(page.body, /The model failed on this image/);
  assert.doesNotMatch(page.body, /Gather|Status Message/);
});
