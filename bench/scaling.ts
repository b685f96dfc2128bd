/**
 * `npm run bench -- --scaling`: how cost grows. The system runs with 1 and 2 worker processes and 1
 * and 2 api processes, on a redis-server of its own (so its counters hold this run and nothing else),
 * under the same closed loop; for each layout: throughput, latency, CPU and peak RSS per process, and
 * what Redis did per request (commands, bytes in and out, its CPU). docs/bench.md turns these into a
 * capacity plan for many hosts.
 */
import { startPrivateRedis } from '../tests/helpers/redis-server.ts';
import type { BenchImage } from './images.ts';
import { RoundRobinClient } from './http-client.ts';
import { runClosed, warmUpPass, type LoadTarget } from './load.ts';
import { pidListeningOn, procAvailable, ProcSampler, type ProcReport } from './proc-stats.ts';
import { RedisStatsReader, perRequest, type RedisPerRequest } from './redis-stats.ts';
import { fmt, textTable } from './stats.ts';
import { summariseStep, type StepResult } from './steps.ts';
import { startExtraApi, startSystem, type ExtraApi, type RunningSystem } from './system.ts';
import type { DistinctUploads } from './distinct-upload.ts';

export interface Layout {
  workers: number;
  apis: number;
}

export const LAYOUTS: Layout[] = [
  { workers: 1, apis: 1 },
  { workers: 2, apis: 1 },
  { workers: 1, apis: 2 },
  { workers: 2, apis: 2 },
];

export interface ScalingOptions {
  modelsDir: string;
  model: string;
  images: readonly BenchImage[];
  concurrency: number;
  durationS: number;
  timeoutMs: number;
  deadlineMs: number;
  distinct?: DistinctUploads;
  readyTimeoutMs: number;
  log: (msg: string) => void;
  /** Polled between layouts: true stops (Ctrl-C). */
  aborted: () => boolean;
}

export interface LayoutResult extends Layout {
  step: StepResult;
  redis: RedisPerRequest;
  /** CPU per computed answer, core-ms, by role. */
  cpuMsPerImage: { api?: number; workers?: number; redis: number; client?: number };
  /** Peak RSS, MB, summed over the processes of a role. */
  rssMB: { api?: number; workers?: number; redis: number };
}

/** Runs every layout in turn; each starts from a fresh system on the same private Redis. */
export async function measureScaling(opts: ScalingOptions): Promise<LayoutResult[]> {
  const redis = await startPrivateRedis();
  opts.log(`scaling: own redis-server at ${redis.url}`);
  const results: LayoutResult[] = [];
  try {
    for (const layout of LAYOUTS) {
      if (opts.aborted()) break;
      results.push(await measureLayout(layout, redis.url, redis.port, opts));
    }
  } finally {
    await redis.stop();
  }
  return results;
}

async function measureLayout(layout: Layout, redisUrl: string, redisPort: number, opts: ScalingOptions): Promise<LayoutResult> {
  const { log } = opts;
  log(`scaling: ${layout.workers} worker process(es), ${layout.apis} api process(es)`);
  let system: RunningSystem | undefined;
  const extras: ExtraApi[] = [];
  let client: RoundRobinClient | undefined;
  try {
    system = await startSystem({ modelsDir: opts.modelsDir, model: opts.model, workers: layout.workers, readyTimeoutMs: opts.readyTimeoutMs, log, env: { REDIS_URL: redisUrl } });
    for (let i = 1; i < layout.apis; i++) extras.push(await startExtraApi(system, { readyTimeoutMs: opts.readyTimeoutMs, log }));
    client = new RoundRobinClient([system.url, ...extras.map((e) => e.url)]);
    const target: LoadTarget = { client, images: opts.images, path: `/v1/predict?model=${encodeURIComponent(opts.model)}`, timeoutMs: opts.timeoutMs, distinct: opts.distinct, aborted: opts.aborted };
    await warmUpPass(target);
    await runClosed(target, { concurrency: opts.concurrency, durationMs: 3000 });

    const redisPid = pidListeningOn(redisPort);
    const roles = [...extras.map((e) => ({ role: 'api', pid: e.pid })), ...(redisPid === undefined ? [] : [{ role: 'redis', pid: redisPid }])];
    const sampler = procAvailable() ? new ProcSampler(system.pid, roles) : undefined;
    const stats = new RedisStatsReader(redisUrl);
    try {
      const before = await stats.read();
      sampler?.start();
      const run = await runClosed(target, { concurrency: opts.concurrency, durationMs: opts.durationS * 1000 });
      const procs = sampler?.stop();
      const after = await stats.read();
      const step = summariseStep({ kind: 'closed', concurrency: opts.concurrency, label: `${layout.workers}w ${layout.apis}a c=${opts.concurrency}` }, run, { deadlineMs: opts.deadlineMs, procs });
      // Every request Redis served, computed or not, and the warm-up's stragglers are out of the window.
      const redisPer = perRequest(before, after, step.ok + step.cacheHits.count);
      log(`scaling: ${fmt(step.throughput, 1)} images/s, p50 ${fmt(step.latencyOk.p50, 0)} ms, Redis ${fmt(redisPer.commands, 1)} commands and ${fmt(redisPer.bytesIn / 1024, 0)} KiB in per request`);
      return { ...layout, step, redis: redisPer, cpuMsPerImage: cpuPerImage(procs, step.ok, redisPer.cpuMs), rssMB: { api: procs?.api?.rssMaxMB, workers: procs?.workersTotal?.rssMaxMB, redis: after.usedMemoryBytes / 1048576 } };
    } finally {
      stats.close();
    }
  } finally {
    client?.close();
    await Promise.all(extras.map((e) => e.stop()));
    await system?.stop();
  }
}

