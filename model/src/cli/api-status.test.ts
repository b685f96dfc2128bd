import assert from 'node:assert/strict';
import { createServer, type Socket } from 'node:net';
import { it } from 'node:test';
import { UsageError } from '@icls/lib/usage-error';
import { apiUrlOf, DEFAULT_API_URL, fetchServedModels, loadedColumn } from './api-status.ts';

it('the api asked is API_URL, else this host on PORT (as the api was started), else the default; a bad value is a usage error', () => {
  assert.equal(apiUrlOf({}), DEFAULT_API_URL);
  assert.equal(apiUrlOf({ PORT: '18601' }), 'http://127.0.0.1:18601');
  assert.equal(apiUrlOf({ PORT: '18601', API_URL: 'https://classifier.example/' }), 'https://classifier.example/');
  for (const [env, named] of [
    [{ API_URL: 'notaurl' }, /^API_URL must be an http:\/\/ or https:\/\/ address, got "notaurl"$/],
    [{ API_URL: 'ftp://x' }, /^API_URL must be/],
    [{ PORT: 'eighty' }, /^PORT \(the api's port, asked when API_URL is not set\) must be a number from 1 to 65535, got "eighty"$/],
    [{ PORT: '70000' }, /^PORT /],
  ] as const) {
    assert.throws(() => apiUrlOf(env), (err: unknown) => err instanceof UsageError && named.test(err.message));
  }
});

it('an api that takes the connection but never answers is "did not answer", not "not running"; nothing listening is "not running"', async () => {
  const sockets: Socket[] = [];
  const hung = createServer((socket) => void sockets.push(socket)); // accepts, reads nothing, answers nothing
  await new Promise<void>((resolve) => hung.listen(0, '127.0.0.1', resolve));
  const { port } = hung.address() as { port: number };
  try {
    assert.equal(loadedColumn(await fetchServedModels(`http://127.0.0.1:${port}`), 'alpha'), '? (api did not answer within 0.5 s)');
  } finally {
    for (const s of sockets) s.destroy();
    await new Promise((resolve) => hung.close(resolve));
  }
  // The same port, closed now: the connection is refused.
  assert.equal(loadedColumn(await fetchServedModels(`http://127.0.0.1:${port}`), 'alpha'), '? (api not running)');
});
