/**
 * Kept-alive connections left idle cannot hold MAX_CONNECTIONS: near the bound, the idle ones are closed
 * to make room, while a connection whose request is still running, or that has not sent one yet, is kept.
 * Real sockets on a real listening api.
 */
import assert from 'node:assert/strict';
import { connect, type AddressInfo, type Socket } from 'node:net';
import { after, before, it } from 'node:test';
import { loadConfig } from '@icls/lib/config';
import type { JobData, JobResult } from '@icls/lib/job-contract';
import { createLogger } from '@icls/lib/logger';
import { MemoryQueue } from '@icls/lib/queue/memory-queue';
import { tempDir } from '../../tests/helpers/fixtures.ts';
import { buildApp, type BuiltApi } from './app.ts';

const MAX = 8;
let built: BuiltApi;
let queue: MemoryQueue;
let port: number;

before(async () => {
  const config = loadConfig({ UPLOAD_DIR: await tempDir('uploads'), FEEDBACK_DIR: await tempDir('feedback'), LOG_LEVEL: 'silent', MAX_CONNECTIONS: String(MAX) });
  const log = createLogger('silent', 'test');
  const handler = async (job: JobData): Promise<JobResult> => ({ id: job.id, model: job.model, modelVersion: '1', predictions: [{ label: 'x', score: 1 }], worker: 'stand-in', timings: { queueMs: 0, preprocessMs: 0, inferenceMs: 0 } });
  queue = new MemoryQueue({ maxWaiting: 4, concurrency: 1, models: ['m'], handler, log });
  await queue.start();
  built = await buildApp(config, queue, log);
  await built.app.listen({ port: 0, host: '127.0.0.1' });
  port = (built.app.server.address() as AddressInfo).port;
});

after(async () => {
  built.app.server.closeAllConnections(); // the test's own sockets, should an assertion have left them open
  await built.app.close();
  await queue.close();
});

interface Conn {
  socket: Socket;
  received: string;
  closed: boolean;
}

async function open(): Promise<Conn> {
  const socket = connect(port, '127.0.0.1');
  const conn: Conn = { socket, received: '', closed: false };
  socket.on('data', (d) => (conn.received += d.toString('latin1')));
  socket.on('error', () => undefined); // a reset shows as `closed`
  socket.on('close', () => (conn.closed = true));
  await new Promise((r) => socket.once('connect', r));
  return conn;
}

async function until(what: string, check: () => boolean, ms = 3000): Promise<void> {
  const end = Date.now() + ms;
  while (!check()) {
    if (Date.now() > end) assert.fail(`not within ${ms} ms: ${what}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

it('idle kept-alive connections near MAX_CONNECTIONS are closed; a newcomer is served; a silent new one is kept', { timeout: 20_000 }, async () => {
  const silent = await open(); // connected, no request yet
  const idle: Conn[] = [];
  for (let i = 0; i < 5; i++) {
    const c = await open();
    c.socket.write('GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n');
    await until('answered', () => c.received.includes('\r\n\r\n'));
    assert.match(c.received, /^HTTP\/1\.1 200 /);
    idle.push(c);
  }
  assert.ok(idle.every((c) => !c.closed), 'below the bound, kept-alive connections stay open');
  // The 7th connection reaches 7/8 of 8: the five idle ones make room.
  const newcomer = await open();
  await until('the idle ones closed', () => idle.every((c) => c.closed));
  assert.equal(silent.closed, false, 'a connection that has not sent its request yet is not an idle one');
  newcomer.socket.write('GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n');
  await until('the newcomer answered', () => newcomer.closed);
  assert.match(newcomer.received, /^HTTP\/1\.1 200 /);
  // And there is room again for many more.
  const more = await Promise.all(Array.from({ length: 5 }, () => fetch(`http://127.0.0.1:${port}/healthz`).then((r) => r.status)));
  assert.deepEqual(more, [200, 200, 200, 200, 200]);
  silent.socket.destroy();
});
