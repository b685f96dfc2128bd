/**
 * The bench's result document from a run's measurements: the machine and settings, the headline
 * (peak, saturation), the targets of issue 13 judged, and notes on anything that makes the numbers
 * less trustworthy (other work on the machine, a late load generator).
 */
import { cpus, hostname, loadavg, release, totalmem } from 'node:os';
import type { Config } from '@icls/lib/config';
import { workerProcessCount } from '@icls/lib/worker-plan';
import type { BenchArgs } from './args.ts';
import type { CeilingResult } from './ceiling.ts';
import type { ImageSet } from './images.ts';
import type { BenchResult } from './report.ts';
import { fmt } from './stats.ts';
import type { StepResult } from './steps.ts';

/** What the run knows besides its measurements. */
export interface RunFacts {
  startedAt: string;
  loadavgAtStart: number[];
  url: string;
  mode?: string;
  apiPid?: number;
}

/** One line per finished step, for the terminal. */
export function stepLine(s: StepResult): string {
  const errs = Object.entries(s.errors)
    .map(([k, v]) => `${k}×${v}`)
    .join(' ');
  const split = s.split
    ? ` | queue ${fmt(s.split.queue.mean, 1)} pre ${fmt(s.split.preprocess.mean, 1)} inf ${fmt(s.split.inference.mean, 1)} overhead ${fmt(s.split.overhead.mean, 1)} ms`
    : '';
  const cpu = s.procs ? ` | api ${fmt(s.procs.api?.cpuPct, 0)}% workers ${fmt(s.procs.workersTotal?.cpuPct, 0)}% client ${fmt(s.procs.client.cpuPct, 0)}%` : '';
  return (
    `${fmt(s.throughput, 1)}/s served of ${fmt(s.offeredRate, 1)}/s sent, p50 ${fmt(s.latencyOk.p50, 0)} p99 ${fmt(s.latencyOk.p99, 0)} ms` +
    `${errs ? `, errors ${errs}` : ''}${split}${cpu}`
  );
}

