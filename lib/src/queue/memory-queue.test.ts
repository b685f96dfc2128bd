import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { setTimeout as sleep } from 'node:timers/promises';
import { AppError, type ErrorCode } from '../errors.ts';
import { JobRejectedError, type JobData, type JobHandler, type JobResult } from '../job-contract.ts';
import { createLogger } from '../logger.ts';
import { MemoryQueue } from './memory-queue.ts';

const log = createLogger('silent', 'memory-queue-test');

function job(id: string, opts: { model?: string; deadlineInMs?: number } = {}): JobData {
  const now = Date.now();
  return { id, image: `${id}.png`, model: opts.model ?? 'm', deadline: now + (opts.deadlineInMs ?? 5000), enqueuedAt: now, topK: 5 };
}
function result(j: JobData): JobResult {
  return {
    id: j.id,
    model: j.model,
    modelVersion: '1',
    predictions: [{ label: `label-of-${j.id}`, score: 1 }],
    timings: { queueMs: 0, preprocessMs: 0, inferenceMs: 0 },
    worker: 'test',
  };
}
function queue(handler: JobHandler, opts: { maxWaiting?: number; concurrency?: number } = {}): MemoryQueue {
  return new MemoryQueue({ maxWaiting: opts.maxWaiting ?? 10, concurrency: opts.concurrency ?? 1, models: ['m', 'other'], handler, log });
}

/** A handler whose jobs finish only when the test says so; records the order jobs started in. */
function gatedHandler() {
  const started: string[] = [];
  const gates = new Map<string, () => void>();
  const handler: JobHandler = async (j) => {
    started.push(j.id);
    await new Promise<void>((resolve) => gates.set(j.id, resolve));
    return result(j);
  };
  const release = (id: string) => {
    const g = gates.get(id);
    assert.ok(g, `job ${id} has not started`);
    g();
  };
  return { handler, started, release };
}

const hasCode = (code: ErrorCode, status: number) => (err: unknown) => {
  assert.ok(err instanceof AppError, String(err));
  assert.equal(err.code, code);
  assert.equal(err.status, status);
  return true;
};

