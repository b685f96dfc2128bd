/**
 * The chaos run's load: arrivals go out on their own clock while every looping client waits (a stalled
 * service otherwise hears from nobody, and what it would answer a newcomer goes unmeasured), and the
 * flags of the orchestrated mode refuse combinations that mean nothing. A real HTTP server that holds
 * every request stands for a stalled service.
 */
import assert from 'node:assert/strict';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { it } from 'node:test';
import { mulberry32 } from '@icls/lib/seeded-random';
import { UsageError } from '@icls/lib/usage-error';
import { parseChaosArgs } from '../bench/chaos-args.ts';
import { corruptUploads, driveLoad } from '../bench/chaos-load.ts';
import { HttpClient } from '../bench/http-client.ts';

it('arrivals are sent while the looping client waits for its answer', async () => {
  const HOLD_MS = 600;
  const arrived: number[] = [];
  const server = createServer((req, res) => {
    arrived.push(Date.now());
    req.resume();
    req.on('end', () => setTimeout(() => res.writeHead(415, { 'content-type': 'application/json' }).end('{"error":{"code":"NOT_AN_IMAGE"}}'), HOLD_MS));
  }).listen(0, '127.0.0.1');
  await new Promise((r) => server.once('listening', r));
  const client = new HttpClient(`http://127.0.0.1:${(server.address() as AddressInfo).port}`);
  try {
    const samples = await driveLoad({
      client,
      requests: 8,
      concurrency: 1,
      arrivalsPerS: 20,
      corruptShare: 1,
      honorRetryAfter: true,
      images: [],
      corrupt: await corruptUploads(),
      rng: mulberry32(1),
      clientTimeoutMs: 5000,
      onSent: () => undefined,
    });
    assert.equal(samples.length, 8);
    assert.ok(samples.every((s) => s.status === 415 && s.code === 'NOT_AN_IMAGE'));
    const whileHeld = arrived.filter((t) => t - arrived[0]! < HOLD_MS - 100).length;
    assert.ok(whileHeld >= 6, `only ${whileHeld} of 8 requests reached the server while the first was held`);
  } finally {
    client.close();
    server.close();
  }
});

it('chaos flags: --orchestrated runs one worker, --restart-delay needs it, --arrivals defaults to none', () => {
  const plain = parseChaosArgs([]);
  assert.ok(plain !== 'help');
  assert.equal(plain.orchestrated, false);
  assert.equal(plain.arrivalsPerS, 0);
  const orchestrated = parseChaosArgs(['--orchestrated', '--restart-delay', '2500', '--arrivals', '0.5']);
  assert.ok(orchestrated !== 'help');
  assert.deepEqual([orchestrated.orchestrated, orchestrated.restartDelayMs, orchestrated.arrivalsPerS], [true, 2500, 0.5]);
  assert.throws(() => parseChaosArgs(['--restart-delay', '100']), (e: unknown) => e instanceof UsageError && /only makes sense with --orchestrated/.test(e.message));
  assert.throws(() => parseChaosArgs(['--orchestrated', '--workers', '2']), (e: unknown) => e instanceof UsageError && /runs one worker/.test(e.message));
  assert.throws(() => parseChaosArgs(['--arrivals', '-1']), UsageError);
});