export function buildResult(
  args: BenchArgs,
  config: Config,
  images: ImageSet,
  ceiling: CeilingResult | undefined,
  healthz: BenchResult['healthz'],
  steps: StepResult[],
  facts: RunFacts,
  peakStep: StepResult | undefined,
  base: number | undefined,
): BenchResult {
  const { startedAt, url } = facts;
  const notes: string[] = [];
  if (ceiling && ceiling.sequential.othersBusyPct > 15) {
    notes.push(`other work used ${fmt(ceiling.sequential.othersBusyPct, 0)}% of the machine during the ceiling measurement: contention inflates core-seconds per image; rerun on a quiet machine for a firm ceiling.`);
  }
  for (const s of steps) {
    const p = s.procs;
    if (p) {
      const ours = ((p.api?.cpuPct ?? 0) + (p.workersTotal?.cpuPct ?? 0) + (p.otherChildren?.cpuPct ?? 0) + (p.redis?.cpuPct ?? 0) + p.client.cpuPct) / cpus().length;
      const others = p.machineBusyPct - ours;
      if (others > 15) notes.push(`${s.label}: other work used ~${fmt(others, 0)}% of the machine meanwhile.`);
    }
    if (s.sendLagP99Ms > 20) notes.push(`${s.label}: the client sent requests up to ${fmt(s.sendLagP99Ms, 0)} ms late (p99): the load generator was short of CPU; its lateness is inside the latencies.`);
    if (s.droppedByClient) notes.push(`${s.label}: ${s.droppedByClient} arrivals were not sent (client in-flight cap reached).`);
  }
  if (!steps.some((s) => s.procs)) notes.push('no process statistics: the target was not started by the bench (give --pid with --url on this machine) or /proc is unavailable.');
  const workers = args.url ? undefined : (args.workers ?? workerProcessCount(config));
  const maxSeen = Math.max(0, ...steps.map((s) => s.workersSeen));
  if (workers !== undefined && maxSeen < workers) notes.push(`only ${maxSeen} of ${workers} workers answered during the steps.`);
  notes.push('the load generator runs on the same machine and competes for the same cores (see client CPU).');

  // The saturation summary comes from the highest open-loop rate, when it is ≥ 2× the peak.
  const open = steps.filter((s) => s.kind === 'open');
  const top = open[open.length - 1];
  const topMultiple = top?.rateMultiple ?? (top?.rate && base ? top.rate / base : undefined);
  const saturation: BenchResult['saturation'] =
    top && topMultiple !== undefined && topMultiple >= 1.99
      ? {
          step: top.label,
          rateMultiple: topMultiple,
          rejected: top.rejected.count,
          rejectedP50Ms: top.rejected.latency.p50,
          rejectedP99Ms: top.rejected.latency.p99,
          status504: top.deadline.status504,
          overDeadline: top.deadline.overDeadline,
          anyOverDeadline: top.deadline.overDeadline > 0,
          acceptedP50Ms: top.latencyOk.p50,
          acceptedP99Ms: top.latencyOk.p99,
          acceptedP99OverP50: top.acceptedTailRatio,
        }
      : undefined;
  return {
    version: 1,
    startedAt,
    finishedAt: '',
    elapsedS: 0,
    model: args.model,
    modelsDir: args.modelsDir,
    quick: args.quick,
    machine: describeMachine(facts.loadavgAtStart),
    target: { url, startedByBench: !args.url, mode: facts.mode, apiPid: facts.apiPid, endpoint: `POST /v1/predict?model=${args.model}` },
    config: {
      ORT_THREADS: config.ORT_THREADS,
      WORKER_CONCURRENCY: config.WORKER_CONCURRENCY,
      ...(workers !== undefined ? { MODEL_WORKERS: workers } : {}),
      QUEUE_MAX_WAITING: config.QUEUE_MAX_WAITING,
      REQUEST_TIMEOUT_MS: config.REQUEST_TIMEOUT_MS,
      MAX_PIXELS: config.MAX_PIXELS,
      IMAGE_TRANSPORT: config.IMAGE_TRANSPORT,
      INLINE_IMAGE_BYTES: config.INLINE_IMAGE_BYTES,
      INLINE_LONE_IMAGE_BYTES: config.INLINE_LONE_IMAGE_BYTES,
      WORKER_NICE: config.WORKER_NICE,
      arrivals: args.arrivals,
      stepSeconds: args.durationS,
    },
    images: images.images.map((i) => ({ name: i.name, width: i.width, height: i.height, bytes: i.bytes.length })),
    ceiling,
    healthz,
    steps,
    peak: peakStep ? { throughput: peakStep.throughput, step: peakStep.label } : undefined,
    saturation,
    targets: judgeTargets(ceiling, steps, peakStep, saturation),
    notes,
  };
}


/** The targets of issue 13 this run can judge (the overhead target is `--overhead`'s). */
export function judgeTargets(ceiling: CeilingResult | undefined, steps: StepResult[], peakStep: StepResult | undefined, saturation: BenchResult['saturation']): BenchResult['targets'] {
  const targets: NonNullable<BenchResult['targets']> = {};
  const one = steps.find((s) => s.kind === 'closed' && s.concurrency === 1);
  if (ceiling && one && Number.isFinite(one.latencyOk.p50)) {
    const margin = one.latencyOk.p50 - ceiling.floorMs;
    targets.floor = { floorMs: ceiling.floorMs, p50AtOneClientMs: one.latencyOk.p50, marginMs: margin, met: margin <= 3 };
  }
  if (ceiling && peakStep) {
    const ratio = peakStep.throughput / ceiling.imagesPerSecond;
    targets.ceiling = { peak: peakStep.throughput, ceiling: ceiling.imagesPerSecond, ratio, met95: ratio >= 0.95, met85: ratio >= 0.85 };
  }
  if (saturation) {
    const late = saturation.status504 > 0 || saturation.anyOverDeadline;
    targets.overload = { step: saturation.step, rejected: saturation.rejected, rejectedP99Ms: saturation.rejectedP99Ms, acceptedP99OverP50: saturation.acceptedP99OverP50, late, met: !late && saturation.acceptedP99OverP50 <= 1.5 };
  }
  return targets;
}

/** The machine a result was measured on, with its load average at the start and now (the end). */
export function describeMachine(loadavgAtStart: number[]): BenchResult['machine'] {
  const cpu = cpus();
  return {
    hostname: hostname(),
    cpuModel: cpu[0]?.model.trim() ?? 'unknown',
    cores: cpu.length,
    memoryGB: totalmem() / 1e9,
    node: process.versions.node,
    kernel: release(),
    loadavgAtStart,
    loadavgAtEnd: loadavg(),
  };
}