function cpuPerImage(procs: ProcReport | undefined, images: number, redisMs: number): LayoutResult['cpuMsPerImage'] {
  const per = (s: number | undefined) => (s === undefined || images === 0 ? undefined : (s * 1000) / images);
  return { api: per(procs?.api?.cpuSeconds), workers: per(procs?.workersTotal?.cpuSeconds), redis: redisMs, client: per(procs?.client.cpuSeconds) };
}

/** The scaling tables: rows for the terminal and the Markdown report. */
export function scalingTables(results: LayoutResult[]): { title: string; intro?: string; rows: string[][] }[] {
  const ms = (v: number | undefined) => fmt(v, 2);
  const top = (r: RedisPerRequest) => Object.entries(r.calls).slice(0, 8).map(([k, v]) => `${k} ${fmt(v, 2)}`).join(', ');
  return [
    {
      title: 'Scaling: layouts',
      intro: 'Same closed loop for each layout; its own redis-server. CPU per computed image in core-ms; RSS peaks in MB (summed over the processes of a role; Redis: used_memory).',
      rows: [
        ['layout', 'images/s', 'p50 ms', 'p99 ms', 'api CPU', 'workers CPU', 'redis CPU', 'client CPU', 'api RSS', 'workers RSS', 'redis MB'],
        ...results.map((r) => [
          r.step.label,
          fmt(r.step.throughput, 1),
          fmt(r.step.latencyOk.p50, 0),
          fmt(r.step.latencyOk.p99, 0),
          ms(r.cpuMsPerImage.api),
          ms(r.cpuMsPerImage.workers),
          ms(r.cpuMsPerImage.redis),
          ms(r.cpuMsPerImage.client),
          fmt(r.rssMB.api, 0),
          fmt(r.rssMB.workers, 0),
          fmt(r.rssMB.redis, 1),
        ]),
      ],
    },
    {
      title: 'Scaling: Redis per request',
      intro:
        'From INFO before and after each layout\'s run (no MONITOR), divided by the answers: heartbeats and takeover sweeps are in it too. ' +
        'Commands include those a Lua script runs; scripts: EVALSHA calls (one round trip each).',
      rows: [
        ['layout', 'commands', 'scripts', 'KiB in', 'KiB out', 'redis core-ms', 'most called (per request)'],
        ...results.map((r) => [r.step.label, fmt(r.redis.commands, 1), fmt(r.redis.scripts, 2), fmt(r.redis.bytesIn / 1024, 1), fmt(r.redis.bytesOut / 1024, 1), ms(r.redis.cpuMs), top(r.redis)]),
      ],
    },
  ];
}

/** The tables as plain text. */
export function renderScalingText(results: LayoutResult[]): string {
  return scalingTables(results)
    .map((t) => `\n== ${t.title} ==\n${textTable(t.rows)}`)
    .join('\n');
}
