/**
 * A form or JSON body that stops arriving gets the same 408 BODY_TIMEOUT as an upload, in its route's
 * style, then its connection is closed: before, the socket was closed with no answer (and counted as a
 * client that left). And a request cut by REQUEST_RECEIVE_TIMEOUT_MS keeps /predict's three keys.
 * Real sockets, short limits.
 */
import assert from 'node:assert/strict';
import { connect } from 'node:net';
import { after, before, it } from 'node:test';
import { startStandInApi, type StandInApi } from '../test/stand-in-api.ts';

let api: StandInApi;
let port: number;

before(async () => {
  api = await startStandInApi({ BODY_IDLE_TIMEOUT_MS: '300', REQUEST_RECEIVE_TIMEOUT_MS: '1000', HEADERS_TIMEOUT_MS: '500' });
  port = api.port;
});

after(() => api.close());

/** Sends the head and the start of a body, then nothing; resolves with all that came back once the server closes. */
function stall(path: string, contentType: string, start: string, length = 1000): Promise<string> {
  return new Promise((resolve, reject) => {
    const socket = connect(port, '127.0.0.1');
    let received = '';
    const timer = setTimeout(() => {
      socket.destroy();
      reject(new Error(`not closed within 5 s; received: ${received}`));
    }, 5000);
    socket.on('data', (d) => (received += d.toString('utf8')));
    socket.on('error', () => undefined);
    socket.on('close', () => {
      clearTimeout(timer);
      resolve(received);
    });
    socket.write(`POST ${path} HTTP/1.1\r\nHost: x\r\nContent-Type: ${contentType}\r\nContent-Length: ${length}\r\n\r\n${start}`);
  });
}

/**
 * Sends `head`, then a byte every 150 ms (never idle for BODY_IDLE_TIMEOUT_MS) until REQUEST_RECEIVE_TIMEOUT_MS
 * cuts it; resolves with all that came back once the server closes.
 */
function trickle(head: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const socket = connect(port, '127.0.0.1');
    let received = '';
    const drip = setInterval(() => socket.write('x'), 150);
    const timer = setTimeout(() => reject(new Error(`not closed within 6 s; received: ${received}`)), 6000);
    socket.on('data', (d) => (received += d.toString('utf8')));
    socket.on('error', () => undefined);
    socket.on('close', () => {
      clearInterval(drip);
      clearTimeout(timer);
      resolve(received);
    });
    socket.write(head);
  });
}

it('a JSON report that stops arriving: 408 BODY_TIMEOUT as JSON, then the connection is closed', { timeout: 10_000 }, async () => {
  const answer = await stall('/v1/feedback', 'application/json', '{"report": "abc');
  assert.match(answer, /^HTTP\/1\.1 408 /);
  assert.match(answer, /\r\nconnection: close\r\n/i);
  assert.match(answer, /"code":"BODY_TIMEOUT"/);
});

it('the report form that stops arriving: 408 with the page', { timeout: 10_000 }, async () => {
  const answer = await stall('/feedback', 'application/x-www-form-urlencoded', 'report=abc');
  assert.match(answer, /^HTTP\/1\.1 408 /);
  assert.match(answer, /text\/html/);
  assert.match(answer, /The request body stopped arriving/);
});

it('an upload to /predict trickled past REQUEST_RECEIVE_TIMEOUT_MS: 408 with the original\'s three keys', { timeout: 10_000 }, async () => {
  const answer = await trickle('POST /predict HTTP/1.1\r\nHost: x\r\nContent-Type: image/png\r\nContent-Length: 100000\r\n\r\n');
  assert.match(answer, /^HTTP\/1\.1 408 /);
  const body = JSON.parse(answer.slice(answer.indexOf('\r\n\r\n') + 4)) as Record<string, unknown>;
  assert.deepEqual(Object.keys(body), ['success', 'prediction', 'score', 'error']);
  assert.equal((body.error as { code: string }).code, 'REQUEST_TIMEOUT');
  // Counted once, as what the client was told: not also as a client that left (499).
  const metrics = await (await fetch(`http://127.0.0.1:${port}/metrics`)).text();
  const lines = metrics.split('\n').filter((l) => l.startsWith('icls_http_requests_total') && /route="(\/predict|unparsed)"/.test(l));
  assert.deepEqual(
    lines.map((l) => l.replace(/^icls_http_requests_total\{(.*)\} (\d+)$/, '$1 $2')).map((l) => [/route="([^"]*)"/.exec(l)?.[1], /status="(\d+)"/.exec(l)?.[1], l.split(' ').pop()]),
    [['/predict', '408', '1']],
    lines.join('\n'),
  );
});

it('a photo posted from the page (POST /) trickled past REQUEST_RECEIVE_TIMEOUT_MS: 408 with the page, its form and its security headers', { timeout: 10_000 }, async () => {
  const answer = await trickle(
    'POST / HTTP/1.1\r\nHost: x\r\nContent-Type: multipart/form-data; boundary=b\r\nContent-Length: 100000\r\n\r\n' +
      '--b\r\nContent-Disposition: form-data; name="file"; filename="a.png"\r\nContent-Type: image/png\r\n\r\n',
  );
  assert.match(answer, /^HTTP\/1\.1 408 /);
  assert.match(answer, /\r\ncontent-type: text\/html/i);
  assert.match(answer, /\r\ncontent-security-policy: /i, 'the headers the reply had gathered');
  assert.match(answer, /\r\nconnection: close\r\n/i);
  assert.match(answer, /The request did not arrive in time/);
  assert.match(answer, /<form[^>]*enctype="multipart\/form-data"/, 'the form again, to retry');
});

it('a report declared over the limit whose body never comes: one 413, then the connection closes once the body idles (no second, unasked 408)', { timeout: 10_000 }, async () => {
  const answer = await stall('/v1/feedback', 'application/json', '{"report": "', 100_000);
  assert.match(answer, /^HTTP\/1\.1 413 /);
  assert.equal(answer.match(/HTTP\/1\.1 /g)?.length, 1, answer);
});
