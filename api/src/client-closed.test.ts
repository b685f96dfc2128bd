/**
 * A client that ends its connection in the middle of an upload has not sent a malformed request: it is
 * counted once, as 499 CLIENT_CLOSED, and not also as a 400 MALFORMED_BODY from Node's parser (which is
 * what an operator would read as broken clients). A real socket, so the parser really sees the end.
 */
import assert from 'node:assert/strict';
import { connect, type AddressInfo } from 'node:net';
import { after, before, it } from 'node:test';
import { loadConfig } from '@icls/lib/config';
import type { JobData, JobResult } from '@icls/lib/job-contract';
import { createLogger } from '@icls/lib/logger';
import { MemoryQueue } from '@icls/lib/queue/memory-queue';
import { tempDir } from '../../tests/helpers/fixtures.ts';
import { buildApp, type BuiltApi } from './app.ts';

let built: BuiltApi;
let queue: MemoryQueue;
let port: number;

before(async () => {
  const config = loadConfig({ UPLOAD_DIR: await tempDir('uploads'), FEEDBACK_DIR: await tempDir('feedback'), LOG_LEVEL: 'silent' });
  const log = createLogger('silent', 'test');
  const handler = async (job: JobData): Promise<JobResult> => ({ id: job.id, model: job.model, modelVersion: '1', predictions: [{ label: 'x', score: 1 }], worker: 'stand-in', timings: { queueMs: 0, preprocessMs: 0, inferenceMs: 0 } });
  queue = new MemoryQueue({ maxWaiting: 4, concurrency: 1, models: ['m'], handler, log });
  await queue.start();
  built = await buildApp(config, queue, log);
  await built.app.listen({ port: 0, host: '127.0.0.1' });
  port = (built.app.server.address() as AddressInfo).port;
});

after(async () => {
  await built.app.close();
  await queue.close();
});

const metric = (text: string, pattern: RegExp) => Number(pattern.exec(text)?.[1] ?? 0);

it('an upload the client abandons half way counts once, as 499, not also as a parser 400', { timeout: 10_000 }, async () => {
  const socket = connect(port, '127.0.0.1');
  socket.resume(); // whatever comes back is read, so the socket can close
  await new Promise((r) => socket.once('connect', r));
  socket.write('POST /v1/predict HTTP/1.1\r\nHost: x\r\nContent-Type: image/png\r\nContent-Length: 100000\r\n\r\n');
  socket.write(Buffer.alloc(20_000));
  await new Promise((r) => setTimeout(r, 200));
  socket.end();
  await new Promise((r) => socket.once('close', r));
  await new Promise((r) => setTimeout(r, 200));
  const metrics = await (await fetch(`http://127.0.0.1:${port}/metrics`)).text();
  assert.equal(metric(metrics, /icls_http_requests_total\{[^}]*route="\/v1\/predict"[^}]*status="499"[^}]*\} (\d+)/), 1, metrics.split('\n').filter((l) => l.startsWith('icls_http_requests_total')).join('\n'));
  assert.equal(metric(metrics, /icls_http_requests_total\{[^}]*route="unparsed"[^}]*\} (\d+)/), 0, 'no phantom 400 from the parser');
});
