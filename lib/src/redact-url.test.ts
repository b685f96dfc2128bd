import assert from 'node:assert/strict';
import { it } from 'node:test';
import { redactUrl } from './redact-url.ts';

it('a URL loses its password and keeps the rest, parsable or not', () => {
  assert.equal(redactUrl('redis://:s3cret@redis:6379/2'), 'redis://:***@redis:6379/2');
  assert.equal(redactUrl('rediss://app:p%40ss:w@cache.internal:6380'), 'rediss://app:***@cache.internal:6380');
  assert.equal(redactUrl('redis://:s3cret@host:99999'), 'redis://:***@host:99999', 'an invalid port: refused at start, printed without the password');
  assert.equal(redactUrl('redis://:p@ss@host:6379'), 'redis://:***@host:6379', 'an unescaped @ in the password: all of it goes');
  assert.equal(redactUrl('redis//:s3cret@host:6379'), 'redis//:***@host:6379', 'a mistyped scheme');
  assert.equal(redactUrl('redis://app@host:6379'), 'redis://app@host:6379', 'a user without a password is no secret');
  assert.equal(redactUrl('redis://127.0.0.1:6379'), 'redis://127.0.0.1:6379');
  assert.equal(redactUrl('redis://host:6379?password=s3cret'), 'redis://host:6379?password=***', 'ioredis takes it in the query too');
  assert.equal(redactUrl('redis://host:6379/2?db=2&Password=s3cret&tls=1'), 'redis://host:6379/2?db=2&Password=***&tls=1');
  assert.equal(redactUrl('redis://host:6379/?note=a:b@c'), 'redis://host:6379/?note=a:b@c', 'an @ after the host is not a password');
});
