/**
 * Closing: a request that arrives on a kept-alive connection after the listener closed gets 503
 * NOT_READY from the error table (code, message, Retry-After), not the framework's bare 503.
 * A real socket, so the second request really rides the first one's connection.
 */
import assert from 'node:assert/strict';
import { connect, type AddressInfo } from 'node:net';
import { it } from 'node:test';
import { loadConfig } from '@icls/lib/config';
import type { JobData, JobResult } from '@icls/lib/job-contract';
import { createLogger } from '@icls/lib/logger';
import { MemoryQueue } from '@icls/lib/queue/memory-queue';
import { solidPng, tempDir } from '../../tests/helpers/fixtures.ts';
import { buildApp } from './app.ts';

/** An api whose queue's worker is a stand-in that answers when the test says so (the model is not under test). */
async function startApi() {
  const config = loadConfig({ UPLOAD_DIR: await tempDir('uploads'), FEEDBACK_DIR: await tempDir('feedback'), LOG_LEVEL: 'silent' });
  const log = createLogger('silent', 'test');
  let release: () => void = () => undefined;
  const handler = (job: JobData) =>
    new Promise<JobResult>((resolve) => {
      const result = { id: job.id, model: job.model, modelVersion: '1', predictions: [{ label: 'x', score: 1 }], worker: 'stand-in' };
      release = () => resolve({ ...result, timings: { queueMs: 0, preprocessMs: 0, inferenceMs: 0 } });
    });
  const queue = new MemoryQueue({ maxWaiting: 4, concurrency: 1, models: ['m'], handler, log });
  await queue.start();
  const built = await buildApp(config, queue, log);
  await built.app.listen({ port: 0, host: '127.0.0.1' });
  return { built, queue, release: () => release(), port: (built.app.server.address() as AddressInfo).port };
}

const png = await solidPng([255, 0, 0]);
const predictRequest = (url: string) => `POST ${url} HTTP/1.1\r\nHost: x\r\nContent-Type: image/png\r\nContent-Length: ${png.length}\r\n\r\n`;

const cases = [
  { second: 'GET /healthz', head: 'GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n', body: false, shape: {} },
  // The original contract's route keeps its three keys even then.
  { second: 'POST /predict', head: predictRequest('/predict'), body: true, shape: { prediction: null, score: null } },
];

for (const c of cases) {
  it(`${c.second} on a kept-alive connection after close gets NOT_READY with Retry-After from the error table`, async () => {
    const api = await startApi();
    const socket = connect(api.port, '127.0.0.1');
    let received = '';
    socket.on('data', (d: Buffer) => (received += d.toString()));
    const socketClosed = new Promise((resolve) => socket.on('close', resolve));
    // A prediction held in flight keeps the connection open while the api closes; a second request then arrives on it.
    socket.write(predictRequest('/v1/predict'));
    socket.write(png);
    await new Promise((r) => setTimeout(r, 200));
    api.built.beginShutdown();
    const closing = api.built.app.close();
    socket.write(c.head);
    if (c.body) socket.write(png);
    await new Promise((r) => setTimeout(r, 100));
    api.release();
    await closing;
    await socketClosed;
    await api.queue.close();
    const responses = received.split(/(?=HTTP\/1\.1 )/);
    assert.equal(responses.length, 2, received);
    assert.match(responses[0]!, /^HTTP\/1\.1 200/, 'the request in flight is answered');
    assert.match(responses[1]!, /^HTTP\/1\.1 503/, responses[1]);
    assert.match(responses[1]!, /retry-after: 1/i);
    const body = JSON.parse(responses[1]!.split('\r\n\r\n')[1]!) as Record<string, unknown>;
    assert.deepEqual(body, { success: false, ...c.shape, error: { code: 'NOT_READY', message: 'The service cannot take this request now: the api is shutting down' } });
  });
}
