/**
 * Turns one load step's raw samples and process readings into the numbers the report shows.
 */
import type { LoadRun, Sample, ServerTimings } from './load.ts';
import type { ProcReport } from './proc-stats.ts';
import { distribution, mean, percentileSorted, sortedCopy, type Distribution } from './stats.ts';

export interface StepSpec {
  kind: 'closed' | 'open';
  /** Closed loop: clients. */
  concurrency?: number;
  /** Open loop: arrivals per second. */
  rate?: number;
  /** Open loop: the rate as a multiple of the closed-loop peak, when given that way. */
  rateMultiple?: number;
  label: string;
}

/** Mean and percentiles of one component of the time split. */
export interface SplitPart {
  mean: number;
  p50: number;
  p99: number;
}

export interface StepResult extends StepSpec {
  durationS: number;
  wallS: number;
  sent: number;
  ok: number;
  /** Answers by HTTP status ("0" = no HTTP answer). */
  byStatus: Record<string, number>;
  /** Failures by error code (QUEUE_FULL, DEADLINE_EXCEEDED, ECONNRESET…). */
  errors: Record<string, number>;
  droppedByClient: number;
  /** Requests sent per second. */
  offeredRate: number;
  /** Computed answers (not from the result cache) completed inside the sending window, per second (goodput). */
  throughput: number;
  /** Answers from the service's result cache: counted apart, never in throughput or latency. */
  cacheHits: { count: number; perSecond: number; latency: Distribution };
  /** Successful computed requests, due → answered. */
  latencyOk: Distribution;
  /** Every request, whatever its answer. */
  latencyAll: Distribution;
  /** 503s: how fast the system says no. */
  rejected: { count: number; latency: Distribution; retryAfter: string[] };
  deadline: {
    deadlineMs: number;
    /** 504 answers. */
    status504: number;
    /** Requests answered (any status) later than the deadline after they were sent. */
    overDeadline: number;
    /** Requests the client gave up on (no answer within deadline + grace). */
    clientTimeouts: number;
  };
  /** accepted p99 / p50: how much worse the tail is than the typical request. */
  acceptedTailRatio: number;
  /** From /v1/predict timings (successful requests); clientExtra = client latency − server totalMs. */
  split?: { queue: SplitPart; preprocess: SplitPart; inference: SplitPart; overhead: SplitPart; serverTotal: SplitPart; clientExtra: SplitPart };
  /** p99 of how late the client sent requests: above a few ms the client itself is saturated. */
  sendLagP99Ms: number;
  workersSeen: number;
  procs?: ProcReport;
  /** CPU of api + workers per successful image; compare with the ceiling's core-seconds per image. */
  coreSecondsPerImage?: number;
  /** throughput / ceiling images per second. */
  servedOverCeiling?: number;
}

function part(values: number[]): SplitPart {
  const s = sortedCopy(values);
  return { mean: mean(s), p50: percentileSorted(s, 50), p99: percentileSorted(s, 99) };
}

function splitOf(samples: Sample[]): StepResult['split'] {
  const timed = samples.filter((s): s is Sample & { timings: ServerTimings } => s.status === 200 && s.timings !== undefined && !s.cached);
  if (timed.length === 0) return undefined;
  const pick = (f: (t: ServerTimings) => number) => part(timed.map((s) => f(s.timings)));
  return {
    queue: pick((t) => t.queueMs),
    preprocess: pick((t) => t.preprocessMs),
    inference: pick((t) => t.inferenceMs),
    overhead: pick((t) => t.overheadMs),
    serverTotal: pick((t) => t.totalMs),
    // The client's view minus the server's: HTTP parsing before the handler, loopback, response, client.
    clientExtra: part(timed.map((s) => s.latencyMs - s.sendLagMs - s.timings.totalMs)),
  };
}

/** Summarises one step. `ceilingImagesPerSecond` may be undefined (no ceiling measured). */
export function summariseStep(
  spec: StepSpec,
  run: LoadRun,
  opts: { deadlineMs: number; procs?: ProcReport; ceilingImagesPerSecond?: number },
): StepResult {
  const { samples } = run;
  const byStatus: Record<string, number> = {};
  const errors: Record<string, number> = {};
  for (const s of samples) {
    byStatus[String(s.status)] = (byStatus[String(s.status)] ?? 0) + 1;
    if (s.error) errors[s.error] = (errors[s.error] ?? 0) + 1;
  }
  const answered = samples.filter((s) => s.status === 200 && !s.error);
  const ok = answered.filter((s) => !s.cached);
  const hits = answered.filter((s) => s.cached);
  const rejected = samples.filter((s) => s.status === 503);
  const okInWindow = ok.filter((s) => s.endMs <= run.durationMs).length;
  const durationS = run.durationMs / 1000;
  const throughput = okInWindow / durationS;
  const latencyOk = distribution(ok.map((s) => s.latencyMs));
  const procs = opts.procs;
  const serverCpu = procs ? (procs.api?.cpuSeconds ?? 0) + (procs.workersTotal?.cpuSeconds ?? 0) : undefined;
  return {
    ...spec,
    durationS,
    wallS: run.wallMs / 1000,
    sent: samples.length,
    ok: ok.length,
    byStatus,
    errors,
    droppedByClient: run.droppedByClient,
    offeredRate: samples.length / durationS,
    throughput,
    cacheHits: { count: hits.length, perSecond: hits.filter((s) => s.endMs <= run.durationMs).length / durationS, latency: distribution(hits.map((s) => s.latencyMs)) },
    latencyOk,
    latencyAll: distribution(samples.map((s) => s.latencyMs)),
    rejected: {
      count: rejected.length,
      latency: distribution(rejected.map((s) => s.latencyMs)),
      retryAfter: [...new Set(rejected.map((s) => s.retryAfter ?? '(none)'))],
    },
    deadline: {
      deadlineMs: opts.deadlineMs,
      status504: samples.filter((s) => s.status === 504).length,
      overDeadline: samples.filter((s) => s.status !== 0 && s.latencyMs - s.sendLagMs > opts.deadlineMs).length,
      clientTimeouts: samples.filter((s) => s.error === 'client timeout').length,
    },
    acceptedTailRatio: latencyOk.p99 / latencyOk.p50,
    split: splitOf(samples),
    sendLagP99Ms: percentileSorted(sortedCopy(samples.map((s) => s.sendLagMs)), 99),
    workersSeen: new Set(samples.map((s) => s.worker).filter(Boolean)).size,
    procs,
    coreSecondsPerImage: serverCpu !== undefined && ok.length ? serverCpu / ok.length : undefined,
    servedOverCeiling: opts.ceilingImagesPerSecond ? throughput / opts.ceilingImagesPerSecond : undefined,
  };
}