describe('MemoryQueue', () => {
  test('runs a job through the handler and returns its result', async () => {
    const q = queue(async (j) => result(j));
    await q.start();
    const r = await q.submit(job('j1'));
    assert.equal(r.id, 'j1');
    assert.deepEqual(r.predictions, [{ label: 'label-of-j1', score: 1 }]);
    await q.close();
  });

  test('the bound, as in Redis: per model, jobs queued or running; beyond it QUEUE_FULL (503) with retryAfterS', async () => {
    const { handler, started, release } = gatedHandler();
    const q = queue(handler, { maxWaiting: 2, concurrency: 1 });
    await q.start();
    const running = q.submit(job('run')); // taken at once, and counted while it runs
    const w1 = q.submit(job('w1')); // 2 held = the bound
    assert.deepEqual(started, ['run']);
    assert.equal(await q.admits('m'), false);
    await assert.rejects(q.submit(job('w2')), (err) => {
      hasCode('QUEUE_FULL', 503)(err);
      assert.equal((err as AppError).retryAfterS, 1);
      return true;
    });
    // Another model has a bound of its own.
    assert.equal(await q.admits('other'), true);
    const o1 = q.submit(job('o1', { model: 'other' }));
    release('run');
    assert.equal((await running).id, 'run');
    // w1 now runs; one place is free again
    assert.equal(await q.admits('m'), true);
    const w2 = q.submit(job('w2'));
    release('w1');
    assert.equal((await w1).id, 'w1');
    release('o1');
    assert.equal((await o1).id, 'o1');
    release('w2');
    assert.equal((await w2).id, 'w2');
    assert.deepEqual(started, ['run', 'w1', 'o1', 'w2']);
    await q.close();
  });

  test('a job past its deadline fails with DEADLINE_EXCEEDED (504) and is never run', async () => {
    const { handler, started, release } = gatedHandler();
    const q = queue(handler, { concurrency: 1 });
    await q.start();
    const blocker = q.submit(job('blocker'));
    const t0 = Date.now();
    const late = q.submit(job('late', { deadlineInMs: 40 }));
    await assert.rejects(late, hasCode('DEADLINE_EXCEEDED', 504));
    assert.ok(Date.now() - t0 >= 35, 'answered at its deadline, not before');
    await sleep(5); // past the deadline by more than the clock's millisecond
    const after = q.submit(job('after'));
    release('blocker');
    await blocker;
    // 'late' reaches the front now: it is skipped and 'after' runs next
    await sleep(10);
    release('after');
    assert.equal((await after).id, 'after');
    assert.deepEqual(started, ['blocker', 'after']);
    await q.close();
  });

  test('a handler throwing JobRejectedError fails only that job, with its code; the next job runs', async () => {
    const q = queue(async (j) => {
      if (j.id === 'bad') throw new JobRejectedError({ code: 'IMAGE_UNREADABLE', detail: 'premature end of JPEG' });
      return result(j);
    });
    await q.start();
    const bad = q.submit(job('bad'));
    const good = q.submit(job('good'));
    await assert.rejects(bad, (err) => {
      hasCode('IMAGE_UNREADABLE', 400)(err);
      assert.equal((err as AppError).detail, 'premature end of JPEG');
      return true;
    });
    assert.equal((await good).id, 'good');
    await q.close();
  });

  test('any other handler error becomes PREDICTION_FAILED (500) for that job only', async () => {
    const q = queue(async (j) => {
      if (j.id === 'crash') throw new Error('onnx exploded');
      return result(j);
    });
    await q.start();
    await assert.rejects(q.submit(job('crash')), (err) => {
      hasCode('PREDICTION_FAILED', 500)(err);
      assert.equal((err as AppError).detail, 'onnx exploded');
      return true;
    });
    assert.equal((await q.submit(job('next'))).id, 'next');
    await q.close();
  });

  test('concurrency: never more than N jobs at once, and N are used', async () => {
    let running = 0;
    let peak = 0;
    const q = queue(
      async (j) => {
        running++;
        peak = Math.max(peak, running);
        await sleep(5);
        running--;
        return result(j);
      },
      { concurrency: 3, maxWaiting: 20 },
    );
    await q.start();
    const results = await Promise.all(Array.from({ length: 12 }, (_, i) => q.submit(job(`c${i}`))));
    assert.deepEqual(
      results.map((r) => r.id),
      Array.from({ length: 12 }, (_, i) => `c${i}`),
    );
    assert.equal(peak, 3);
    assert.equal(running, 0);
    await q.close();
  });

  test('heavy jobs wait in their own line, one at a time besides the others, and take at most an eighth of the bound', async () => {
    const { handler, started, release } = gatedHandler();
    const q = queue(handler, { maxWaiting: 16, concurrency: 1 });
    await q.start();
    const heavy = (id: string) => ({ ...job(id), heavy: true as const });
    const h1 = q.submit(heavy('h1'));
    const h2 = q.submit(heavy('h2'));
    await assert.rejects(q.submit(heavy('h3')), (err: unknown) => hasCode('QUEUE_FULL', 503)(err) && /holds as many very large images .*\(2 queued or running\)/.test((err as AppError).message));
    const o1 = q.submit(job('o1'));
    const o2 = q.submit(job('o2'));
    await sleep(10);
    assert.deepEqual(started, ['h1', 'o1'], 'the first heavy job and the first ordinary one run at once; the rest wait in their lines');
    assert.deepEqual((await q.queueStats(['m'])).get('m'), { length: 4, pending: 2 });
    release('o1');
    await o1;
    await sleep(10);
    assert.deepEqual(started, ['h1', 'o1', 'o2'], 'an ordinary job goes past the heavy one waiting');
    release('o2');
    release('h1');
    await Promise.all([o2, h1]);
    await sleep(10);
    assert.deepEqual(started.at(-1), 'h2');
    release('h2');
    await h2;
    await q.close();
  });

  test('jobs wait until start()', async () => {
    const ran: string[] = [];
    const q = queue(async (j) => {
      ran.push(j.id);
      return result(j);
    });
    const p = q.submit(job('early'));
    await sleep(10);
    assert.deepEqual(ran, []);
    await q.start();
    assert.equal((await p).id, 'early');
    await q.close();
  });

  test('an unknown model → UNKNOWN_MODEL (404)', async () => {
    const q = queue(async (j) => result(j));
    await q.start();
    await assert.rejects(q.submit(job('x', { model: 'nope' })), hasCode('UNKNOWN_MODEL', 404));
    assert.equal((await q.submit(job('y', { model: 'other' }))).model, 'other');
    await q.close();
  });

  test('workerView and ping follow the lifecycle', async () => {
    const q = queue(async (j) => result(j));
    assert.deepEqual((await q.workerView()).served, new Map());
    assert.equal(await q.ping(), true);
    await q.start();
    assert.deepEqual((await q.workerView()).served, new Map([['m', 1], ['other', 1]]));
    await q.close();
    assert.deepEqual((await q.workerView()).served, new Map());
    assert.equal(await q.ping(), false);
  });

  test('close() rejects waiters with NOT_READY at once, is safe twice, and refuses new jobs', async () => {
    const { handler, started, release } = gatedHandler();
    const q = queue(handler, { concurrency: 1 });
    await q.start();
    const running = q.submit(job('running'));
    const waiting = q.submit(job('waiting'));
    const closing = q.close();
    await assert.rejects(running, hasCode('NOT_READY', 503));
    await assert.rejects(waiting, hasCode('NOT_READY', 503));
    await assert.rejects(q.submit(job('later')), hasCode('NOT_READY', 503));
    release('running'); // its late result goes nowhere
    await closing;
    await q.close();
    assert.deepEqual(started, ['running'], 'the waiting job was dropped, not run');
  });

  test('close() lets a running handler finish before it resolves (models are released after it)', async () => {
    const { handler, release } = gatedHandler();
    const q = queue(handler, { concurrency: 1 });
    await q.start();
    const running = q.submit(job('running'));
    running.catch(() => {});
    let closed = false;
    const first = q.close().then(() => (closed = true));
    const second = q.close(); // a second close waits too
    await sleep(20);
    assert.equal(closed, false, 'close() returned while the handler was still running');
    release('running');
    await first;
    await second;
    assert.equal(closed, true);
  });
});
