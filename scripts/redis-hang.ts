/**
 * Measurement, not a test: what clients see while Redis hangs under load. Starts a private
 * redis-server, a real api and worker (the default model from ./models, default settings), sends
 * `--rate` requests a second (open loop: each on its own, whatever the others wait for) with distinct
 * small images, stops Redis with SIGSTOP for
 * `--hang-s` seconds (connections stay open, nothing answers: a hung Redis or a network black hole),
 * then resumes it, and prints how the requests sent during the hang were answered (status, message,
 * slowest) and how long after SIGCONT the first 200 came. Needs redis-server on PATH and the default
 * model built. About 20 s.
 *   node --conditions=source --import tsx scripts/redis-hang.ts [--rate 20] [--hang-s 6]
 */
import { parseArgs } from 'node:util';
import { solidPng, tempDir } from '../tests/helpers/fixtures.ts';
import { waitFor200 } from '../tests/helpers/http.ts';
import { ENTRY, freePort, scriptNodeFlags, startService } from '../tests/helpers/processes.ts';
import { startPrivateRedis } from '../tests/helpers/redis-server.ts';

const { values } = parseArgs({ options: { rate: { type: 'string', default: '20' }, 'hang-s': { type: 'string', default: '6' } } });
const rate = Number(values.rate);
const hangMs = Number(values['hang-s']) * 1000;
const redis = await startPrivateRedis();
const port = await freePort();
const base = `http://127.0.0.1:${port}`;
const env: Record<string, string> = {
  QUEUE_MODE: 'redis',
  REDIS_URL: redis.url,
  REDIS_PREFIX: 'redis-hang',
  MODELS_DIR: './models',
  UPLOAD_DIR: await tempDir('uploads'),
  FEEDBACK_DIR: await tempDir('feedback'),
  LOG_LEVEL: 'warn',
  PORT: String(port),
};
const api = startService(ENTRY.api, env, scriptNodeFlags('start:api'));
const worker = startService(ENTRY.worker, env, scriptNodeFlags('start:model'));

interface Answer {
  sentAt: number;
  ms: number;
  status: number;
  message: string;
}
const answers: Answer[] = [];
let running = true;
let n = 0;
async function request(): Promise<void> {
  {
    // Distinct images, so no answer comes from the result cache.
    const i = n++;
    const png = await solidPng([i % 256, (i >> 8) % 256, 77], 64, 48);
    const form = new FormData();
    form.append('file', new Blob([new Uint8Array(png)]), `i${i}.png`);
    const sentAt = Date.now();
    try {
      const res = await fetch(`${base}/v1/predict`, { method: 'POST', body: form, signal: AbortSignal.timeout(60_000) });
      const body = (await res.json()) as { error?: { message?: string } };
      answers.push({ sentAt, ms: Date.now() - sentAt, status: res.status, message: body.error?.message ?? '' });
    } catch (err) {
      answers.push({ sentAt, ms: Date.now() - sentAt, status: 0, message: (err as Error).message });
    }
  }
}

try {
  await waitFor200(`${base}/readyz`, 60_000, () => `${api.logs()}\n${worker.logs()}`);
  const sent: Promise<void>[] = [];
  const loops = (async () => {
    while (running) {
      sent.push(request());
      await new Promise((r) => setTimeout(r, 1000 / rate));
    }
  })();
  await new Promise((r) => setTimeout(r, 3000));
  const stoppedAt = Date.now();
  redis.pause();
  await new Promise((r) => setTimeout(r, hangMs));
  redis.resume();
  const resumedAt = Date.now();
  await new Promise((r) => setTimeout(r, 4000));
  running = false;
  await loops;
  await Promise.all(sent);

  const during = answers.filter((a) => a.sentAt >= stoppedAt && a.sentAt < resumedAt);
  const byKind = new Map<string, number[]>();
  for (const a of during) {
    const key = `${a.status} ${a.message}`;
    byKind.set(key, [...(byKind.get(key) ?? []), a.ms]);
  }
  const inFlight = answers.filter((a) => a.sentAt < stoppedAt && a.sentAt + a.ms > stoppedAt);
  console.log(`${rate} requests/s, Redis stopped for ${hangMs / 1000} s`);
  console.log(`requests in flight at SIGSTOP: ${inFlight.map((a) => `${a.status} after ${a.ms} ms`).join(', ') || 'none'}`);
  console.log(`requests sent during the hang: ${during.length}`);
  for (const [key, ms] of byKind) {
    ms.sort((a, b) => a - b);
    const over = (limit: number) => ms.filter((m) => m > limit).length;
    console.log(`  ${ms.length} × ${key}: median ${ms[ms.length >> 1]} ms, slowest ${ms.at(-1)} ms; over 100 ms: ${over(100)}, over 1 s: ${over(1000)}`);
  }
  const firstOk = answers.filter((a) => a.status === 200 && a.sentAt >= resumedAt).sort((a, b) => a.sentAt + a.ms - (b.sentAt + b.ms))[0];
  console.log(`first 200 sent after SIGCONT answered ${firstOk ? `${firstOk.sentAt + firstOk.ms - resumedAt} ms after it` : 'never'}`);
} finally {
  running = false;
  redis.resume();
  await Promise.all([api.stop(), worker.stop()]);
  await redis.stop();
}
