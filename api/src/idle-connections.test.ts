/**
 * Kept-alive connections left idle cannot hold MAX_CONNECTIONS: near the bound, the idle ones are closed
 * to make room, while a connection whose request is still running, or that has not sent one yet, is kept.
 * Real sockets on a real listening api.
 */
import assert from 'node:assert/strict';
import { connect, type Socket } from 'node:net';
import { after, before, it } from 'node:test';
import { UNSTARTED_GRACE_MS } from './http/idle-reclaim.ts';
import { startStandInApi, type StandInApi } from '../test/stand-in-api.ts';

const MAX = 8;
let api: StandInApi;
let port: number;

before(async () => {
  api = await startStandInApi({ MAX_CONNECTIONS: String(MAX) });
  port = api.port;
});

after(() => api.close());

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

it('idle kept-alive connections near MAX_CONNECTIONS are closed; a newcomer is served; a silent new one and an upload arriving are kept', { timeout: 20_000 }, async () => {
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
  // The 7th connection reaches 7/8 of 8: the five idle ones make room; one whose upload is arriving stays.
  const uploading = await open();
  uploading.socket.write('POST /v1/predict HTTP/1.1\r\nHost: x\r\nContent-Type: image/png\r\nContent-Length: 1000\r\n\r\n');
  uploading.socket.write(Buffer.from('89504e470d0a1a0a', 'hex'));
  await until('the idle ones closed', () => idle.every((c) => c.closed));
  assert.equal(silent.closed, false, 'a connection that has not sent its request yet is not an idle one');
  await new Promise((r) => setTimeout(r, 100));
  assert.equal(uploading.closed, false, 'a request in flight is not idle');
  const newcomer = await open();
  newcomer.socket.write('GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n');
  await until('the newcomer answered', () => newcomer.closed);
  assert.match(newcomer.received, /^HTTP\/1\.1 200 /);
  // And there is room again for many more.
  const more = await Promise.all(Array.from({ length: 5 }, () => fetch(`http://127.0.0.1:${port}/healthz`).then((r) => r.status)));
  assert.deepEqual(more, [200, 200, 200, 200, 200]);
  silent.socket.destroy();
  uploading.socket.destroy();
});

it('a pool opened all at once near the bound: each connection is closed once answered, and a newcomer gets in', { timeout: 20_000 }, async () => {
  const pool: Conn[] = [];
  for (let i = 0; i < 7; i++) pool.push(await open()); // 7/8 of 8, none idle yet
  for (const c of pool) c.socket.write('GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n');
  await until('every one answered, then closed', () => pool.every((c) => c.closed));
  assert.ok(pool.every((c) => /^HTTP\/1\.1 200 /.test(c.received)), 'each got its answer first');
  const newcomer = await open();
  newcomer.socket.write('GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n');
  await until('the newcomer answered', () => newcomer.closed);
  assert.match(newcomer.received, /^HTTP\/1\.1 200 /);
});

it('a kept-alive connection whose next request has begun to arrive is not idle', { timeout: 20_000 }, async () => {
  const idle: Conn[] = [];
  for (let i = 0; i < 5; i++) {
    const c = await open();
    c.socket.write('GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n');
    await until('answered', () => c.received.includes('\r\n\r\n'));
    idle.push(c);
  }
  const [arriving, ...rest] = idle;
  arriving!.received = '';
  arriving!.socket.write('GET /healthz HTTP/1.1\r\nHost: x\r\n'); // the blank line still to come
  await new Promise((r) => setTimeout(r, 100));
  const more = [await open(), await open()]; // the 7th reaches 7/8
  await until('the idle ones closed', () => rest.every((c) => c.closed));
  assert.equal(arriving!.closed, false, 'its request is arriving');
  arriving!.socket.write('\r\n');
  await until('its request answered', () => arriving!.received.includes('\r\n\r\n'));
  assert.match(arriving!.received, /^HTTP\/1\.1 200 /);
  for (const c of [arriving!, ...more]) c.socket.destroy();
});

it('connections that begin no request hold the bound no longer than UNSTARTED_GRACE_MS: a newcomer gets in, long before HEADERS_TIMEOUT_MS', { timeout: 20_000 }, async () => {
  const holders: Conn[] = [];
  for (let i = 0; i < MAX; i++) holders.push(await open());
  // One sends a byte now and then: a request begun in name only holds its place as well as silence.
  holders[0]!.socket.write('G');
  const start = Date.now();
  await new Promise((r) => setTimeout(r, UNSTARTED_GRACE_MS + 100));
  assert.ok(holders.every((c) => !c.closed), 'not closed before the grace');
  // The bound is full: the first try is refused by Node (which makes room), a retry gets in.
  let status: number | undefined;
  for (let attempt = 0; attempt < 5 && status === undefined; attempt++) {
    status = await fetch(`http://127.0.0.1:${port}/healthz`).then(
      (r) => r.status,
      () => undefined,
    );
  }
  assert.equal(status, 200);
  const waited = Date.now() - start;
  assert.ok(waited < 5000, `in after ${waited} ms (HEADERS_TIMEOUT_MS is 10 s)`);
  await until('the holders closed', () => holders.every((c) => c.closed));
});
