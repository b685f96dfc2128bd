/**
 * A request queued while its model awaits a restarted worker (the restart grace) that never comes: its
 * 504 says no worker took the job, not that the model was slow. The real PredictService on a stand-in
 * queue whose workers the test starts and stops; a job times out at its deadline as the Redis queue's do.
 */
import assert from 'node:assert/strict';
import { it } from 'node:test';
import { AppError, isAppError } from '@icls/lib/errors';
import type { JobData, JobProducer, JobResult, WorkerView } from '@icls/lib/job-contract';
import { PredictService } from './predict-service.ts';

let served = new Map<string, number>([['m', 1]]);
let broken = new Map<string, string>();
let queueDown = false;
const queue: JobProducer = {
  submit: (job: JobData) =>
    new Promise<JobResult>((_, reject) => setTimeout(() => reject(new AppError('DEADLINE_EXCEEDED', 'no answer within the deadline')), job.deadline - Date.now())),
  workerView: async (): Promise<WorkerView> => {
    if (queueDown) throw new AppError('NOT_READY', 'the queue (Redis) is unreachable');
    return { served: new Map(served), broken: new Map(broken) };
  },
  admits: async () => true,
  ping: async () => true,
  queueStats: async () => new Map(),
  close: async () => undefined,
};
const upload = { name: 'a.png', md5: 'a', bytes: 1, held: { buffer: Buffer.from('x') }, image: { format: 'png', width: 1, height: 1, bytesPerPixel: 3 } } as never;
const stored = Promise.resolve({ path: '/nowhere/a.png' } as never);
const predictOnce = (predictor: PredictService) =>
  predictor.predict(upload, stored, { topK: 1, receivedAt: Date.now(), jobId: `j${Math.random()}` }).then(
    () => assert.fail('answered'),
    (err: unknown) => err,
  );
const settle = () => new Promise((r) => setTimeout(r, 300)); // past the service's view cache
const predictorFor = (timeoutMs: number) => new PredictService(queue, { timeoutMs, imageTransport: 'path', inlineImageBytes: 1024, resultCache: false, restartGraceMs: 10_000 });

/** A service that saw m served, then its last worker go: m is awaited (the restart grace). */
async function afterLastWorkerLeft(timeoutMs: number): Promise<PredictService> {
  served = new Map([['m', 1]]);
  const predictor = predictorFor(timeoutMs);
  await predictor.servedModels();
  served = new Map();
  await settle();
  return predictor;
}

it('a job queued for a worker that never came back: the 504 says no worker took it', async () => {
  const predictor = await afterLastWorkerLeft(200);
  const err = await predictOnce(predictor);
  assert.ok(isAppError(err) && err.code === 'DEADLINE_EXCEEDED', String(err));
  assert.match(err.message, /no worker took the job: model "m" has had no live worker since its last one stopped/);
});

it('a job that times out while a worker holds the model keeps the plain deadline message', async () => {
  served = new Map([['m', 1]]);
  const predictor = predictorFor(200);
  const err = await predictOnce(predictor);
  assert.ok(isAppError(err) && err.code === 'DEADLINE_EXCEEDED', String(err));
  assert.equal(err.message, 'The prediction did not finish before its deadline: no answer within the deadline');
});

it('a worker that came back but did not answer in time: the plain deadline message', async () => {
  const predictor = await afterLastWorkerLeft(400);
  const pending = predictOnce(predictor);
  served = new Map([['m', 1]]);
  const err = await pending;
  assert.ok(isAppError(err) && err.code === 'DEADLINE_EXCEEDED', String(err));
  assert.equal(err.message, 'The prediction did not finish before its deadline: no answer within the deadline');
});

it('a worker came back but could not load the model: the 504 says so, with its reason', async () => {
  const predictor = await afterLastWorkerLeft(400);
  const pending = predictOnce(predictor);
  broken = new Map([['m', 'model.onnx: protobuf parsing failed']]);
  try {
    const err = await pending;
    assert.ok(isAppError(err) && err.code === 'DEADLINE_EXCEEDED', String(err));
    assert.match(err.message, /no worker took the job: the worker that came back could not load model "m": model\.onnx: protobuf parsing failed/);
  } finally {
    broken = new Map();
  }
});

it('a job whose only worker died after it was queued (still counted live then): the 504 says no worker took it', async () => {
  served = new Map([['m', 1]]);
  const predictor = predictorFor(400);
  const pending = predictOnce(predictor);
  await new Promise((r) => setTimeout(r, 100));
  served = new Map(); // its heartbeat went stale while the job waited
  const err = await pending;
  assert.ok(isAppError(err) && err.code === 'DEADLINE_EXCEEDED', String(err));
  assert.match(err.message, /no worker took the job: model "m" has had no live worker/);
});

it('a job that timed out while the queue does not answer: the 504 names the queue, not the workers', async () => {
  served = new Map([['m', 1]]);
  const predictor = predictorFor(300);
  const pending = predictOnce(predictor);
  queueDown = true;
  try {
    const err = await pending;
    assert.ok(isAppError(err) && err.code === 'DEADLINE_EXCEEDED', String(err));
    assert.equal(err.message, 'The prediction did not finish before its deadline: the queue (Redis) is unreachable, so the job or its answer could not get through; try again in a moment');
  } finally {
    queueDown = false;
  }
});

it('an api idle for longer than the grace still queues for the successor of a worker that just died', async () => {
  served = new Map([['m', 1]]);
  const predictor = new PredictService(queue, { timeoutMs: 200, imageTransport: 'path', inlineImageBytes: 1024, resultCache: false, restartGraceMs: 2500 });
  const failures: unknown[] = [];
  const stop = predictor.watchWorkers((err) => failures.push(err));
  try {
    await predictor.servedModels(); // a request when it started, then none
    await new Promise((r) => setTimeout(r, 3000)); // idle past the grace
    served = new Map();
    await settle();
    const err = await predictOnce(predictor);
    assert.ok(isAppError(err) && err.code === 'DEADLINE_EXCEEDED', `queued for a successor, not refused: ${String(err)}`);
    assert.deepEqual(failures, []);
  } finally {
    stop();
  }
});

it('a request naming a model when no worker runs at all: 503 (retried by clients), not 404', async () => {
  served = new Map();
  const predictor = predictorFor(200);
  const err = await predictor.admit('m').then(
    () => assert.fail('admitted'),
    (e: unknown) => e,
  );
  assert.ok(isAppError(err) && err.code === 'NOT_READY', String(err));
  assert.match(err.message, /no worker holds model "m" \(none has started yet, or every one has stopped\)/);
  served = new Map([['other', 1]]);
  const unknown = await predictorFor(200).admit('m').then(
    () => assert.fail('admitted'),
    (e: unknown) => e,
  );
  assert.ok(isAppError(unknown) && unknown.code === 'UNKNOWN_MODEL', String(unknown));
});
