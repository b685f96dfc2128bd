/**
 * A client that ends its connection in the middle of an upload has not sent a malformed request: it is
 * counted once, as 499 CLIENT_CLOSED, and not also as a 400 MALFORMED_BODY from Node's parser (which is
 * what an operator would read as broken clients). A real socket, so the parser really sees the end.
 */
import assert from 'node:assert/strict';
import { connect } from 'node:net';
import { after, before, it } from 'node:test';
import { startStandInApi, type StandInApi } from '../test/stand-in-api.ts';

let api: StandInApi;
let port: number;

before(async () => {
  api = await startStandInApi({});
  port = api.port;
});

after(() => api.close());

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
