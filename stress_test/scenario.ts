/**
 * `npm run stress`: the locustfile's user model in TypeScript, needing nothing beyond `npm ci`.
 *
 * Each simulated user, once started, loops: pick a task by weight (GET / 1, POST /predict 3,
 * POST /feedback 1, as the original's locustfile), run it, think for a random time between
 * --wait-min and --wait-max seconds. Users start at --spawn-rate per second. The run is bounded by
 * --duration and --max-requests; at the end no new request starts, in-flight ones finish (each
 * bounded by --timeout), and a per-endpoint table is printed like Locust's.
 */
import { resolve } from 'node:path';
import { numberFlag, parseFlags, UsageError } from '@icls/lib/usage-error';
import { DistinctUploads } from '@icls/bench/distinct-upload';
import { HttpClient, multipartBody } from '@icls/bench/http-client';
import { FIXTURE_IMAGES, loadImageSet, type BenchImage } from '@icls/bench/images';
import { distribution, fmt, textTable } from '@icls/bench/stats';

const HELP = `npm run stress -- [flags]

  --host <url>          service to load (default http://127.0.0.1:8080)
  --users <n>           simulated users (default 5, at most 10000)
  --spawn-rate <n>      users started per second (default 5)
  --duration <s>        run time in seconds (default 30, at most 3600)
  --wait-min <s>        think time between a user's tasks, lower bound (default 1)
  --wait-max <s>        think time, upper bound (default 5)
  --images <folder>     images to upload (default: STRESS_IMAGES, else tests/fixtures/images)
  --max-requests <n>    stop after this many requests (default 1000000)
  --timeout <s>         client timeout per request (default 30)
  --fail-ratio <x>      exit 2 when more than this fraction of requests failed (e.g. 0.01)
  --same-images         upload each image's own bytes every time: repeats are answered by the result
                        cache (counted in their own row). Default: every upload is a distinct file
                        with the same pixels (a JPEG/PNG comment), so the cache answers none
  --help

Every POST /feedback stores a report unless an identical one is stored already; a user reports
only once it has had a prediction.`;


interface Options {
  host: string;
  users: number;
  spawnRate: number;
  durationS: number;
  waitMin: number;
  waitMax: number;
  images: string;
  maxRequests: number;
  timeoutMs: number;
  failRatio?: number;
  sameImages: boolean;
}

const num = (flag: string, raw: string | undefined, def: number, range: { min: number; max: number; integer?: boolean }): number =>
  numberFlag(flag, raw, range) ?? def;

function parseOptions(argv: string[]): Options | undefined {
  let values;
  try {
    ({ values } = parseFlags({
      args: argv,
      strict: true,
      options: {
        host: { type: 'string' },
        users: { type: 'string' },
        'spawn-rate': { type: 'string' },
        duration: { type: 'string' },
        'wait-min': { type: 'string' },
        'wait-max': { type: 'string' },
        images: { type: 'string' },
        'max-requests': { type: 'string' },
        timeout: { type: 'string' },
        'fail-ratio': { type: 'string' },
        'same-images': { type: 'boolean', default: false },
        help: { type: 'boolean', default: false },
      },
    }));
  } catch (err) {
    throw new UsageError(`${(err as Error).message} (see --help)`);
  }
  if (values.help) return undefined;
  const o: Options = {
    host: (values.host ?? 'http://127.0.0.1:8080').replace(/\/+$/, ''),
    users: num('--users', values.users, 5, { min: 1, max: 10_000, integer: true }),
    spawnRate: num('--spawn-rate', values['spawn-rate'], 5, { min: 0.01, max: 10_000 }),
    durationS: num('--duration', values.duration, 30, { min: 1, max: 3600 }),
    waitMin: num('--wait-min', values['wait-min'], 1, { min: 0, max: 3600 }),
    waitMax: num('--wait-max', values['wait-max'], 5, { min: 0, max: 3600 }),
    images: resolve(values.images ?? (process.env.STRESS_IMAGES || FIXTURE_IMAGES)),
    maxRequests: num('--max-requests', values['max-requests'], 1_000_000, { min: 1, max: 1e9, integer: true }),
    timeoutMs: num('--timeout', values.timeout, 30, { min: 0.1, max: 600 }) * 1000,
    failRatio: values['fail-ratio'] === undefined ? undefined : num('--fail-ratio', values['fail-ratio'], 0, { min: 0, max: 1 }),
    sameImages: values['same-images'] === true,
  };
  if (o.waitMax < o.waitMin) throw new UsageError(`--wait-max (${o.waitMax}) is below --wait-min (${o.waitMin})`);
  try {
    new URL(o.host);
  } catch {
    throw new UsageError(`--host must be a URL like http://127.0.0.1:8080, got "${o.host}"`);
  }
  return o;
}

