/**
 * An HTTP/1.1 request without Host is refused with the error table's body (Node's own refusal was a
 * bare 400 with no body); HTTP/1.0, which has no Host, is served. Real sockets.
 */
import assert from 'node:assert/strict';
import { connect } from 'node:net';
import { after, before, it } from 'node:test';
import { startStandInApi, type StandInApi } from '../test/stand-in-api.ts';

let api: StandInApi;
before(async () => {
  api = await startStandInApi();
});
after(() => api.close());

function send(request: string): Promise<string> {
  return new Promise((resolve) => {
    const socket = connect(api.port, '127.0.0.1');
    let out = '';
    socket.on('data', (d) => (out += d.toString('utf8')));
    socket.on('error', () => undefined);
    const timer = setTimeout(() => socket.destroy(), 3000);
    socket.on('close', () => {
      clearTimeout(timer);
      resolve(out);
    });
    socket.write(request);
  });
}

it('HTTP/1.1 without Host: 400 BAD_REQUEST saying so, in the route\'s style; HTTP/1.0 without it is served', { timeout: 10_000 }, async () => {
  const json = await send('GET /healthz HTTP/1.1\r\nConnection: close\r\n\r\n');
  assert.match(json, /^HTTP\/1\.1 400 /);
  assert.match(json, /"code":"BAD_REQUEST","message":"The request is not valid: an HTTP\/1\.1 request must have a Host header"/);
  assert.match(json, /\r\nx-content-type-options: nosniff\r\n/i, 'the security headers, as on every answer');
  const original = await send('POST /predict HTTP/1.1\r\nConnection: close\r\nContent-Length: 0\r\n\r\n');
  assert.match(original, /\{"success":false,"prediction":null,"score":null,"error":\{"code":"BAD_REQUEST"/);
  assert.match(await send('GET /healthz HTTP/1.0\r\n\r\n'), /^HTTP\/1\.1 200 /);
});

it('two Host headers, or one naming more than a host or holding what no host name has, are 400 (RFC 9112): Node kept the first of two', { timeout: 10_000 }, async () => {
  for (const [hosts, message] of [
    ['Host: a\r\nHost: b', 'a request must have one Host header, not several'],
    ['Host: a b', 'the Host header must name one host \\(and port\\)'],
    ['Host: a, b', 'the Host header must name one host \\(and port\\)'],
    // Echoed into /docs' shell examples: a quote closed them and ran a command.
    ["Host: x';id;'", 'the Host header must name one host \\(and port\\)'],
    ['Host: evil"><x', 'the Host header must name one host \\(and port\\)'],
    ['Host: a/b', 'the Host header must name one host \\(and port\\)'],
    ['Host: a@b', 'the Host header must name one host \\(and port\\)'],
    ['Host: a:b', 'the Host header must name one host \\(and port\\)'],
  ] as const) {
    const answer = await send(`GET /healthz HTTP/1.1\r\n${hosts}\r\nConnection: close\r\n\r\n`);
    assert.match(answer, /^HTTP\/1\.1 400 /, hosts);
    assert.match(answer, new RegExp(`"message":"The request is not valid: ${message}"`), hosts);
  }
  for (const host of ['[::1]:8080', '127.0.0.1', 'api.example.com:443', 'my_api:8080', 'localhost']) {
    assert.match(await send(`GET /healthz HTTP/1.1\r\nHost: ${host}\r\nConnection: close\r\n\r\n`), /^HTTP\/1\.1 200 /, host);
  }
});
