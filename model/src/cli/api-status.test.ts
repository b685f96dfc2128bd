import assert from 'node:assert/strict';
import { it } from 'node:test';
import { UsageError } from '@icls/lib/usage-error';
import { apiUrlOf, DEFAULT_API_URL } from './api-status.ts';

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