/** One task of the user model; `failure` is null on success, else what went wrong; `as` files it under another row. */
interface Task {
  name: string;
  weight: number;
  /** Whether this user can run the task yet; a task that cannot is not picked. */
  ready?(user: UserState): boolean;
  run(user: UserState): Promise<{ status: number; failure: string | null; as?: string }>;
}

/** The row of predictions the service answered from its result cache (x-cache: HIT). */
const CACHED_ROW = 'POST /predict (cache hit)';

interface UserState {
  /** The last prediction this user got: what its feedback reports, as the original page did. */
  last?: { filename: string; prediction: string; score: number };
}

interface TaskRecord {
  ms: number;
  failure: string | null;
}

function errorCode(body: string): string | undefined {
  try {
    return (JSON.parse(body) as { error?: { code?: string } }).error?.code;
  } catch {
    return undefined; // not JSON (an HTML page, a proxy's error): the status alone describes it
  }
}

function buildTasks(client: HttpClient, images: BenchImage[], timeoutMs: number, distinct?: DistinctUploads): Task[] {
  const statusFailure = (status: number, error: string | undefined, body: string) =>
    status === 0 ? (error ?? 'no answer') : `HTTP ${status}${errorCode(body) ? ` ${errorCode(body)}` : ''}`;
  return [
    {
      name: 'GET /',
      weight: 1,
      async run() {
        const r = await client.request('GET', '/', { timeoutMs });
        return { status: r.status, failure: r.status === 200 ? null : statusFailure(r.status, r.error, r.body) };
      },
    },
    {
      name: 'POST /predict',
      weight: 3,
      async run(user) {
        const img = images[Math.floor(Math.random() * images.length)]!;
        const upload = distinct ? distinct.multipart(img) : img.upload.body;
        const r = await client.request('POST', '/predict', { body: upload, headers: { 'content-type': img.upload.contentType }, timeoutMs });
        if (r.status !== 200) return { status: r.status, failure: statusFailure(r.status, r.error, r.body) };
        let body: { success?: boolean; prediction?: string; score?: number };
        try {
          body = JSON.parse(r.body) as typeof body;
        } catch {
          return { status: r.status, failure: 'answer is not JSON' };
        }
        if (body.success !== true) return { status: r.status, failure: 'success is not true' };
        user.last = { filename: img.name, prediction: String(body.prediction), score: Number(body.score) };
        return { status: r.status, failure: null, as: r.headers['x-cache'] === 'HIT' ? CACHED_ROW : undefined };
      },
    },
    {
      name: 'POST /feedback',
      weight: 1,
      // A report names a prediction the user saw: one made up before any would be stored as a real report.
      ready: (user) => user.last !== undefined,
      async run(user) {
        const last = user.last!;
        // The original page's hidden report line, byte for byte in form.
        const report = `{'filename': '${last.filename}', 'prediction': '${last.prediction}', 'score': ${last.score} }`;
        const form = multipartBody({ report });
        const r = await client.request('POST', '/feedback', { body: form.body, headers: { 'content-type': form.contentType }, timeoutMs });
        return { status: r.status, failure: r.status === 200 ? null : statusFailure(r.status, r.error, r.body) };
      },
    },
  ];
}

function pickTask(all: Task[], user: UserState): Task {
  const tasks = all.filter((t) => t.ready?.(user) ?? true);
  const total = tasks.reduce((s, t) => s + t.weight, 0);
  let x = Math.random() * total;
  for (const t of tasks) if ((x -= t.weight) < 0) return t;
  return tasks[tasks.length - 1]!;
}

/** Waits `ms`, or less if `stop` resolves first. */
const sleep = (ms: number, stop: Promise<void>) =>
  new Promise<void>((res) => {
    const t = setTimeout(res, ms);
    void stop.then(() => {
      clearTimeout(t);
      res();
    });
  });

