import assert from 'node:assert/strict';
import { connect } from 'node:net';
import { after, before, it } from 'node:test';
import { createLogger } from '../logger.ts';
import { HEADERS_MS, startMetricsServer, type MetricsServer } from './metrics-server.ts';
import { createRegistry } from './prometheus.ts';

let server: MetricsServer;
before(async () => {
  server = await startMetricsServer({ registry: createRegistry(), host: '127.0.0.1', port: 0, adminToken: undefined, log: createLogger('silent', 'test') });
});
after(() => server.close());

it('a client whose headers never end is answered 408 and cut within about HEADERS_MS, not after Node\'s 30 s check', async () => {
  const started = Date.now();
  const { answer, ms } = await new Promise<{ answer: string; ms: number }>((resolve, reject) => {
    let answer = '';
    const socket = connect(server.port, '127.0.0.1', () => socket.write('GET /healthz HTTP/1.1\r\nHost: x\r\nX-Slow: 1\r\n'));
    socket.on('data', (d: Buffer) => (answer += d.toString('latin1')));
    socket.on('close', () => resolve({ answer, ms: Date.now() - started }));
    socket.on('error', reject);
    socket.setTimeout(20_000, () => socket.destroy(new Error('still open after 20 s')));
  });
  assert.match(answer, /^HTTP\/1\.1 408 /);
  assert.ok(ms >= HEADERS_MS - 100 && ms < HEADERS_MS + 3000, `cut after ${ms} ms`);
  // Requests that arrive whole are answered.
  assert.equal((await fetch(`http://127.0.0.1:${server.port}/healthz`)).status, 200);
});
