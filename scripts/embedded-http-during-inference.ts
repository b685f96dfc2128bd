/**
 * Does HTTP stay responsive while a model computes? Starts `start.ts` in embedded mode (api and model in
 * one process) with the generated tiny-slow model (about 1.3 s per image on one core), sends predictions
 * one after another, and meanwhile times GET /healthz every 20 ms. Prints the /healthz latencies.
 *   node --conditions=source --import tsx scripts/embedded-http-during-inference.ts [project root, default this one]
 */
import { spawn } from 'node:child_process';
import { readFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { freePort } from '@icls/lib/free-port';
import { fixtureModels, image, tempDir } from '../tests/helpers/fixtures.ts';

const root = resolve(process.argv[2] ?? fileURLToPath(new URL('../', import.meta.url)));
const port = await freePort();
const base = `http://127.0.0.1:${port}`;
// The compiled entry when the checkout has one (npm run build); an older checkout ran TypeScript through tsx.
const compiled = join(root, 'dist/start.js');
const command = existsSync(compiled) ? [compiled] : ['--import', 'tsx', join(root, 'start.ts')];
const child = spawn(process.execPath, command, {
  cwd: root,
  env: {
    ...process.env, QUEUE_MODE: 'embedded', PORT: String(port), HOST: '127.0.0.1', LOG_LEVEL: 'warn', ORT_THREADS: '1',
    MODELS_DIR: await fixtureModels(['tiny-slow']), DEFAULT_MODEL: 'tiny-slow', UPLOAD_DIR: await tempDir('uploads'), FEEDBACK_DIR: await tempDir('feedback'),
  },
  stdio: 'ignore',
});
try {
  for (let i = 0; i < 300 && !(await fetch(`${base}/readyz`).then((r) => r.ok, () => false)); i++) await new Promise((r) => setTimeout(r, 100));
  const photo = new Blob([new Uint8Array(await readFile(image('chelsea.png')))], { type: 'image/png' });
  let busy = true;
  const predictions = (async () => {
    for (let i = 0; i < 3; i++) {
      const form = new FormData();
      form.set('file', photo, 'chelsea.png');
      const r = await fetch(`${base}/predict`, { method: 'POST', body: form });
      if (!r.ok) throw new Error(`prediction answered ${r.status}: ${await r.text()}`);
    }
    busy = false;
  })();
  const ms: number[] = [];
  while (busy) {
    const t0 = performance.now();
    await fetch(`${base}/healthz`).then((r) => r.text());
    ms.push(performance.now() - t0);
    await new Promise((r) => setTimeout(r, 20));
  }
  await predictions;
  ms.sort((a, b) => a - b);
  const at = (p: number) => ms[Math.min(ms.length - 1, Math.ceil((p / 100) * ms.length) - 1)]!.toFixed(1);
  console.log(`${root}: GET /healthz during 3 tiny-slow predictions in embedded mode: ${ms.length} requests, p50 ${at(50)} ms, p99 ${at(99)} ms, max ${at(100)} ms`);
} finally {
  child.kill('SIGKILL');
}
