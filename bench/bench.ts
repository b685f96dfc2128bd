/**
 * `npm run bench`: one run on one machine, one model, one image set.
 *
 *  1. ceiling: the model alone in this process (before anything else runs);
 *  2. the system: started from start.ts (or `--url`), warmed up;
 *  3. closed loop at each concurrency, then open loop at each rate (× the closed-loop peak);
 *  4. JSON + Markdown + SVG into bench/results/, tables on the terminal.
 * `--overhead` instead measures the serving layer's own cost at one client.
 */
import { cpus, hostname, loadavg, release, totalmem } from 'node:os';
import { ConfigError, DEFAULT_REDIS_URL, loadConfig, ortThreadsPerSession, workerProcessCount, type Config } from '@icls/lib/config';
import { HELP, parseBenchArgs, UsageError, type BenchArgs } from './args.ts';
import { measureCeiling, type CeilingResult } from './ceiling.ts';
import { renderChart } from './chart-svg.ts';
import { HttpClient } from './http-client.ts';
import { describeImages, loadImageSet, type ImageSet } from './images.ts';
import { runClosed, runOpen, warmUpPass, type LoadTarget } from './load.ts';
import { resolveModel } from './model-source.ts';
import { measureHealthz, measureOverhead, renderOverhead } from './overhead.ts';
import { pidListeningOn, procAvailable, ProcSampler } from './proc-stats.ts';
import { renderText, writeResults, type BenchResult } from './report.ts';
import { fmt } from './stats.ts';
import { summariseStep, type StepResult, type StepSpec } from './steps.ts';
import { checkReachable, startSystem, waitReady, type RunningSystem } from './system.ts';

const started = performance.now();
const elapsed = () => {
  const s = Math.floor((performance.now() - started) / 1000);
  return `${String(Math.floor(s / 60)).padStart(2, '0')}:${String(s % 60).padStart(2, '0')}`;
};
const log = (msg: string) => console.log(`[${elapsed()}] ${msg}`);

/** Time the system gets to load its model and answer /readyz. */
const READY_TIMEOUT_MS = 180_000;
/** Pause between steps so the previous step's stragglers (expired jobs) are out of the way. */
const SETTLE_MS = 1000;
/** The client gives up on a request this long after the server's own deadline. */
const CLIENT_GRACE_MS = 5000;

let system: RunningSystem | undefined;
/** Set by Ctrl-C: the load loops stop sending, and no further step starts. */
let interrupted = false;

