/**
 * A model host's metrics (a worker process, or the api process in embedded mode): jobs by model and
 * outcome, the time of each stage of a job per model, jobs running, and each model's load.
 */
import { Counter, Gauge, Histogram, PREFIX, SECONDS_BUCKETS, type MetricsRegistry } from '@icls/lib/metrics/prometheus';

/** Where a job's time goes, in order. */
const STAGES = ['queue_wait', 'decode', 'preprocess', 'inference'] as const;
export type Stage = (typeof STAGES)[number];

export class WorkerMetrics {
  readonly jobs: Counter<'model' | 'outcome'>;
  readonly stages: Histogram<'model' | 'stage'>;
  readonly duration: Histogram<'model'>;
  readonly running: Gauge;
  private readonly loaded: Gauge<'model'>;
  private readonly loadSeconds: Gauge<'model'>;

  constructor(registry: MetricsRegistry) {
    const registers = [registry];
    this.jobs = new Counter({
      name: `${PREFIX}jobs_total`,
      help: 'Jobs finished by this worker, by model and outcome ("ok", or the error code of the failure).',
      labelNames: ['model', 'outcome'],
      registers,
    });
    this.stages = new Histogram({
      name: `${PREFIX}job_stage_seconds`,
      help: 'Time of each stage of a job, by model: queue_wait (enqueued by the api → taken by a worker; clocks of two hosts), decode (wait for decode memory, DECODE_MEMORY_BYTES; read, decode, orient, resize), preprocess (pixels → tensor), inference.',
      labelNames: ['model', 'stage'],
      buckets: SECONDS_BUCKETS,
      registers,
    });
    this.duration = new Histogram({
      name: `${PREFIX}job_duration_seconds`,
      help: 'Time a worker spent on a job, from taking it to its result, by model.',
      labelNames: ['model'],
      buckets: SECONDS_BUCKETS,
      registers,
    });
    this.running = new Gauge({ name: `${PREFIX}jobs_running`, help: 'Jobs this worker is handling now.', registers });
    this.loaded = new Gauge({
      name: `${PREFIX}model_loaded`,
      help: 'Models this worker was meant to serve: 1 loaded and served, 0 broken (it did not load; the reason is in the log and /v1/models).',
      labelNames: ['model'],
      registers,
    });
    this.loadSeconds = new Gauge({
      name: `${PREFIX}model_load_seconds`,
      help: 'Time this worker took to load each model it serves (ONNX Runtime session and checks).',
      labelNames: ['model'],
      registers,
    });
  }

  /** Also starts the model's job series at 0, so a rate over them exists before its first job. */
  modelLoaded(model: string, seconds: number): void {
    this.loaded.set({ model }, 1);
    this.loadSeconds.set({ model }, seconds);
    this.jobs.inc({ model, outcome: 'ok' }, 0);
    this.duration.zero({ model });
    for (const stage of STAGES) this.stages.zero({ model, stage });
  }

  modelBroken(model: string): void {
    this.loaded.set({ model }, 0);
  }
}
