/**
 * What it costs to hand an image to a worker through Redis, by size: a job added by a script (the image
 * one of its arguments, as the queue's bounded add does for images up to SCRIPT_IMAGE_MAX_BYTES) against a
 * plain XADD, each timed until a worker blocked on XREADGROUP has the entry. Not a test (timings are noisy
 * on a shared machine), a script to re-run:
 *   node --conditions=source --import tsx scripts/measure-redis-transfer.ts [--url redis://…] [--runs N]
 * Prints the median per size, in ms. Uses its own stream (deleted at the end).
 */
import { randomBytes } from 'node:crypto';
import { createLogger } from '@icls/lib/logger';
import { callForBuffers, connectRedis, isReady, waitUntilReady, type RedisConnection } from '@icls/lib/queue/redis-connection';
import { stopOnSignals } from '../bench/stop-on-signals.ts';
import { redisScriptOptions } from './redis-script-options.ts';

const USAGE = 'usage: node --conditions=source --import tsx scripts/measure-redis-transfer.ts [--url redis://host:port] [--runs 1-10000]';

const { url, runs } = redisScriptOptions('measure-redis-transfer', USAGE, { default: 40, min: 1, max: 10_000 });
// Silent: an unreachable Redis is said once, below, not in a JSON line per connection attempt.
const log = createLogger('silent', 'measure-redis-transfer');
const producer = connectRedis(url, 'measure-transfer-producer', log);
const worker = connectRedis(url, 'measure-transfer-worker', log);
const stream = `measure-transfer:${randomBytes(4).toString('hex')}`;
// The same shape as the queue's add: the length checked, then the entry added with the arguments as fields.
const SCRIPTED_ADD = `local n = redis.call('XLEN', KEYS[1])
redis.call('XADD', KEYS[1], '*', unpack(ARGV))
return n`;

type Add = (fields: (string | Buffer)[]) => Promise<unknown>;
const ways: [string, Add][] = [
  ['script', (fields) => producer.eval(SCRIPTED_ADD, 1, stream, ...fields)],
  ['plain XADD', (fields) => producer.xadd(stream, '*', ...fields)],
];

/** Median ms from the add being sent until the blocked reader has the entry. */
async function handOver(add: Add, image: Buffer): Promise<number> {
  const times: number[] = [];
  for (let i = 0; i < runs; i++) {
    const read = callForBuffers(worker, 'xreadgroup', 'GROUP', 'g', 'w', 'COUNT', 1, 'BLOCK', 2000, 'STREAMS', stream, '>');
    await new Promise((r) => setTimeout(r, 2)); // the read is blocked in Redis before the add
    const start = performance.now();
    await Promise.all([add(['job', '{"id":"x"}', 'image', image]), read]);
    times.push(performance.now() - start);
    await producer.xtrim(stream, 'MAXLEN', 0);
  }
  return times.sort((a, b) => a - b)[Math.floor(times.length / 2)]!;
}

async function main(redis: RedisConnection): Promise<void> {
  const ready = await Promise.all([producer, worker].map((connection) => waitUntilReady(connection, 3000)));
  if (ready.includes(false)) throw new Error(`Redis does not answer at ${url}`);
  await redis.xgroup('CREATE', stream, 'g', '$', 'MKSTREAM');
  console.log(`hand-over of one job to a blocked reader, median of ${runs} (ms)`);
  console.log(['size KiB', ...ways.map(([name]) => name)].join('\t'));
  for (const size of [27, 235, 456, 773, 2000, 3410]) {
    const image = randomBytes(size * 1024);
    const row = [String(size)];
    for (const [, add] of ways) row.push((await handOver(add, image)).toFixed(2));
    console.log(row.join('\t'));
  }
}

/** Deletes the measuring stream (if Redis is there to ask) and closes both connections. */
async function cleanUp(): Promise<void> {
  if (isReady(producer)) await producer.del(stream);
  producer.disconnect();
  worker.disconnect();
}

// Interrupted, it still deletes its stream (which has no TTL and no prefix).
stopOnSignals(cleanUp);
try {
  await main(producer);
} catch (err) {
  console.error(`measure-redis-transfer: ${(err as Error).message}`);
  process.exitCode = 1;
} finally {
  await cleanUp();
}
