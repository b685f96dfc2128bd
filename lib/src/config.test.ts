import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { ConfigError, loadConfig } from './config.ts';

function configError(env: NodeJS.ProcessEnv): ConfigError {
  try {
    loadConfig(env);
  } catch (err) {
    assert.ok(err instanceof ConfigError, `expected a ConfigError, got ${String(err)}`);
    return err;
  }
  assert.fail(`loadConfig(${JSON.stringify(env)}) did not fail`);
}

describe('loadConfig', () => {
  test('an empty environment gives every default', () => {
    const cwd = process.cwd();
    assert.deepEqual(loadConfig({}), {
      PORT: 8080,
      HOST: '0.0.0.0',
      QUEUE_MODE: 'auto',
      REDIS_URL: undefined,
      REDIS_PREFIX: 'icls',
      MODELS_DIR: join(cwd, 'models'),
      DEFAULT_MODEL: undefined,
      MODELS: [],
      UPLOAD_DIR: join(cwd, 'data', 'uploads'),
      FEEDBACK_DIR: join(cwd, 'data', 'feedback'),
      MAX_UPLOAD_BYTES: 20971520, // 20 × 1024 × 1024
      MAX_PIXELS: 50000000,
      DECODE_MEMORY_BYTES: 536870912, // 512 MiB
      UPLOAD_MEMORY_BYTES: 67108864, // 64 MiB
      FEEDBACK_MAX_BYTES: 1073741824, // 1 GiB
      UPLOAD_KEEP_HOURS: 168,
      UPLOAD_DIR_MAX_BYTES: 10737418240, // 10 GiB
      BODY_IDLE_TIMEOUT_MS: 15000,
      REQUEST_RECEIVE_TIMEOUT_MS: 120000,
      HEADERS_TIMEOUT_MS: 10000,
      MAX_HEADER_BYTES: 16384,
      MAX_CONNECTIONS: 1024,
      REQUEST_TIMEOUT_MS: 10000,
      QUEUE_MAX_WAITING: 64,
      RESULT_TTL_S: 60,
      IMAGE_TRANSPORT: 'path',
      INLINE_IMAGE_BYTES: 262144, // 256 KiB
      INLINE_LONE_IMAGE_BYTES: 1048576, // 1 MiB
      RESULT_CACHE_TTL_S: 600,
      RESULT_CACHE_MAX_ENTRIES: 10000,
      RESULT_CACHE_MAX_BYTES: 16777216, // 16 MiB
      WORKER_CONCURRENCY: 0,
      ORT_THREADS: 0,
      SOLO_ORT_THREADS: 0,
      MODEL_WORKERS: 0,
      WORKER_NICE: 5,
      WORKER_DEAD_AFTER_MS: 2000,
      WORKER_RESTART_GRACE_MS: 10000,
      INFERENCE_THREADS: 0,
      SHUTDOWN_DRAIN_MS: 5000,
      STUCK_EXIT_MS: 30000,
      ADMIN_TOKEN: undefined,
      CORS_ORIGINS: [],
      RATE_LIMIT_PER_MINUTE: 0,
      WORKER_METRICS_PORT: 9464,
      OTEL_EXPORTER_OTLP_ENDPOINT: undefined,
      OTEL_SERVICE_NAME: undefined,
      OTEL_TRACES_SAMPLER_ARG: 1,
      LOG_LEVEL: 'info',
    });
  });

  test('ADMIN_TOKEN: a short token is refused without printing it', () => {
    const err = configError({ ADMIN_TOKEN: 'hunter2' });
    assert.match(err.message, /ADMIN_TOKEN must be at least 16 characters/);
    assert.doesNotMatch(err.message, /hunter2/);
    assert.equal(loadConfig({ ADMIN_TOKEN: 'x'.repeat(16) }).ADMIN_TOKEN, 'x'.repeat(16));
  });

  test('ADMIN_TOKEN: spaces only (they passed the length check and opened the admin pages), or a stray line end, are refused without printing it', () => {
    for (const token of [' '.repeat(20), `${'s3cret'.repeat(4)}\r`, `${'s3cret'.repeat(2)} ${'s3cret'.repeat(2)}`]) {
      const err = configError({ ADMIN_TOKEN: token });
      assert.match(err.message, /ADMIN_TOKEN must not contain spaces or control characters/);
      assert.doesNotMatch(err.message, /s3cret/);
    }
  });

  test('given values are parsed', () => {
    const c = loadConfig({
      PORT: '3000',
      QUEUE_MODE: 'embedded',
      REDIS_URL: 'rediss://user:pw@redis.example:6380/2',
      MODELS: ' a, b ,,c ',
      DEFAULT_MODEL: 'squeezenet',
      MODELS_DIR: '/srv/models',
      MAX_PIXELS: '1000',
      LOG_LEVEL: 'silent',
    });
    assert.equal(c.PORT, 3000);
    assert.equal(c.QUEUE_MODE, 'embedded');
    assert.equal(c.REDIS_URL, 'rediss://user:pw@redis.example:6380/2');
    assert.deepEqual(c.MODELS, ['a', 'b', 'c']);
    assert.equal(c.DEFAULT_MODEL, 'squeezenet');
    assert.equal(c.MODELS_DIR, '/srv/models');
    assert.equal(c.MAX_PIXELS, 1000);
    assert.equal(c.LOG_LEVEL, 'silent');
    assert.equal(loadConfig({ PORT: '0' }).PORT, 0);
    assert.equal(loadConfig({ PORT: '65535' }).PORT, 65535);
    assert.equal(loadConfig({ REDIS_URL: 'redis://127.0.0.1:6379' }).REDIS_URL, 'redis://127.0.0.1:6379');
  });

  test('PORT=abc names the variable and says it must be a whole number', () => {
    const err = configError({ PORT: 'abc' });
    assert.match(err.message, /PORT must be a whole number, got "abc"/);
  });

  test('PORT=70000 names the variable and its range', () => {
    assert.match(configError({ PORT: '70000' }).message, /PORT must be between 0 and 65535, got 70000/);
    assert.match(configError({ PORT: '-1' }).message, /PORT must be between 0 and 65535, got -1/);
    assert.match(configError({ REDIS_PREFIX: '' }).message, /REDIS_PREFIX must be 1 to 100 characters without spaces or ":", got ""/);
    assert.match(configError({ REDIS_PREFIX: 'a b' }).message, /REDIS_PREFIX must be/);
    assert.equal(loadConfig({ REDIS_PREFIX: 'icls-bench-x_1.2' }).REDIS_PREFIX, 'icls-bench-x_1.2');
    assert.match(configError({ PORT: '80.5' }).message, /PORT must be a whole number/);
    assert.match(configError({ PORT: '' }).message, /PORT must be a whole number/);
  });

  test('QUEUE_MODE=fast lists the allowed values', () => {
    assert.match(configError({ QUEUE_MODE: 'fast' }).message, /QUEUE_MODE must be one of auto, redis, embedded, got "fast"/);
  });

  test('REDIS_URL=http://x must be a redis URL', () => {
    assert.match(configError({ REDIS_URL: 'http://x' }).message, /REDIS_URL must be a redis:\/\/ or rediss:\/\/ URL, got "http:\/\/x"/);
    assert.match(configError({ REDIS_URL: 'not a url' }).message, /REDIS_URL must be a redis:\/\/ or rediss:\/\/ URL/);
    // A port out of range, or no host, said as such (they read "must be a redis:// URL", or passed).
    assert.match(configError({ REDIS_URL: 'redis://localhost:99999' }).message, /REDIS_URL has port 99999: a port is 1 to 65535, got "redis:\/\/localhost:99999"/);
    assert.match(configError({ REDIS_URL: 'redis://:pw@h:70000/0' }).message, /REDIS_URL has port 70000/);
    assert.match(configError({ REDIS_URL: 'redis://' }).message, /REDIS_URL must name the Redis host, e\.g\. redis:\/\/127\.0\.0\.1:6379, got "redis:\/\/"/);
    for (const ok of ['redis://127.0.0.1:6379', 'rediss://:pw@cache.internal:6380/2', 'redis://[::1]:6379', 'redis://redis']) assert.equal(loadConfig({ REDIS_URL: ok }).REDIS_URL, ok);
  });

  test('a refused REDIS_URL is printed without its password (start-up errors end up in logs)', () => {
    assert.match(configError({ REDIS_URL: 'redis://:s3cret@h:70000/0' }).message, /got "redis:\/\/:\*\*\*@h:70000\/0"/);
    assert.match(configError({ REDIS_URL: 'redis//app:s3cret@cache:6379' }).message, /got "redis\/\/app:\*\*\*@cache:6379"/);
    assert.doesNotMatch(configError({ REDIS_URL: 'redis://:s3cret@' }).message, /s3cret/);
    const pasted = configError({ REDIS_URL: 's3cret' }).message;
    assert.match(pasted, /REDIS_URL must be a redis:\/\/ or rediss:\/\/ URL such as redis:\/\/127\.0\.0\.1:6379, got 6 characters without a scheme \(not shown: it may be a password\)/);
    assert.doesNotMatch(pasted, /s3cret/);
    assert.doesNotMatch(configError({ OTEL_EXPORTER_OTLP_ENDPOINT: 'http://u:s3cret@collector:4318:bad' }).message, /s3cret/);
  });

  test('REDIS_URL with a database that is no whole number, or with spaces around it, is refused naming the variable', () => {
    // ioredis sent SELECT NaN (an unhandled error, the process died with a stack trace) or SELECT 1 for "1.5".
    for (const [url, db] of [['redis://h:6379/abc', 'abc'], ['redis://h:6379/1.5', '1.5'], ['redis://h:6379/-1', '-1'], ['redis://h:6379?db=abc', 'abc'], ['redis://:pw@h:6379/x?db=2', 'x']]) {
      const message = configError({ REDIS_URL: url }).message;
      assert.match(message, new RegExp(`REDIS_URL must end with a database number if any \\(redis://host:6379/2; 0 to 15 on a default Redis\\), got "${db.replace('.', '\\.')}"`), url);
      assert.doesNotMatch(message, /pw@/);
    }
    for (const ok of ['redis://h:6379/', 'redis://h:6379/15', 'redis://h:6379?db=3', 'redis://h']) assert.equal(loadConfig({ REDIS_URL: ok }).REDIS_URL, ok);
    assert.match(configError({ REDIS_URL: ' redis://h:6379' }).message, /REDIS_URL must not start or end with a space or a line end \(copied from a file\?\)/);
    assert.match(configError({ REDIS_URL: 'redis://h:6379\n' }).message, /REDIS_URL must not start or end with a space/);
    assert.match(configError({ UPLOAD_DIR: ' /tmp/x' }).message, /UPLOAD_DIR must not start or end with a space or a line end \(copied from a file\?\), got " \/tmp\/x"/);
  });

  test('a number out of range is echoed as given, not in exponent form', () => {
    assert.match(configError({ PORT: '100000000000000000000' }).message, /PORT must be between 0 and 65535, got 100000000000000000000$/m);
    assert.match(configError({ PORT: '070000' }).message, /PORT must be between 0 and 65535, got 70000$/m);
  });

  test('STUCK_EXIT_MS is 0 (off) or at least 5 s: the loop marks its time once a second', () => {
    assert.match(configError({ STUCK_EXIT_MS: '5' }).message, /STUCK_EXIT_MS must be 0 \(off\) or at least 5000: a loop busy for a second is no stuck loop, got 5/);
    assert.equal(loadConfig({ STUCK_EXIT_MS: '0' }).STUCK_EXIT_MS, 0);
    assert.equal(loadConfig({ STUCK_EXIT_MS: '5000' }).STUCK_EXIT_MS, 5000);
    assert.match(configError({ STUCK_EXIT_MS: '3600001' }).message, /STUCK_EXIT_MS must be between 0 and 3600000/);
  });

  test('CORS_ORIGINS lists web origins or *: a path, a trailing slash or another scheme is refused, naming it', () => {
    assert.deepEqual(loadConfig({ CORS_ORIGINS: ' https://app.example.com , http://127.0.0.1:3000 ' }).CORS_ORIGINS, ['https://app.example.com', 'http://127.0.0.1:3000']);
    assert.deepEqual(loadConfig({ CORS_ORIGINS: '*' }).CORS_ORIGINS, ['*']);
    assert.deepEqual(loadConfig({}).CORS_ORIGINS, []);
    for (const bad of ['https://app.example.com/', 'https://app.example.com/page', 'app.example.com', 'ftp://x.example']) {
      assert.match(configError({ CORS_ORIGINS: bad }).message, /CORS_ORIGINS must list web origins such as https:\/\/app\.example\.com .*got "/, bad);
    }
  });

  test('HOST is an IP address or a host name: a port or a scheme in it is refused before anything listens', () => {
    for (const host of ['0.0.0.0', '::', '127.0.0.1', '::1', 'localhost', 'api', 'my_api.internal', 'fe80::1']) assert.equal(loadConfig({ HOST: host }).HOST, host);
    for (const host of ['0.0.0.0:8080', 'http://0.0.0.0', '', 'a b', '-api', 'x'.repeat(64)]) {
      assert.match(configError({ HOST: host }).message, /HOST must be an IP address or a host name, e\.g\. 0\.0\.0\.0, ::, 127\.0\.0\.1 or localhost \(no port, no scheme\), got "/, host);
    }
  });

  test('timeouts are bounded by a day: Node\'s timers fire at once beyond 24.8 days', () => {
    assert.match(configError({ HEADERS_TIMEOUT_MS: '3000000000' }).message, /HEADERS_TIMEOUT_MS must be between 100 and 86400000, got 3000000000/);
    assert.match(configError({ BODY_IDLE_TIMEOUT_MS: '3000000000' }).message, /BODY_IDLE_TIMEOUT_MS must be between 100 and 86400000/);
    assert.equal(loadConfig({ REQUEST_RECEIVE_TIMEOUT_MS: '86400000' }).REQUEST_RECEIVE_TIMEOUT_MS, 86_400_000);
  });

  test('the whole request\'s timeout cannot be shorter than the headers\' (Node would then never apply it)', () => {
    assert.match(configError({ REQUEST_RECEIVE_TIMEOUT_MS: '5000' }).message, /REQUEST_RECEIVE_TIMEOUT_MS must be at least HEADERS_TIMEOUT_MS \(10000\): the whole request includes its headers, got 5000/);
    assert.equal(loadConfig({ REQUEST_RECEIVE_TIMEOUT_MS: '5000', HEADERS_TIMEOUT_MS: '5000' }).REQUEST_RECEIVE_TIMEOUT_MS, 5000);
  });

  test('other kinds of bad values', () => {
    assert.match(configError({ WORKER_CONCURRENCY: '65' }).message, /WORKER_CONCURRENCY must be between 0 and 64, got 65/);
    assert.match(configError({ MODELS_DIR: '  ' }).message, /MODELS_DIR must not be empty/);
    assert.match(configError({ IMAGE_TRANSPORT: 'ftp' }).message, /IMAGE_TRANSPORT must be one of path, bytes, got "ftp"/);
    assert.match(configError({ LOG_LEVEL: 'INFO' }).message, /LOG_LEVEL must be one of/);
  });

  test('a model name no model folder can have is a typo: refused at start, in DEFAULT_MODEL and in MODELS', () => {
    assert.match(configError({ DEFAULT_MODEL: 'bad name!' }).message, /DEFAULT_MODEL must name a model \(lower-case letters, digits, .*\), got "bad name!"/);
    assert.match(configError({ DEFAULT_MODEL: 'ResNet50' }).message, /DEFAULT_MODEL must name a model/);
    assert.match(configError({ MODELS: 'tiny-rgb,Tiny RGB' }).message, /MODELS must name a model .*got "Tiny RGB"/);
    assert.match(configError({ DEFAULT_MODEL: 'm'.repeat(129) }).message, /DEFAULT_MODEL must name a model .*at most 128 characters/);
    assert.equal(loadConfig({ DEFAULT_MODEL: ' squeezenet1.1-7 ' }).DEFAULT_MODEL, 'squeezenet1.1-7');
  });

  test('tracing: the OTLP endpoint is an http(s) URL, the sample ratio a fraction', () => {
    assert.equal(loadConfig({ OTEL_EXPORTER_OTLP_ENDPOINT: 'http://collector:4318/' }).OTEL_EXPORTER_OTLP_ENDPOINT, 'http://collector:4318');
    assert.match(configError({ OTEL_EXPORTER_OTLP_ENDPOINT: 'collector:4318' }).message, /OTEL_EXPORTER_OTLP_ENDPOINT must be an http:\/\/ or https:\/\/ URL/);
    assert.equal(loadConfig({ OTEL_TRACES_SAMPLER_ARG: '0.25' }).OTEL_TRACES_SAMPLER_ARG, 0.25);
    assert.match(configError({ OTEL_TRACES_SAMPLER_ARG: '2' }).message, /OTEL_TRACES_SAMPLER_ARG must be a number from 0 to 1, got "2"/);
    assert.match(configError({ OTEL_TRACES_SAMPLER_ARG: '' }).message, /OTEL_TRACES_SAMPLER_ARG must be a number from 0 to 1/);
  });

  test('several bad variables are all reported at once, one per line', () => {
    const err = configError({ PORT: 'abc', QUEUE_MODE: 'fast', REDIS_URL: 'http://x', MAX_PIXELS: '0', HOST: 'fine' });
    const lines = err.message.split('\n');
    assert.equal(lines[0], 'invalid configuration:');
    assert.equal(lines.length, 5);
    assert.match(err.message, /^ {2}PORT must be a whole number/m);
    assert.match(err.message, /^ {2}QUEUE_MODE must be one of/m);
    assert.match(err.message, /^ {2}REDIS_URL must be a redis:\/\//m);
    assert.match(err.message, /^ {2}MAX_PIXELS must be between 1 and/m);
    assert.doesNotMatch(err.message, /HOST/);
  });
});
