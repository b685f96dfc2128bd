/**
 * Shutdown never waits for good on a connection: once the drain period is over, requests get a
 * prediction's deadline to finish, then what is still open is cut. Real sockets: an upload whose
 * body stops arriving holds its connection (until BODY_IDLE_TIMEOUT_MS, 15 s by default).
 */
import assert from 'node:assert/strict';
import { connect } from 'node:net';
import { after, it } from 'node:test';
import { startInjectApi, type InjectApi } from '../test/inject-app.ts';
import { httpShutdownSteps } from './server.ts';

const apis: InjectApi[] = [];
after(() => Promise.all(apis.map((a) => a.close())));

it('a connection still open after the drain period is cut once the close deadline passes', { timeout: 10_000 }, async () => {
  const api = await startInjectApi();
  apis.push(api);
  await api.app.listen({ port: 0, host: '127.0.0.1' });
  const { port } = api.app.server.address() as { port: number };
  const socket = connect(port, '127.0.0.1');
  await new Promise((r) => socket.once('connect', r));
  const closed = new Promise((r) => socket.once('close', r));
  socket.on('error', () => {}); // the cut shows as a reset on some kernels: the close is what counts
  // A multipart upload that announces 100 kB and sends a few bytes of it: the api waits for the rest.
  const boundary = 'stuck';
  const head = `--${boundary}\r\nContent-Disposition: form-data; name="file"; filename="a.png"\r\nContent-Type: image/png\r\n\r\n\x89PNG`;
  socket.write(`POST /v1/predict HTTP/1.1\r\nHost: x\r\nContent-Type: multipart/form-data; boundary=${boundary}\r\nContent-Length: 100000\r\n\r\n${head}`);
  await new Promise((r) => setTimeout(r, 200));

  const t0 = performance.now();
  for (const [, run] of httpShutdownSteps({ app: api.app, beginShutdown: () => {} }, () => 0, 300)) await run();
  const ms = performance.now() - t0;
  await closed;
  assert.ok(ms >= 250 && ms < 3000, `closed after ${ms.toFixed(0)} ms: the deadline is 300 ms, the body's idle limit 15 s`);
  assert.equal(api.app.server.listening, false);
});
