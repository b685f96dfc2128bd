import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { createServer, type Server } from 'node:net';
import { freePort, freePortRange } from './free-port.ts';

const listen = (port: number) =>
  new Promise<Server>((resolve, reject) => {
    const srv = createServer();
    srv.once('error', reject);
    srv.listen(port, '127.0.0.1', () => resolve(srv));
  });

test('free ports come from below the ephemeral range, where no outgoing connection can take them first', async () => {
  const ephemeral = Number(readFileSync('/proc/sys/net/ipv4/ip_local_port_range', 'utf8').trim().split(/\s+/)[0]);
  for (let i = 0; i < 20; i++) {
    const port = await freePort();
    assert.ok(port >= 20_000 && port < ephemeral, `${port} is below ${ephemeral}`);
  }
  const first = await freePortRange(4);
  assert.ok(first + 4 <= ephemeral);
  // every port of the range can be listened on
  const servers = await Promise.all([0, 1, 2, 3].map((i) => listen(first + i)));
  await Promise.all(servers.map((s) => new Promise((r) => s.close(r))));
});
