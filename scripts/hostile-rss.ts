/**
 * Measurement, not a test: issue 8's table at full size against a real api + worker on Redis with the
 * default settings and node's flags of the npm scripts, printing the api's peak RSS (sampled from /proc every 50 ms) and how each case was
 * answered. Needs Redis on 127.0.0.1:6379. Takes about a minute (the stalled uploads wait out the
 * default 15 s idle timeout).
 *   node --conditions=source --import tsx scripts/hostile-rss.ts [VARIABLE=value …]   (settings passed to both processes)
 */
import { randomBytes } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { fixtureModels, tempDir } from '../tests/helpers/fixtures.ts';
import { waitFor200 } from '../tests/helpers/http.ts';
import { deleteRedisPrefix, ENTRY, freePort, REDIS_URL, scriptNodeFlags, startService } from '../tests/helpers/processes.ts';
import { multipartBody, rawRequest } from '../tests/helpers/raw-http.ts';

const given = Object.fromEntries(process.argv.slice(2).map((a) => [a.slice(0, a.indexOf('=')), a.slice(a.indexOf('=') + 1)]));
const port = given.PORT ? Number(given.PORT) : await freePort();
const base = `http://127.0.0.1:${port}`;
const env = {
  QUEUE_MODE: 'redis',
  REDIS_URL,
  REDIS_PREFIX: `hostile-rss-${randomBytes(4).toString('hex')}`,
  MODELS_DIR: await fixtureModels(['tiny-rgb']),
  UPLOAD_DIR: await tempDir('uploads'),
  FEEDBACK_DIR: await tempDir('feedback'),
  DEFAULT_MODEL: 'tiny-rgb',
  LOG_LEVEL: 'info',
  ...given,
  PORT: String(port),
};
// node's flags as `npm run start:api` and `start:model` (and the images) give them: the heap limits shape the peak.
const api = startService(ENTRY.api, env, scriptNodeFlags('start:api'));
const worker = startService(ENTRY.worker, env, scriptNodeFlags('start:model'));
const stopAll = async () => {
  await Promise.all([api.stop(), worker.stop()]);
  await deleteRedisPrefix(env.REDIS_PREFIX);
};
let sampler: NodeJS.Timeout | undefined;
// A failed start (or any failure below) must not leave the api and worker running.
try {
  await waitFor200(`${base}/readyz`, 30_000, () => api.logs());

  const rss = async () => Number(/VmRSS:\s+(\d+)/.exec(await readFile(`/proc/${api.proc.pid}/status`, 'utf8'))![1]) / 1024;
  let peak = await rss();
  console.log(`api RSS at start: ${peak.toFixed(0)} MB`);
  sampler = setInterval(() => void rss().then((mb) => (peak = Math.max(peak, mb))), 50);
  const tally = new Map<string, number>();
  const count = (key: string) => tally.set(key, (tally.get(key) ?? 0) + 1);
  const step = async (name: string, run: () => Promise<void>) => {
    const t0 = Date.now();
    tally.clear();
    await run();
    console.log(`${name}: ${((Date.now() - t0) / 1000).toFixed(1)} s, answers ${JSON.stringify(Object.fromEntries(tally))}, peak RSS so far ${peak.toFixed(0)} MB`);
  };

  await step('1: 46,000 requests with a unique ?model= (half 8 KB, half 120 characters), no body', async () => {
    for (let b = 0; b < 460; b++) {
      await Promise.all(
        Array.from({ length: 100 }, async (_, i) => {
          const r = await fetch(`${base}/v1/predict?model=${randomBytes(i % 2 ? 4096 : 60).toString('hex')}`, { method: 'POST' });
          await r.arrayBuffer();
          count(String(r.status));
        }),
      );
    }
  });
  await step('5: 50 connections × 4 MB, then stall', async () => {
    const multi = multipartBody([{ name: 'file', filename: 'big.png', value: randomBytes(4 * 1024 * 1024) }]);
    const answers = await Promise.all(
      Array.from({ length: 50 }, () =>
        rawRequest({ port, head: `POST /predict HTTP/1.1\r\nHost: x\r\nContent-Type: ${multi.contentType}\r\nContent-Length: ${multi.body.length}`, body: multi.body.subarray(0, multi.body.length - 100), deadlineMs: 60_000 }),
      ),
    );
    for (const a of answers) count(`${a.status ?? 'closed'} after ~${Math.round(a.ms / 1000)} s`);
  });
  await step('7: 4,300 feedback posts of 4 KB control characters, then GET ?limit=10000', async () => {
    for (let b = 0; b < 43; b++) {
      await Promise.all(
        Array.from({ length: 100 }, async () => {
          const r = await fetch(`${base}/v1/feedback`, { method: 'POST', body: JSON.stringify({ report: '\u0001'.repeat(4096) }), headers: { 'content-type': 'application/json' } });
          await r.arrayBuffer();
          count(String(r.status));
        }),
      );
    }
    const r = await fetch(`${base}/v1/feedback?limit=10000`);
    count(`GET ${r.status} ${(await r.arrayBuffer()).byteLength} bytes`);
  });
  console.log(`api peak RSS through the corpus: ${peak.toFixed(0)} MB; api log lines: ${api.logs().split('\n').length}`);
} finally {
  clearInterval(sampler);
  await stopAll();
}
