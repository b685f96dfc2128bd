/**
 * A worker asked to stop while Redis hangs (SIGSTOP: connections open, nothing answers) still stops
 * promptly: its last words to Redis (draining, then its heartbeat's removal) are each bounded. They
 * waited the 5 s command timeout each, and a worker took 21 s to exit, past its supervisor's grace.
 */
import assert from 'node:assert/strict';
import { it } from 'node:test';
import { createLogger } from '../logger.ts';
import { startPrivateRedis } from '../../../tests/helpers/redis-server.ts';
import { RedisConsumer } from './redis-consumer.ts';

it('a worker stops within a few seconds while Redis hangs, saying why in words, without a stack trace', async () => {
  const redis = await startPrivateRedis();
  const lines: { msg: string; err?: unknown }[] = [];
  const log = createLogger('info', 'test', { write: (line) => lines.push(...line.split('\n').filter(Boolean).map((l) => JSON.parse(l))) });
  const consumer = new RedisConsumer({
    redisUrl: redis.url,
    prefix: 'stop',
    resultTtlS: 60,
    models: ['m'],
    concurrency: 1,
    deadAfterMs: 2000,
    workerId: 'stopping',
    handler: async () => assert.fail('no job expected'),
    log,
  });
  try {
    await consumer.start();
    redis.pause();
    const started = performance.now();
    await consumer.close();
    const tookMs = performance.now() - started;
    // Bounded steps: draining, the end of the reads, the heartbeat's removal, QUIT (1 + 0.5 + 1 + 1 s); before, 13 s.
    assert.ok(tookMs < 5000, `the stop took ${Math.round(tookMs)} ms: ${JSON.stringify(lines)}`);
    const draining = lines.find((l) => l.msg === 'could not announce draining');
    assert.ok(draining, JSON.stringify(lines));
    assert.equal(typeof draining.err, 'string', 'the reason in words, not an error object with its stack');
    assert.match(String(draining.err), /did not answer within 1000 ms/);
  } finally {
    redis.resume();
    await consumer.close();
    await redis.stop();
  }
});