async function main(): Promise<void> {
  const args = parseBenchArgs(process.argv.slice(2));
  if (args.help) {
    console.log(HELP);
    return;
  }
  const config = loadConfig();
  // Fail fast: an unreachable target should not cost the image generation and the ceiling first.
  if (args.url) await checkReachable(args.url);
  const images = await loadImageSet(args.images, log);
  for (const s of images.skipped) log(`skipping image ${s.name}: ${s.reason}`);
  log(`${images.images.length} images: ${describeImages(images.images)}`);

  process.once('SIGINT', () => {
    interrupted = true;
    log('interrupted: stopping the system');
    void (system?.stop() ?? Promise.resolve()).finally(() => process.exit(130));
  });

  if (args.overhead) return overheadMode(args, config, images);

  const needModel = args.ceiling || !args.url;
  const resolved = needModel ? await resolveModel(args.modelsDir, args.model, log) : undefined;

  // 1. The ceiling, while nothing of ours runs.
  let ceiling: CeilingResult | undefined;
  if (args.ceiling && resolved) {
    // The same threads per session as the workers the bench starts will use.
    const threads = ortThreadsPerSession({ ...config, MODEL_WORKERS: args.workers ?? config.MODEL_WORKERS }, { embedded: false });
    log(`ceiling: ${args.model}, ${threads} ORT thread(s) per session, WORKER_CONCURRENCY=${config.WORKER_CONCURRENCY}, ~${args.ceilingSeconds} s`);
    ceiling = await measureCeiling({
      entry: resolved.entry,
      images: images.images,
      threads,
      concurrency: config.WORKER_CONCURRENCY,
      maxPixels: config.MAX_PIXELS,
      warmupSeconds: args.quick ? 0.5 : 2,
      seconds: args.ceilingSeconds,
      parallelSeconds: args.quick ? 1 : 3,
      log,
    });
    log(`ceiling: ${fmt(ceiling.imagesPerSecond, 1)} images/s; single image p50 ${fmt(ceiling.sequential.latencyMs.p50, 1)} ms`);
  }

  // 2. The system.
  const url = await targetUrl(args, resolved?.modelsDir);
  const client = new HttpClient(url);
  try {
    const target: LoadTarget = {
      client,
      images: images.images,
      // The model is named explicitly: a deployment's default may be another model than the ceiling's.
      path: `/v1/predict?model=${encodeURIComponent(args.model)}`,
      timeoutMs: config.REQUEST_TIMEOUT_MS + CLIENT_GRACE_MS,
      aborted: () => interrupted,
    };
    const healthz = await measureHealthz(client, 200);
    log(`HTTP floor: GET /healthz p50 ${fmt(healthz.p50, 2)} ms, p99 ${fmt(healthz.p99, 2)} ms`);
    await warmUp(target, args.quick ? 2000 : 4000);

    // 3. The steps.
    const total = args.concurrency.length + args.rates.length;
    const estimateS = total * (args.durationS + SETTLE_MS / 1000 + 1) + 10;
    log(`plan: ${args.concurrency.length} closed-loop + ${args.rates.length} open-loop steps of ${args.durationS} s (≈ ${Math.ceil(estimateS / 60)} min more)`);
    const steps: StepResult[] = [];
    let n = 0;
    const runStep = async (spec: StepSpec, run: () => ReturnType<typeof runClosed>) => {
      if (interrupted) return;
      n++;
      log(`step ${n}/${total}: ${spec.label} for ${args.durationS} s`);
      const sampler = processSampler(args);
      sampler?.start();
      const result = await run();
      const step = summariseStep(spec, result, {
        deadlineMs: config.REQUEST_TIMEOUT_MS,
        procs: sampler?.stop(),
        ceilingImagesPerSecond: ceiling?.imagesPerSecond,
      });
      if (interrupted) return;
      steps.push(step);
      log(`step ${n}/${total}: ${stepLine(step)}`);
      await new Promise((r) => setTimeout(r, SETTLE_MS));
    };
    for (const c of args.concurrency) {
      await runStep({ kind: 'closed', concurrency: c, label: `closed c=${c}` }, () => runClosed(target, { concurrency: c, durationMs: args.durationS * 1000 }));
    }
    if (interrupted) return; // the SIGINT handler stops the system and exits
    const closed = steps.filter((s) => s.kind === 'closed');
    const peakStep = closed.reduce<StepResult | undefined>((best, s) => (!best || s.throughput > best.throughput ? s : best), undefined);
    const base = peakStep?.throughput || ceiling?.imagesPerSecond;
    const rates = args.rates
      .map((r) => {
        if ('perSecond' in r) return { rate: r.perSecond, multiple: base ? r.perSecond / base : undefined, given: false };
        if (!base) throw new UsageError('--rates given as multiples ("2x") need a closed-loop step or the ceiling to multiply');
        return { rate: r.multiple * base, multiple: r.multiple, given: true };
      })
      .sort((a, b) => a.rate - b.rate); // overload last: it leaves the system the most disturbed
    for (const r of rates) {
      const label = r.given ? `open ${r.multiple}× (${fmt(r.rate, 1)}/s)` : `open ${fmt(r.rate, 1)}/s`;
      await runStep({ kind: 'open', rate: r.rate, rateMultiple: r.given ? r.multiple : undefined, label }, () =>
        runOpen(target, {
          rate: r.rate,
          durationMs: args.durationS * 1000,
          arrivals: args.arrivals,
          seed: args.seed,
          // Enough for every request to wait out its deadline at this rate, with a hard cap.
          maxOutstanding: Math.min(5000, Math.max(64, Math.ceil((r.rate * config.REQUEST_TIMEOUT_MS) / 1000) * 2)),
        }),
      );
    }

    if (interrupted) return;

    // 4. The report.
    const result = buildResult(args, config, images, ceiling, healthz, steps, url, peakStep, base);
    // 2025-11-27-0605-<model>: the time of day keeps two runs of one day apart.
    const stem = `${result.startedAt.slice(0, 16).replace(':', '').replace('T', '-')}-${args.model}${args.quick ? '-quick' : ''}`;
    const svg = steps.length
      ? renderChart({ title: `${args.model}: latency vs throughput (${result.machine.cores} cores)`, steps, ceilingImagesPerSecond: ceiling?.imagesPerSecond })
      : undefined;
    result.finishedAt = new Date().toISOString();
    result.elapsedS = (performance.now() - started) / 1000;
    const files = await writeResults(args.outDir, stem, result, svg);
    console.log(renderText(result));
    console.log('');
    for (const f of files) log(`wrote ${f}`);
  } finally {
    client.close();
  }
}

