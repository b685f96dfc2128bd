/**
 * `npm run stress` stopped by SIGTERM prints its summary and exits 0 (stress_test/README.md), also when
 * the signal comes during its set-up, while it probes the target: it ended with 143 and no summary.
 * Against a stand-in server that answers every request 200, so only the load tool is under test.
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { it } from 'node:test';

/** Runs the stress tool against a server whose `/healthz` answers only when `release` is called. */
async function stressAgainstStandIn(onHealthz: (release: () => void, signal: (name: NodeJS.Signals) => void) => void, onPost?: (signal: (name: NodeJS.Signals) => void) => void) {
  let signal: (name: NodeJS.Signals) => void = () => undefined;
  const server = createServer((req: IncomingMessage, res: ServerResponse) => {
    req.resume();
    req.on('end', () => {
      const answer = () => res.writeHead(200, { 'content-type': 'application/json' }).end('{"success": true}');
      if (req.url === '/healthz') onHealthz(answer, signal);
      else {
        if (req.method === 'POST') onPost?.(signal);
        answer();
      }
    });
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const { port } = server.address() as AddressInfo;
  const child = spawn(process.execPath, ['--conditions=source', '--import', 'tsx', 'stress_test/scenario.ts', '--host', `http://127.0.0.1:${port}`, '--users', '2', '--wait-min', '0', '--wait-max', '0.05', '--duration', '60'], {
    env: { PATH: process.env.PATH ?? '/usr/bin:/bin' },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  signal = (name) => child.kill(name);
  let out = '';
  child.stdout.setEncoding('utf8').on('data', (d: string) => (out += d));
  child.stderr.setEncoding('utf8').on('data', (d: string) => (out += d));
  const killer = setTimeout(() => child.kill('SIGKILL'), 60_000);
  const [code, sig] = (await once(child, 'exit')) as [number | null, NodeJS.Signals | null];
  clearTimeout(killer);
  server.closeAllConnections();
  server.close();
  return { code, sig, out };
}

it('SIGTERM while the stress tool probes its target: the summary and exit 0, not 143', { timeout: 90_000 }, async () => {
  const { code, sig, out } = await stressAgainstStandIn((release, signal) => {
    signal('SIGTERM');
    setTimeout(release, 300);
  });
  assert.equal(sig, null, out);
  assert.equal(code, 0, out);
  assert.match(out, /finished after [\d.]+ s/);
  assert.match(out, /Aggregated +0 /, 'no request was sent after the signal');
});

it('SIGTERM during the run: the summary with what was sent, and exit 0', { timeout: 90_000 }, async () => {
  let sent = false;
  const { code, out } = await stressAgainstStandIn(
    (release) => release(),
    (signal) => {
      if (sent) return;
      sent = true;
      signal('SIGTERM');
    },
  );
  assert.equal(code, 0, out);
  assert.match(out, /finished after [\d.]+ s/);
  assert.match(out, /POST \/predict +[1-9]/);
});
