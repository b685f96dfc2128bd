/**
 * What the operator reads when a request fails on the service's side: a condition we recognised (a
 * full disk, a full report store, an upload folder the workers do not share) is one error line with
 * what and where, no stack trace to dig through; an unexpected failure keeps its stack.
 */
import assert from 'node:assert/strict';
import { after, it } from 'node:test';
import Fastify from 'fastify';
import { AppError } from '@icls/lib/errors';
import { createLogger } from '@icls/lib/logger';
import { errorHandler } from './error-reply.ts';
import { LogSampler } from './log-sampler.ts';

const lines: Record<string, any>[] = [];
const log = createLogger('info', 'test', { write: (line: string) => lines.push(JSON.parse(line)) });
const app = Fastify();
app.setErrorHandler(errorHandler(new LogSampler(log)));
const noRoom = Object.assign(new Error("ENOSPC: no space left on device, write '/srv/uploads/.upload-1f2e'"), { code: 'ENOSPC', errno: -28, syscall: 'write' });
const failures: Record<string, () => Error> = {
  'disk-full': () => noRoom,
  'store-full': () => new AppError('FEEDBACK_FULL', 'the report files in /srv/feedback take 1073741900 bytes, FEEDBACK_MAX_BYTES is 1073741824: download /feedback/dataset.tar'),
  'not-shared': () => new AppError('UPLOAD_NOT_SHARED', 'stored image ab.png cannot be read by the worker (ENOENT); with workers on other hosts set IMAGE_TRANSPORT=bytes'),
  bug: () => new TypeError('x is not a function'),
};
for (const [path, failure] of Object.entries(failures)) {
  app.get(`/${path}`, async () => {
    throw failure();
  });
}
after(() => app.close());

async function logged(path: string): Promise<Record<string, any>> {
  lines.length = 0;
  const r = await app.inject({ url: `/${path}` });
  assert.ok(r.statusCode >= 500, r.body);
  const line = lines.find((l) => l.msg === 'request failed');
  assert.ok(line, JSON.stringify(lines));
  assert.equal(line.level, 50, 'error level');
  return line;
}

it('a full disk: one line naming the code and the system call that failed, with its path, and no stack', async () => {
  const line = await logged('disk-full');
  assert.equal(line.code, 'STORAGE_FULL');
  assert.match(line.cause, /ENOSPC: no space left on device, write '\/srv\/uploads\//);
  assert.doesNotMatch(JSON.stringify(line), /\n\s+at /, 'no stack trace');
});

it('a full report store and an unshared upload folder: the detail says what to do, and no stack', async () => {
  const full = await logged('store-full');
  assert.equal(full.code, 'FEEDBACK_FULL');
  assert.match(full.detail, /FEEDBACK_MAX_BYTES is 1073741824: download \/feedback\/dataset\.tar/);
  const notShared = await logged('not-shared');
  assert.equal(notShared.code, 'UPLOAD_NOT_SHARED');
  assert.match(notShared.detail, /IMAGE_TRANSPORT=bytes/);
  for (const line of [full, notShared]) assert.doesNotMatch(JSON.stringify(line), /\n\s+at /, 'no stack trace');
});

it('an unexpected failure keeps its stack, to find the bug', async () => {
  const line = await logged('bug');
  assert.equal(line.code, 'INTERNAL');
  assert.match(line.err.stack, /TypeError: x is not a function\n\s+at /);
});
