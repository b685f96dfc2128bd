/**
 * `Expect: 100-continue` (curl's way with uploads over 1 MiB): an upload is told to send its body
 * only once it is admitted, so a refused one is answered after its headers and never sent; every
 * other request is told to continue before its body is read. Real sockets: the point is what goes
 * over the wire, and when.
 */
import assert from 'node:assert/strict';
import { connect, type AddressInfo, type Socket } from 'node:net';
import { after, before, it } from 'node:test';
import { loadConfig } from '@icls/lib/config';
import type { JobData, JobResult } from '@icls/lib/job-contract';
import { createLogger } from '@icls/lib/logger';
import { MemoryQueue } from '@icls/lib/queue/memory-queue';
import { solidPng, tempDir } from '../../tests/helpers/fixtures.ts';
import { buildApp, type BuiltApi } from './app.ts';

const png = await solidPng([0, 128, 255]);
const held: (() => void)[] = [];
let api: BuiltApi;
let limited: BuiltApi;
let queue: MemoryQueue;
let port: number;
let limitedPort: number;

before(async () => {
  const config = loadConfig({ UPLOAD_DIR: await tempDir('uploads'), FEEDBACK_DIR: await tempDir('feedback'), LOG_LEVEL: 'silent' });
  const log = createLogger('silent', 'test');
  // The model is not under test: a stand-in answers each job when the test says so.
  const handler = (job: JobData) =>
    new Promise<JobResult>((resolve) =>
      held.push(() => resolve({ id: job.id, model: job.model, modelVersion: '1', predictions: [{ label: 'x', score: 1 }], worker: 'stand-in', timings: { queueMs: 0, preprocessMs: 0, inferenceMs: 0 } })),
    );
  queue = new MemoryQueue({ maxWaiting: 1, concurrency: 1, models: ['m'], handler, log });
  await queue.start();
  api = await buildApp(config, queue, log);
  await api.app.listen({ port: 0, host: '127.0.0.1' });
  port = (api.app.server.address() as AddressInfo).port;
  // The same queue behind an api that lets one request a minute through.
  limited = await buildApp({ ...config, RATE_LIMIT_PER_MINUTE: 1 }, queue, log);
  await limited.app.listen({ port: 0, host: '127.0.0.1' });
  limitedPort = (limited.app.server.address() as AddressInfo).port;
});
after(async () => {
  await api.app.close();
  await limited.app.close();
  await queue.close();
});

/** A connection that sends headers only, and collects what comes back. */
class Exchange {
  readonly socket: Socket;
  received = '';
  private readonly closing: Promise<void>;

  constructor(head: string, to = port, expect = '100-continue') {
    this.socket = connect(to, '127.0.0.1', () => this.socket.write(`${head}\r\nExpect: ${expect}\r\n\r\n`));
    this.socket.on('data', (d: Buffer) => (this.received += d.toString('latin1')));
    this.closing = new Promise((resolve) => this.socket.on('close', () => resolve()));
  }

  /** Resolves once the server closed the connection; fails the test after 3 s. */
  async closed(): Promise<void> {
    let timer: NodeJS.Timeout | undefined;
    const late = new Promise<never>((_resolve, reject) => {
      timer = setTimeout(() => reject(new Error(`the connection stayed open 3 s; got: ${JSON.stringify(this.received)}`)), 3000);
    });
    try {
      await Promise.race([this.closing, late]);
    } finally {
      clearTimeout(timer);
      this.socket.destroy();
    }
  }

  /** Resolves once `pattern` has arrived; fails the test after 3 s. */
  async waitFor(pattern: RegExp): Promise<void> {
    const until = Date.now() + 3000;
    while (!pattern.test(this.received)) {
      assert.ok(Date.now() < until, `waited 3 s for ${pattern}; got: ${JSON.stringify(this.received)}`);
      await new Promise((r) => setTimeout(r, 5));
    }
  }
}

const uploadHead = (url: string) => `POST ${url} HTTP/1.1\r\nHost: x\r\nContent-Type: image/png\r\nContent-Length: ${png.length}`;

async function untilJobs(n: number): Promise<void> {
  while (held.length < n) await new Promise((r) => setTimeout(r, 5));
}

