/**
 * What a round trip to Redis costs when the processes on both ends were asleep, against back to back: a
 * PING sent right after the last one, after 10 ms asleep (a timer, as the api waits while the model
 * works), and after 10 ms of spinning (this process awake, Redis asleep). Every hop of a request (client →
 * api → Redis → worker → Redis → api → client) starts after such a pause at light load, so this is the
 * floor under the serving overhead at one client on a given machine. Not a test, a script to re-run:
 *   node --conditions=source --import tsx scripts/measure-wake-cost.ts [--url redis://…] [--runs N]
 * Prints the median and the 90th percentile per way, in ms.
 */
import { createLogger } from '@icls/lib/logger';
import { connectRedis, waitUntilReady } from '@icls/lib/queue/redis-connection';
import { redisScriptOptions } from './redis-script-options.ts';

const USAGE = 'usage: node --conditions=source --import tsx scripts/measure-wake-cost.ts [--url redis://host:port] [--runs 10-10000]';
const PAUSE_MS = 10;

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
const spin = (ms: number) => {
  const until = performance.now() + ms;
  while (performance.now() < until);
};

const WAYS: [string, () => Promise<void> | void][] = [
  ['back to back', () => undefined],
  [`after ${PAUSE_MS} ms asleep`, () => sleep(PAUSE_MS)],
  [`after ${PAUSE_MS} ms spinning`, () => spin(PAUSE_MS)],
];

const opts = redisScriptOptions('measure-wake-cost', USAGE, { default: 500, min: 10, max: 10_000 });
// Silent: an unreachable Redis is said once, below, not in a JSON line per connection attempt.
const redis = connectRedis(opts.url, 'measure-wake-cost', createLogger('silent', 'measure-wake-cost'));
try {
  if (!(await waitUntilReady(redis, 3000))) throw new Error(`Redis does not answer at ${opts.url}`);
  console.log(`PING round trip to ${opts.url}, ${opts.runs} each (ms)`);
  console.log('way\tmedian\tp90');
  for (const [name, pause] of WAYS) {
    const times: number[] = [];
    for (let i = 0; i < opts.runs; i++) {
      await pause();
      const start = performance.now();
      await redis.ping();
      times.push(performance.now() - start);
    }
    times.sort((a, b) => a - b);
    const at = (q: number) => times[Math.min(times.length - 1, Math.floor(q * times.length))]!.toFixed(3);
    console.log(`${name}\t${at(0.5)}\t${at(0.9)}`);
  }
} catch (err) {
  console.error(`measure-wake-cost: ${(err as Error).message}`);
  process.exitCode = 1;
} finally {
  redis.disconnect();
}
