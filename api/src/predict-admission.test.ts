/**
 * Admission before an upload is read: requests let in count against the model's queue bound until
 * their job is queued, so a burst of arrivals is not all let in to be refused only after its uploads
 * were read (in-process queue with a held handler, the real PredictService).
 */
import assert from 'node:assert/strict';
import { after, it } from 'node:test';
import { isAppError } from '@icls/lib/errors';
import type { JobResult } from '@icls/lib/job-contract';
import { createLogger } from '@icls/lib/logger';
import { MemoryQueue } from '@icls/lib/queue/memory-queue';
import { PredictService } from './predict-service.ts';

const release: (() => void)[] = [];
const queue = new MemoryQueue({
  maxWaiting: 2,
  concurrency: 1,
  models: ['m'],
  log: createLogger('silent', 'test'),
  handler: (job) =>
    new Promise<JobResult>((resolve) =>
      release.push(() => resolve({ id: job.id, model: job.model, modelVersion: '1', predictions: [], timings: { queueMs: 0, preprocessMs: 0, inferenceMs: 0 } } as unknown as JobResult)),
    ),
});
await queue.start();
after(() => queue.close());
const predictor = new PredictService(queue, { timeoutMs: 5000, imageTransport: 'path', inlineImageBytes: 0, resultCache: false });
const upload = { name: 'a.png', md5: 'a', bytes: 1, held: undefined, image: { format: 'png' as const, width: 1, height: 1, bytesPerPixel: 3 } };
const refused = (err: unknown) => isAppError(err) && err.code === 'QUEUE_FULL';

it('a burst is let in only as far as the queue has room; a released admission makes room again', async () => {
  const results = await Promise.allSettled([predictor.admit(undefined), predictor.admit(undefined), predictor.admit(undefined)]);
  assert.deepEqual(results.map((r) => r.status), ['fulfilled', 'fulfilled', 'rejected']);
  assert.ok(refused((results[2] as PromiseRejectedResult).reason));
  const [first, second] = results.map((r) => (r.status === 'fulfilled' ? r.value : undefined));
  first!.release();
  first!.release(); // twice is once
  const third = await predictor.admit('m');
  await assert.rejects(predictor.admit('m'), refused);
  second!.release();
  third.release();
});

it('an admission becomes the queued job: the job, not both, holds the place', async () => {
  const admission = await predictor.admit('m');
  const answered = predictor.predict(upload, Promise.resolve({ ...upload, path: '/nowhere/a.png' }), {
    model: 'm',
    topK: 1,
    receivedAt: Date.now(),
    jobId: 'job-1',
    admission,
  });
  while (release.length === 0) await new Promise((r) => setTimeout(r, 5));
  // One job in the queue, no admission outstanding: one more fits, then the bound of 2 is reached.
  const next = await predictor.admit('m');
  await assert.rejects(predictor.admit('m'), refused);
  next.release();
  release.shift()!();
  await answered;
  (await predictor.admit('m')).release();
});

it('an upload still arriving after the hold no longer holds a place: a trickle cannot fill the queue', async () => {
  const held = new PredictService(queue, { timeoutMs: 5000, imageTransport: 'path', inlineImageBytes: 0, resultCache: false, admissionHoldMs: 150 });
  const trickling = [await held.admit('m'), await held.admit('m')];
  await assert.rejects(held.admit('m'), refused, 'two uploads being read fill a bound of 2');
  await new Promise((r) => setTimeout(r, 200));
  const next = await held.admit('m');
  assert.equal(next.others(), 0, 'the two trickling uploads count no more');
  for (const a of [...trickling, next]) a.release();
});

it('with its one model full, a request that may name a model in its form is refused at once: its form can name no model with room', async () => {
  const taken = [await predictor.admit('m'), await predictor.admit('m')];
  await assert.rejects(predictor.admit(undefined, { bodyMayName: true }), refused);
  for (const a of taken) a.release();
  const admitted = await predictor.admit(undefined, { bodyMayName: true });
  assert.equal(admitted.refusal, undefined);
  admitted.release();
});