/** A sampler of the api, its workers and a local redis-server; undefined when there is no pid to watch. */
function processSampler(args: BenchArgs): ProcSampler | undefined {
  const rootPid = system?.pid ?? args.pid;
  if (rootPid === undefined || !procAvailable()) return undefined;
  // The Redis the system talks to: found by its port, not by name (other people's test Redis run here too).
  const redis = new URL(process.env.REDIS_URL || DEFAULT_REDIS_URL);
  // Embedded mode uses no Redis: a Redis answering here would only be someone else's.
  const local = system?.mode !== 'embedded' && /^(127\.|localhost$|\[::1\]$)/.test(redis.hostname);
  const redisPid = local ? pidListeningOn(Number(redis.port || 6379)) : undefined;
  return new ProcSampler(rootPid, redisPid === undefined ? [] : [{ role: 'redis', pid: redisPid }]);
}

/** The URL to load: `--url` (checked), or a system started here. */
async function targetUrl(args: BenchArgs, modelsDir: string | undefined): Promise<string> {
  if (args.url) {
    await waitReady(args.url, 10_000);
    log(`target ${args.url} is ready`);
    return args.url;
  }
  system = await startSystem({ modelsDir: modelsDir!, model: args.model, workers: args.workers, readyTimeoutMs: READY_TIMEOUT_MS, log });
  log(`system ready (${system.mode} mode, pid ${system.pid})`);
  return system.url;
}

/** Not recorded: lets the queue connections, ORT arenas and JIT settle; fails fast if predictions fail. */
async function warmUp(target: LoadTarget, ms: number): Promise<void> {
  await warmUpPass(target);
  await runClosed(target, { concurrency: 2, durationMs: ms });
  log('warm-up done');
}

function stepLine(s: StepResult): string {
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

function buildResult(
  args: BenchArgs,
  config: Config,
  images: ImageSet,
  ceiling: CeilingResult | undefined,
  healthz: BenchResult['healthz'],
  steps: StepResult[],
  url: string,
  peakStep: StepResult | undefined,
  base: number | undefined,
): BenchResult {
  const startedAt = new Date(Date.now() - (performance.now() - started)).toISOString();
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
  const cpu = cpus();
  return {
    version: 1,
    startedAt,
    finishedAt: '',
    elapsedS: 0,
    model: args.model,
    modelsDir: args.modelsDir,
    quick: args.quick,
    machine: {
      hostname: hostname(),
      cpuModel: cpu[0]?.model.trim() ?? 'unknown',
      cores: cpu.length,
      memoryGB: totalmem() / 1e9,
      node: process.versions.node,
      kernel: release(),
      loadavgAtStart: loadavgAtStart,
    },
    target: { url, startedByBench: !args.url, mode: system?.mode, apiPid: system?.pid ?? args.pid, endpoint: `POST /v1/predict?model=${args.model}` },
    config: {
      ORT_THREADS: config.ORT_THREADS,
      WORKER_CONCURRENCY: config.WORKER_CONCURRENCY,
      ...(workers !== undefined ? { MODEL_WORKERS: workers } : {}),
      QUEUE_MAX_WAITING: config.QUEUE_MAX_WAITING,
      REQUEST_TIMEOUT_MS: config.REQUEST_TIMEOUT_MS,
      MAX_PIXELS: config.MAX_PIXELS,
      IMAGE_TRANSPORT: config.IMAGE_TRANSPORT,
      arrivals: args.arrivals,
      stepSeconds: args.durationS,
    },
    images: images.images.map((i) => ({ name: i.name, width: i.width, height: i.height, bytes: i.bytes.length })),
    ceiling,
    healthz,
    steps,
    peak: peakStep ? { throughput: peakStep.throughput, step: peakStep.label } : undefined,
    saturation,
    notes,
  };
}

async function overheadMode(args: BenchArgs, config: Config, images: ImageSet): Promise<void> {
  const resolved = args.url ? undefined : await resolveModel(args.modelsDir, args.model, log);
  const url = await targetUrl(args, resolved?.modelsDir);
  const client = new HttpClient(url);
  try {
    const result = await measureOverhead(
      { client, images: images.images, path: `/v1/predict?model=${encodeURIComponent(args.model)}`, timeoutMs: config.REQUEST_TIMEOUT_MS + CLIENT_GRACE_MS },
      args.requests,
      log,
      processSampler(args),
    );
    console.log(renderOverhead(result));
  } finally {
    client.close();
  }
}

const loadavgAtStart = loadavg();

main()
  .catch((err: unknown) => {
    // Expected failures (bad flag, bad config, unreachable target) are one line; others keep their stack.
    if (err instanceof UsageError || err instanceof ConfigError) console.error(`bench: ${err.message}`);
    else console.error(`bench: ${(err as Error).message ?? err}`);
    if (process.env.BENCH_DEBUG && err instanceof Error) console.error(err.stack);
    // A failure while the started system ran is usually explained by what it printed.
    if (system && !(err instanceof UsageError)) console.error(`--- last lines of the system's output ---\n${system.logTail()}`);
    process.exitCode = 1;
  })
  .finally(async () => {
    await system?.stop();
  });