it('an admitted upload is told to continue, sends its body and is answered', async () => {
  const x = new Exchange(uploadHead('/v1/predict'));
  await x.waitFor(/^HTTP\/1\.1 100 Continue\r\n\r\n/);
  x.socket.write(png);
  await untilJobs(1);
  held.shift()!();
  await x.waitFor(/HTTP\/1\.1 200 OK[\s\S]*"predictions"/);
  x.socket.destroy();
});

it('an upload the queue has no room for is refused right after its headers, never told to continue, and the connection closes', async () => {
  // The queue's one place is taken by a request in flight.
  const busy = fetch(`http://127.0.0.1:${port}/v1/predict`, { method: 'POST', headers: { 'content-type': 'image/png' }, body: new Uint8Array(png) });
  await untilJobs(1);
  for (const url of ['/v1/predict', '/predict']) {
    const x = new Exchange(uploadHead(url));
    await x.closed();
    assert.match(x.received, /^HTTP\/1\.1 503 /, `${url}: the refusal is the first thing sent`);
    assert.doesNotMatch(x.received, /100 Continue/);
    assert.match(x.received, /\r\nconnection: close\r\n/i);
    assert.match(x.received, /"QUEUE_FULL"/);
  }
  held.shift()!();
  assert.equal((await busy).status, 200);
});

it('an upload for a model nobody serves is refused before its body is sent', async () => {
  const x = new Exchange(uploadHead('/v1/predict?model=nope'));
  await x.closed();
  assert.match(x.received, /^HTTP\/1\.1 404 /);
  assert.doesNotMatch(x.received, /100 Continue/);
});

it('a request that is not an upload is told to continue before its body is read', async () => {
  const body = JSON.stringify({ report: "{'filename': 'a.png', 'prediction': 'x', 'score': 1 }" });
  const x = new Exchange(`POST /v1/feedback HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: ${body.length}`);
  await x.waitFor(/^HTTP\/1\.1 100 Continue\r\n\r\n/);
  x.socket.write(body);
  await x.waitFor(/HTTP\/1\.1 201 Created[\s\S]*"success":true/);
  assert.doesNotMatch(x.received, /connection: close/i, 'the connection stays usable');
  x.socket.destroy();
});

it('a body over the limit is refused from its declared length, without being asked for', async () => {
  const x = new Exchange(`POST /v1/feedback HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: ${10 * 1024 * 1024}`);
  await x.closed();
  assert.match(x.received, /^HTTP\/1\.1 413 /);
  assert.doesNotMatch(x.received, /100 Continue/);
});

it('an upload over the rate limit is refused (429) before its body is sent', async () => {
  assert.equal((await fetch(`http://127.0.0.1:${limitedPort}/v1/models`)).status, 200, 'the one request of the minute');
  const x = new Exchange(uploadHead('/v1/predict'), limitedPort);
  await x.closed();
  assert.match(x.received, /^HTTP\/1\.1 429 /);
  assert.doesNotMatch(x.received, /100 Continue/);
  assert.match(x.received, /\r\nconnection: close\r\n/i);
});

it('any other expectation is refused with 417 from the error table, in the route\'s style (Node sent a bare 417 with no body)', async () => {
  for (const [url, body] of [
    ['/v1/predict', /^\{"success":false,"error":\{"code":"EXPECTATION_FAILED","message":"The request's Expect header asks for something this server does not do; send it without that header \(only \\"Expect: 100-continue\\" is understood\): it says \\"Expect: 200-ok\\""\}\}$/],
    ['/predict', /^\{"success":false,"prediction":null,"score":null,"error":\{"code":"EXPECTATION_FAILED",/],
  ] as const) {
    const x = new Exchange(uploadHead(url), port, '200-ok');
    await x.closed();
    assert.match(x.received, /^HTTP\/1\.1 417 /, url);
    assert.match(x.received, /\r\nconnection: close\r\n/i);
    assert.doesNotMatch(x.received, /100 Continue/);
    assert.match(x.received.split('\r\n\r\n')[1] ?? '', body, x.received);
  }
});

it('an Expect that lists 100-continue with something else (or two Expect headers) is refused too: Node told it to continue', async () => {
  for (const expect of ['100-continue, foo', '100-continue\r\nExpect: 200-ok']) {
    const x = new Exchange(uploadHead('/v1/predict'), port, expect);
    await x.closed();
    assert.match(x.received, /^HTTP\/1\.1 417 /, expect);
    assert.doesNotMatch(x.received, /100 Continue/);
  }
});
