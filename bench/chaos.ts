/**
 * `npm run chaos`: the service under faults, as issue 7 describes the scenario. Its own redis-server
 * (so it can be killed), the system started as `npm start` starts it (or, with --orchestrated, as
 * compose runs it: api and worker apart, the worker restarted by this run), a closed loop of clients,
 * a model worker SIGKILLed at intervals, Redis killed and restarted empty once, corrupt images.
 * Prints what every request got and whether the promises held; writes JSON to bench/results/.
 */
import { mkdir } from 'node:fs/promises';
import { cpus, loadavg } from 'node:os';
import { join } from 'node:path';
import { loadConfig } from '@icls/lib/config';
import { mulberry32 } from '@icls/lib/seeded-random';
import { UsageError } from '@icls/lib/usage-error';
import { startPrivateRedis, type PrivateRedis } from '../tests/helpers/redis-server.ts';
import { CHAOS_HELP, parseChaosArgs } from './chaos-args.ts';
import { FaultInjector } from './chaos-faults.ts';
import { corruptUploads, driveLoad, type ChaosSample } from './chaos-load.ts';
import { judge, renderVerdict } from './chaos-report.ts';
import { HttpClient } from './http-client.ts';
import { describeImages, loadImageSet } from './images.ts';
import { resolveModel } from './model-source.ts';
import { writeAtomic } from './report.ts';
import { startOrchestrated } from './orchestrated-system.ts';
import { childrenOf } from './proc-stats.ts';
import { stopOnSignals } from './stop-on-signals.ts';
import { startSystem, type RunningSystem } from './system.ts';

const say = (msg: string) => console.error(`[chaos] ${msg}`);

async function main(): Promise<number> {
  let args;
  try {
    args = parseChaosArgs(process.argv.slice(2));
  } catch (err) {
    if (!(err instanceof UsageError)) throw err;
    // One line, as the bench and the stress test say theirs (the whole help after each mistake buried it).
    console.error(`chaos: ${err.message} (see --help)`);
    return 2;
  }
  if (args === 'help') {
    console.log(CHAOS_HELP);
    return 0;
  }
  // The deadline the service runs with (the environment may change it): "late" is judged against it.
  const serviceConfig = loadConfig();
  const timeoutMs = serviceConfig.REQUEST_TIMEOUT_MS;
  // The settings the faults meet, as the started processes read them from this environment.
  const settings = {
    REQUEST_TIMEOUT_MS: timeoutMs,
    WORKER_DEAD_AFTER_MS: serviceConfig.WORKER_DEAD_AFTER_MS,
    WORKER_RESTART_GRACE_MS: serviceConfig.WORKER_RESTART_GRACE_MS,
  };
  const model = await resolveModel(args.modelsDir, args.model, say);
  const { images } = await loadImageSet(undefined, say);
  say(`images: ${describeImages(images)}; ${Math.round(args.corrupt * 100)}% corrupt`);
  const rng = mulberry32(args.seed);
  let redis: PrivateRedis | undefined;
  let system: RunningSystem | undefined;
  let faults: FaultInjector | undefined;
  const stopAll = async () => {
    await faults?.stop();
    await system?.stop();
    await redis?.stop();
  };
  stopOnSignals(stopAll);
  try {
    redis = await startPrivateRedis();
    say(`own redis-server at ${redis.url}`);
    const onLine = (line: string) => faults?.onLine(line);
    const common = { modelsDir: model.modelsDir, model: args.model, readyTimeoutMs: 180_000, log: say, env: { QUEUE_MODE: 'redis', REDIS_URL: redis.url }, onLine };
    let victims: () => number[];
    if (args.orchestrated) {
      const orchestrated = await startOrchestrated({ ...common, restartDelayMs: args.restartDelayMs, onWorkerExit: (exit) => faults?.noteDeath(exit) });
      victims = () => orchestrated.workerPids();
      system = orchestrated;
    } else {
      const started = await startSystem({ ...common, workers: args.workers });
      victims = () => childrenOf(started.pid);
      system = started;
    }
    faults = new FaultInjector({ victims, killEveryS: args.killEveryS, redis, redisRestartAfter: args.redisRestartAfter, redisDownS: args.redisDownS, rng, say });
    const client = new HttpClient(system.url);
    say(
      `${args.requests} requests, ${args.concurrency} clients${args.arrivalsPerS ? ` and ${args.arrivalsPerS} arrivals/s` : ''}, SIGKILL every ${args.killEveryS} s, ` +
        `Redis restart after ${args.redisRestartAfter} requests; ${Object.entries(settings).map(([k, v]) => `${k}=${v}`).join(' ')}`,
    );
    faults.start();
    const startedAt = new Date();
    const samples = await driveLoad({
      client,
      requests: args.requests,
      concurrency: args.concurrency,
      arrivalsPerS: args.arrivalsPerS,
      corruptShare: args.corrupt,
      honorRetryAfter: args.honorRetryAfter,
      images,
      corrupt: await corruptUploads(),
      rng,
      clientTimeoutMs: timeoutMs + 20_000,
      onSent: (n) => faults!.onSent(n),
    });
    await faults.stop();
    client.close();
    const verdict = judge(samples, faults.log, timeoutMs);
    console.log(renderVerdict(verdict));
    await mkdir(args.outDir, { recursive: true });
    const file = join(args.outDir, `${startedAt.toISOString().slice(0, 16).replace(':', '').replace('T', '-')}-chaos.json`);
    const machine = { cores: cpus().length, cpu: cpus()[0]?.model, node: process.version, loadAverageAfter: loadavg() };
    const result = { startedAt, args, timeoutMs, settings, model: args.model, machine, verdict, faults: faults.log, timeline: timeline(samples) };
    await writeAtomic(file, JSON.stringify(result, null, 1) + '\n');
    say(`wrote ${file}`);
    return verdict.checks.every((c) => c.met) ? 0 : 1;
  } finally {
    await stopAll();
  }
}

/** Requests per second of sending, by what they got: enough to see the outage and the kills, small enough to commit. */
function timeline(samples: ChaosSample[]): { s: number; got: Record<string, number> }[] {
  const first = samples[0]?.sentAt ?? 0;
  const out: { s: number; got: Record<string, number> }[] = [];
  for (const x of samples) {
    const s = Math.floor((x.sentAt - first) / 1000);
    while (out.length <= s) out.push({ s: out.length, got: {} });
    const key = String(x.status);
    out[s]!.got[key] = (out[s]!.got[key] ?? 0) + 1;
  }
  return out;
}

main().then(
  (code) => process.exit(code),
  (err: unknown) => {
    console.error(`chaos run failed: ${(err as Error).stack ?? err}`);
    process.exit(1);
  },
);
