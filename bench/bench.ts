/**
 * `npm run bench`: one run on one machine, one model, one image set.
 *
 *  1. ceiling: the model alone in this process (before anything else runs);
 *  2. the system: started from start.ts (or `--url`), warmed up;
 *  3. closed loop at each concurrency, then open loop at each rate (× the closed-loop peak);
 *  4. JSON + Markdown + SVG into bench/results/, tables on the terminal.
 * `--overhead` instead measures the serving layer's own cost at one client.
 */
import { loadavg } from 'node:os';
import { ConfigError, DEFAULT_REDIS_URL, loadConfig, type Config } from '@icls/lib/config';
import { workerPlan } from '@icls/lib/worker-plan';
import { HELP, parseBenchArgs, UsageError, type BenchArgs } from './args.ts';
import { measureCeiling, type CeilingResult } from './ceiling.ts';
import { renderChart } from './chart-svg.ts';
import { HttpClient } from './http-client.ts';
import { DistinctUploads } from './distinct-upload.ts';
import { describeImages, loadImageSet, type ImageSet } from './images.ts';
import { runClosed, runOpen, warmUpPass, type LoadTarget } from './load.ts';
import { resolveModel } from './model-source.ts';
import { measureHealthz, measureOverhead, renderOverhead } from './overhead.ts';
import { pidListeningOn, procAvailable, ProcSampler } from './proc-stats.ts';
import { renderText, writeOverheadResult, writeResults, writeScalingResults } from './report.ts';
import { buildResult, describeMachine, stepLine } from './result-build.ts';
import { measureScaling, renderScalingText, scalingTables } from './scaling.ts';
import { fmt } from './stats.ts';
import { summariseStep, type StepResult, type StepSpec } from './steps.ts';
import { stopOnSignals } from './stop-on-signals.ts';
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

  stopOnSignals(async (signal) => {
    interrupted = true;
    log(`interrupted (${signal}): stopping the system`);
    await system?.stop();
  });

  if (args.overhead) return overheadMode(args, config, images);
  if (args.scaling) return scalingMode(args, config, images);

  const needModel = args.ceiling || !args.url;
  const resolved = needModel ? await resolveModel(args.modelsDir, args.model, log) : undefined;

  // 1. The ceiling, while nothing of ours runs.
  let ceiling: CeilingResult | undefined;
  if (args.ceiling && resolved) {
    // The same lanes and threads as the workers the bench starts will use.
    const plan = workerPlan({ ...config, MODEL_WORKERS: args.workers ?? config.MODEL_WORKERS }, { embedded: false });
    log(`limits: ${args.model}, ${plan.lanes} lane(s) × ${plan.laneThreads} ORT thread(s), solo session ${plan.soloThreads} threads, ${plan.concurrency} jobs at once, ~${2 * args.ceilingSeconds} s`);
    ceiling = await measureCeiling({
      entry: resolved.entry,
      images: images.images,
      plan,
      maxPixels: config.MAX_PIXELS,
      warmupSeconds: args.quick ? 0.5 : 2,
      seconds: args.ceilingSeconds,
      parallelSeconds: args.quick ? 1 : 3,
      log,
    });
    log(`ceiling: ${fmt(ceiling.imagesPerSecond, 1)} images/s; latency floor (p50, one image on every core) ${fmt(ceiling.floorMs, 1)} ms`);
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
      distinct: args.sameImages ? undefined : new DistinctUploads(),
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
    const startedAt = new Date(Date.now() - (performance.now() - started)).toISOString();
    const result = buildResult(args, config, images, ceiling, healthz, steps, { startedAt, loadavgAtStart, url, mode: system?.mode, apiPid: system?.pid ?? args.pid }, peakStep, base);
    const stem = `${stemTime(result.startedAt)}-${args.model}${args.quick ? '-quick' : ''}`;
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

async function overheadMode(args: BenchArgs, config: Config, images: ImageSet): Promise<void> {
  const resolved = args.url ? undefined : await resolveModel(args.modelsDir, args.model, log);
  const url = await targetUrl(args, resolved?.modelsDir);
  const client = new HttpClient(url);
  try {
    const result = await measureOverhead(
      {
        client,
        images: images.images,
        path: `/v1/predict?model=${encodeURIComponent(args.model)}`,
        timeoutMs: config.REQUEST_TIMEOUT_MS + CLIENT_GRACE_MS,
        distinct: args.sameImages ? undefined : new DistinctUploads(),
      },
      args.requests,
      log,
      processSampler(args),
    );
    const text = renderOverhead(result);
    console.log(text);
    if (args.outGiven) {
      const startedAt = new Date(Date.now() - (performance.now() - started)).toISOString();
      const doc = { startedAt, model: args.model, machine: describeMachine(loadavgAtStart) };
      log(`wrote ${await writeOverheadResult(args.outDir, `${stemTime(startedAt)}-${args.model}-overhead`, doc, text)}`);
    }
  } finally {
    client.close();
  }
}

async function scalingMode(args: BenchArgs, config: Config, images: ImageSet): Promise<void> {
  const resolved = await resolveModel(args.modelsDir, args.model, log);
  const results = await measureScaling({
    modelsDir: resolved.modelsDir,
    model: args.model,
    images: images.images,
    concurrency: args.concurrency[0]!,
    durationS: args.durationS,
    timeoutMs: config.REQUEST_TIMEOUT_MS + CLIENT_GRACE_MS,
    deadlineMs: config.REQUEST_TIMEOUT_MS,
    distinct: args.sameImages ? undefined : new DistinctUploads(),
    readyTimeoutMs: READY_TIMEOUT_MS,
    log,
    aborted: () => interrupted,
  });
  if (interrupted) return;
  const startedAt = new Date(Date.now() - (performance.now() - started)).toISOString();
  const stem = `${stemTime(startedAt)}-${args.model}-scaling`;
  const doc = { version: 1, kind: 'scaling', startedAt, model: args.model, machine: describeMachine(loadavgAtStart), images: images.images.map((i) => ({ name: i.name, bytes: i.bytes.length })), layouts: results };
  console.log(renderScalingText(results));
  for (const f of await writeScalingResults(args.outDir, stem, doc, scalingTables(results))) log(`wrote ${f}`);
}

const loadavgAtStart = loadavg();

/** A result file's time of day, `2025-11-27-0605`: keeps two runs of one day apart. */
const stemTime = (isoStart: string): string => isoStart.slice(0, 16).replace(':', '').replace('T', '-');

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