async function main(): Promise<void> {
  const o = parseOptions(process.argv.slice(2));
  if (!o) {
    console.log(HELP);
    return;
  }
  // Listened for before the set-up (loading the images, the probe): a SIGTERM then ended the run with
  // 143 and no summary, where the README promises the summary and 0. A second signal still kills at once.
  let signalStop!: () => void;
  const stopped = new Promise<void>((res) => (signalStop = res));
  let stopping = false;
  const stop = () => {
    if (!stopping) {
      stopping = true;
      signalStop();
    }
  };
  process.once('SIGINT', stop);
  process.once('SIGTERM', stop);
  const set = await loadImageSet(o.images, () => undefined);
  const client = new HttpClient(o.host);
  try {
    const probe = await client.request('GET', '/healthz', { timeoutMs: 5000 });
    if (probe.status === 0) throw new UsageError(`target ${o.host} is not reachable (${probe.error})`);
    const tasks = buildTasks(client, set.images, o.timeoutMs, o.sameImages ? undefined : new DistinctUploads());
    const records = new Map<string, TaskRecord[]>([...tasks.map((t): [string, TaskRecord[]] => [t.name, []]), [CACHED_ROW, []]]);
    const failures = new Map<string, number>();
    let requests = 0;
    let running = 0;
    const t0 = performance.now();
    const end = t0 + o.durationS * 1000;
    const stopTimer = setTimeout(stop, o.durationS * 1000);

    console.log(
      `stress: ${o.users} users at ${o.spawnRate}/s for ${o.durationS} s against ${o.host}, think time ${o.waitMin}–${o.waitMax} s, ` +
        `${set.images.length} images from ${o.images}${set.skipped.length ? ` (skipped ${set.skipped.map((s) => s.name).join(', ')})` : ''}`,
    );
    const user = async () => {
      running++;
      const state: UserState = {};
      // Bounded by the stop signal (duration or SIGINT) and the global request budget.
      while (!stopping && performance.now() < end) {
        if (requests >= o.maxRequests) {
          stop();
          break;
        }
        requests++;
        const task = pickTask(tasks, state);
        const started = performance.now();
        const { failure, as } = await task.run(state);
        records.get(as ?? task.name)!.push({ ms: performance.now() - started, failure });
        if (failure) failures.set(`${task.name}: ${failure}`, (failures.get(`${task.name}: ${failure}`) ?? 0) + 1);
        await sleep((o.waitMin + Math.random() * (o.waitMax - o.waitMin)) * 1000, stopped);
      }
      running--;
    };
    const progress = setInterval(() => {
      const all = [...records.values()].flat();
      const s = (performance.now() - t0) / 1000;
      console.log(`  ${s.toFixed(0).padStart(4)} s  users ${running}  requests ${all.length}  failures ${all.filter((r) => r.failure).length}  ${(all.length / s).toFixed(1)} req/s`);
    }, 5000);
    const users: Promise<void>[] = [];
    for (let i = 0; i < o.users && !stopping; i++) {
      users.push(user());
      if (i + 1 < o.users) await sleep(1000 / o.spawnRate, stopped);
    }
    await Promise.all(users);
    clearTimeout(stopTimer);
    clearInterval(progress);
    const wallS = (performance.now() - t0) / 1000;
    report(records, failures, wallS);
    const all = [...records.values()].flat();
    const ratio = all.length ? all.filter((r) => r.failure).length / all.length : 0;
    if (o.failRatio !== undefined && ratio > o.failRatio) {
      console.error(`stress: failure ratio ${(ratio * 100).toFixed(2)}% is above --fail-ratio ${(o.failRatio * 100).toFixed(2)}%`);
      process.exitCode = 2;
    }
  } finally {
    client.close();
  }
}

function report(records: Map<string, TaskRecord[]>, failures: Map<string, number>, wallS: number): void {
  const row = (name: string, rs: TaskRecord[]) => {
    const d = distribution(rs.map((r) => r.ms));
    const failed = rs.filter((r) => r.failure).length;
    return [name, String(rs.length), `${failed} (${rs.length ? fmt((100 * failed) / rs.length, 1) : '0.0'}%)`, fmt(d.mean, 0), fmt(d.p50, 0), fmt(d.p90, 0), fmt(d.p99, 0), fmt(d.max, 0), fmt(rs.length / wallS, 2)];
  };
  const all = [...records.values()].flat();
  console.log(`\nfinished after ${wallS.toFixed(1)} s (latency in ms, from sending to the last byte)\n`);
  console.log(
    textTable([
      ['endpoint', 'requests', 'failures', 'avg', 'p50', 'p90', 'p99', 'max', 'req/s'],
      ...[...records].filter(([name, rs]) => name !== CACHED_ROW || rs.length > 0).map(([name, rs]) => row(name, rs)),
      row('Aggregated', all),
    ]),
  );
  if (failures.size) {
    console.log('\nfailures:');
    console.log(textTable([['occurrences', 'endpoint: error'], ...[...failures].sort((a, b) => b[1] - a[1]).map(([k, n]) => [String(n), k])]));
  }
}

main().catch((err: unknown) => {
  console.error(`stress: ${(err as Error).message ?? err}`);
  process.exitCode = 1;
});
