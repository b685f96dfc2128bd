/**
 * A wrong setting stops every entry point at once, naming the variable, without a stack trace: the
 * compiled processes as they ship, each with an explicit environment.
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { createServer } from 'node:net';
import type { AddressInfo } from 'node:net';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { fixtureModels, ROOT, tempDir } from './helpers/fixtures.ts';
import { ENTRY, explicitEnv, REDIS_URL, startService } from './helpers/processes.ts';

function runToExit(entry: string, env: Record<string, string>): Promise<{ code: number | null; stderr: string }> {
  const child = spawn(process.execPath, [entry], { cwd: ROOT, env: explicitEnv(env), stdio: ['ignore', 'pipe', 'pipe'] });
  let stderr = '';
  child.stderr.setEncoding('utf8').on('data', (d: string) => (stderr += d));
  child.stdout.resume();
  return new Promise((resolve) => {
    const timer = setTimeout(() => child.kill('SIGKILL'), 15_000);
    child.on('exit', (code) => {
      clearTimeout(timer);
      resolve({ code, stderr });
    });
  });
}

describe('settings that defeat each other', () => {
  it('the api warns at start when WORKER_DEAD_AFTER_MS is not below REQUEST_TIMEOUT_MS (a dead worker\'s client would get 504), and runs', async () => {
    const api = startService(ENTRY.api, {
      PORT: '0', QUEUE_MODE: 'redis', REDIS_URL, REDIS_PREFIX: 'cfg-warn', WORKER_DEAD_AFTER_MS: '5000', REQUEST_TIMEOUT_MS: '3000',
      UPLOAD_DIR: await tempDir('uploads'), FEEDBACK_DIR: await tempDir('feedback'),
    });
    try {
      const line = await api.waitForLog(/.*WORKER_DEAD_AFTER_MS \(5000\) is not below REQUEST_TIMEOUT_MS \(3000\).*/);
      assert.match(line, /"level":40/, 'logged at warn level');
      await api.waitForLog(/api listening/);
    } finally {
      await api.stop();
    }
  });

  it('the defaults draw no warning', async () => {
    const api = startService(ENTRY.api, { PORT: '0', QUEUE_MODE: 'redis', REDIS_URL, REDIS_PREFIX: 'cfg-warn', UPLOAD_DIR: await tempDir('uploads'), FEEDBACK_DIR: await tempDir('feedback') });
    try {
      await api.waitForLog(/api listening/);
      assert.doesNotMatch(api.logs(), /is not below/);
    } finally {
      await api.stop();
    }
  });
});

describe('configuration errors at start', () => {
  for (const [name, entry] of Object.entries({ 'model worker': ENTRY.worker, api: ENTRY.api, 'npm start': ENTRY.start })) {
    it(`the ${name} exits 1 on a bad variable, naming it without a stack trace`, async () => {
      const { code, stderr } = await runToExit(entry, { PORT: 'abc', QUEUE_MODE: 'auto' });
      assert.equal(code, 1, `exit code; stderr: ${stderr}`);
      assert.match(stderr, /PORT must be a whole number, got "abc"/);
      assert.doesNotMatch(stderr, /^\s+at /m, 'no stack trace');
    });
  }

  it('npm start with MODELS_DIR set to a folder that does not exist exits 1 saying so (it made the folder and served the default model there)', async () => {
    const missing = join(await tempDir('models-typo'), 'modles');
    const { code, stderr } = await runToExit(ENTRY.start, { MODELS_DIR: missing, QUEUE_MODE: 'embedded', UPLOAD_DIR: await tempDir('uploads'), FEEDBACK_DIR: await tempDir('feedback') });
    assert.equal(code, 1, `exit code; stderr: ${stderr}`);
    assert.match(stderr, new RegExp(`MODELS_DIR ${missing} does not exist: check the path, or create the folder`));
    assert.doesNotMatch(stderr, /^\s+at /m, 'no stack trace');
  });

  it('a model worker whose MODELS names a folder MODELS_DIR does not have exits 1, listing what it has (it reported healthy and served nothing)', async () => {
    const { code, stderr } = await runToExit(ENTRY.worker, { MODELS: 'tiny-rgb,tiny-rbg', MODELS_DIR: await fixtureModels(['tiny-rgb']), UPLOAD_DIR: await tempDir('uploads'), QUEUE_MODE: 'redis', REDIS_URL: 'redis://127.0.0.1:1' });
    assert.equal(code, 1, `exit code; stderr: ${stderr}`);
    assert.match(stderr, /MODELS names "tiny-rbg", but .* has no such model folder \(it has: tiny-rgb\): fix MODELS/);
    assert.doesNotMatch(stderr, /^\s+at /m, 'no stack trace');
  });

  for (const [name, entry] of Object.entries({ api: ENTRY.api, 'npm start': ENTRY.start })) {
    it(`the ${name} exits 1 when it cannot write UPLOAD_DIR or FEEDBACK_DIR, naming each, instead of answering every upload with a 500`, async () => {
      const dir = await tempDir('not-writable');
      const file = join(dir, 'a-file');
      await writeFile(file, '');
      // A folder inside a file cannot be created (ENOTDIR), whoever runs the test, root included.
      const { code, stderr } = await runToExit(entry, { PORT: '0', QUEUE_MODE: 'embedded', UPLOAD_DIR: join(file, 'uploads'), FEEDBACK_DIR: join(file, 'feedback') });
      assert.equal(code, 1, `exit code; stderr: ${stderr}`);
      assert.match(stderr, /UPLOAD_DIR .*a-file\/uploads: the api cannot write there \(ENOTDIR/);
      assert.match(stderr, /FEEDBACK_DIR .*a-file\/feedback: the api cannot write there \(ENOTDIR/);
      assert.doesNotMatch(stderr, /^\s+at /m, 'no stack trace');
    });
  }

  it('the api exits 1 on an UPLOAD_DIR under /proc, where Node\'s own recursive mkdir never returns', async () => {
    const { code, stderr } = await runToExit(ENTRY.api, { PORT: '0', QUEUE_MODE: 'embedded', UPLOAD_DIR: `/proc/icls-test-${process.pid}/uploads`, FEEDBACK_DIR: await tempDir('fb') });
    assert.equal(code, 1, `exit code; stderr: ${stderr}`);
    assert.match(stderr, /UPLOAD_DIR \/proc\/icls-test-\d+\/uploads: the api cannot write there \(ENOENT/);
    assert.doesNotMatch(stderr, /^\s+at /m, 'no stack trace');
  });

  it('the api exits 1 on a port already in use, with one line naming HOST and PORT, without a stack trace', async () => {
    const busy = createServer();
    await new Promise<void>((resolve) => busy.listen(0, '127.0.0.1', () => resolve()));
    const port = (busy.address() as AddressInfo).port;
    try {
      const { code, stderr } = await runToExit(ENTRY.api, { PORT: String(port), HOST: '127.0.0.1', UPLOAD_DIR: await tempDir('up'), FEEDBACK_DIR: await tempDir('fb') });
      assert.equal(code, 1, `exit code; stderr: ${stderr}`);
      assert.match(stderr, /^start failed: listen EADDRINUSE: address already in use 127\.0\.0\.1:\d+ \(check HOST and PORT\)$/m);
      assert.doesNotMatch(stderr, /^\s+at /m, 'no stack trace');
    } finally {
      busy.close();
    }
  });
});
