/**
 * WORKER_NICE lowers every thread of a worker, not only its main one: on Linux a nice value belongs to a
 * thread, and the threads started before the worker lowered its priority (V8's, libuv's pool, which runs
 * sharp's decodes and starts libvips's threads) kept 0, so decoding competed with the api at full weight.
 * Real processes and Redis; threads read from /proc after a job went through (so every kind exists).
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { readdir, readFile } from 'node:fs/promises';
import { after, it } from 'node:test';
import { fixtureModels, image, tempDir } from './helpers/fixtures.ts';
import { postFile, waitFor200 } from './helpers/http.ts';
import { deleteRedisPrefix, ENTRY, freePort, REDIS_URL, startService, type Service } from './helpers/processes.ts';

const services: Service[] = [];
const prefix = `test-${randomBytes(4).toString('hex')}`;
after(async () => {
  await Promise.all(services.map((s) => s.stop()));
  await deleteRedisPrefix(prefix);
});

/** Each thread's name and nice value, from /proc/<pid>/task/<tid>/stat (the name may hold spaces). */
async function threadNices(pid: number): Promise<{ name: string; nice: number }[]> {
  const threads = [];
  for (const tid of await readdir(`/proc/${pid}/task`)) {
    const stat = await readFile(`/proc/${pid}/task/${tid}/stat`, 'utf8').catch((err: NodeJS.ErrnoException) => {
      if (err.code === 'ENOENT') return undefined; // the thread ended meanwhile
      throw err;
    });
    if (!stat) continue;
    const name = stat.slice(stat.indexOf('(') + 1, stat.lastIndexOf(')'));
    // Fields after the name: state is field 3, nice field 19.
    threads.push({ name, nice: Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[16]) });
  }
  return threads;
}

it('every thread of a worker runs at WORKER_NICE, those that decode images included', { skip: process.platform !== 'linux' && 'threads are read from /proc' }, async () => {
  const port = await freePort();
  const uploads = await tempDir('uploads');
  const env = { QUEUE_MODE: 'redis', REDIS_URL, REDIS_PREFIX: prefix, MODELS_DIR: await fixtureModels(['tiny-rgb']), UPLOAD_DIR: uploads, FEEDBACK_DIR: await tempDir('feedback'), PORT: String(port) };
  const api = startService(ENTRY.api, env);
  const worker = startService(ENTRY.worker, { ...env, WORKER_NICE: '7' });
  services.push(api, worker);
  const base = `http://127.0.0.1:${port}`;
  await waitFor200(`${base}/readyz`, 30_000, () => services.map((s) => s.logs()).join('\n'));
  for (const name of ['coffee.png', 'rocket.jpg']) {
    const r = await postFile(`${base}/v1/predict`, image(name), { contentType: name.endsWith('.png') ? 'image/png' : 'image/jpeg' });
    assert.equal(r.status, 200, await r.text());
  }
  const threads = await threadNices(worker.proc.pid!);
  assert.ok(threads.length > 5, JSON.stringify(threads));
  assert.ok(threads.some((t) => t.name.startsWith('libvips')), `a decode ran, so libvips has threads: ${JSON.stringify(threads)}`);
  assert.deepEqual(threads.filter((t) => t.nice < 7), [], 'threads above the worker\'s priority');
});
