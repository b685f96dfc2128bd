/**
 * Measures each job a model host runs: wraps its job handler to count outcomes and time stages
 * (metrics), and, when tracing is on, records the job as a span that joins the api's trace (the
 * `traceparent` the job carries), with a child span per stage. Spans are made after the fact from
 * the stage times, so the handler's hot path only notes four timestamps.
 */
import { JobRejectedError, type JobData, type JobHandler } from '@icls/lib/job-contract';
import type { Span, Tracing } from '@icls/lib/tracing/tracing';
import type { Stage, WorkerMetrics } from './worker-metrics.ts';

/** `performance.now()` at the edges of a job's stages in the worker. */
export interface StageMarks {
  start: number;
  decoded: number;
  preprocessed: number;
  inferred: number;
}

const STAGES: [Exclude<Stage, 'queue_wait'>, keyof StageMarks, keyof StageMarks][] = [
  ['decode', 'start', 'decoded'],
  ['preprocess', 'decoded', 'preprocessed'],
  ['inference', 'preprocessed', 'inferred'],
];

/** Epoch milliseconds (with fractions) of a `performance.now()` reading. */
const epochMs = (perfMs: number) => performance.timeOrigin + perfMs;

export class JobTelemetry {
  /** Marks of the jobs running now, by job id (at most WORKER_CONCURRENCY entries: removed when the job ends). */
  private readonly marks = new Map<string, StageMarks>();
  private readonly models: Set<string>;

  constructor(
    private readonly metrics: WorkerMetrics,
    private readonly tracing: Tracing,
    private readonly workerId: string,
    models: string[],
  ) {
    this.models = new Set(models);
  }

  /** Told by the job handler once a job's image has been classified. */
  readonly stagesDone = (job: JobData, marks: StageMarks): void => {
    this.marks.set(job.id, marks);
  };

  wrap(handler: JobHandler): JobHandler {
    return async (job) => {
      const startedPerf = performance.now();
      // A label from a job that names a model this worker does not hold is not kept (it is refused anyway).
      const model = this.models.has(job.model) ? job.model : 'other';
      this.metrics.running.inc();
      let failure: string | undefined;
      try {
        return await handler(job);
      } catch (err) {
        failure = err instanceof JobRejectedError ? err.failure.code : 'PREDICTION_FAILED';
        throw err;
      } finally {
        const endedPerf = performance.now();
        const marks = this.marks.get(job.id);
        this.marks.delete(job.id);
        this.metrics.running.dec();
        this.metrics.jobs.inc({ model, outcome: failure ?? 'ok' });
        this.metrics.duration.observe({ model }, (endedPerf - startedPerf) / 1000);
        const queueWaitMs = Math.max(0, epochMs(startedPerf) - job.enqueuedAt);
        this.metrics.stages.observe({ model, stage: 'queue_wait' }, queueWaitMs / 1000);
        if (marks) for (const [stage, from, to] of STAGES) this.metrics.stages.observe({ model, stage }, (marks[to] - marks[from]) / 1000);
        if (this.tracing.enabled) this.spans(job, { startedPerf, endedPerf, queueWaitMs, marks, failure });
      }
    };
  }

  private spans(job: JobData, t: { startedPerf: number; endedPerf: number; queueWaitMs: number; marks?: StageMarks; failure?: string }): void {
    const root: Span = this.tracing.startSpan('run job', {
      kind: 'consumer',
      parent: job.traceparent,
      startMs: epochMs(t.startedPerf),
      attributes: {
        'job.id': job.id,
        'request.id': job.requestId,
        model: job.model,
        'worker.id': this.workerId,
        'queue.wait_ms': Math.round(t.queueWaitMs),
      },
    });
    if (t.marks) {
      for (const [stage, from, to] of STAGES) {
        this.tracing.startSpan(stage, { parent: root, startMs: epochMs(t.marks[from]) }).end(epochMs(t.marks[to]));
      }
    }
    if (t.failure) root.fail(t.failure);
    root.end(epochMs(t.endedPerf));
  }
}
