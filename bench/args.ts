/**
 * Command-line flags of `npm run bench`. Every mistake becomes one UsageError line (exit 1).
 */
import { resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { PREFERRED_DEFAULT_MODEL } from '@icls/lib/default-model';
import { parseFlags, UsageError } from '@icls/lib/usage-error';

export { UsageError };

/** A rate of an open-loop step: absolute (requests/s) or a multiple of the closed-loop peak. */
export type RateSpec = { perSecond: number } | { multiple: number };

export interface BenchArgs {
  model: string;
  modelsDir: string;
  images?: string;
  durationS: number;
  concurrency: number[];
  rates: RateSpec[];
  arrivals: 'poisson' | 'uniform';
  url?: string;
  pid?: number;
  workers?: number;
  quick: boolean;
  overhead: boolean;
  requests: number;
  ceilingSeconds: number;
  ceiling: boolean;
  outDir: string;
  /** --out was given: --overhead writes its report only then. */
  outGiven: boolean;
  seed: number;
  /** Measure how cost grows (1 and 2 workers × 1 and 2 api processes) instead of the load steps. */
  scaling: boolean;
  /** Send the images' own bytes every time (the result cache then answers repeats); default: distinct uploads. */
  sameImages: boolean;
}

export const HELP = `npm run bench -- [flags]

Measures the model's ceiling in-process, then starts the system (npm start's entry) and drives it with
a closed loop (fixed clients) and an open loop (fixed arrival rates); writes JSON, Markdown and an SVG
chart to bench/results/.

  --model <name>          model to bench (default: DEFAULT_MODEL, else ${PREFERRED_DEFAULT_MODEL}; the bench
                          builds ${PREFERRED_DEFAULT_MODEL} and the generated kinds itself when missing)
  --models-dir <dir>      model repository (default: MODELS_DIR, else ./models)
  --images <folder>       images to send (default: the CC0 fixtures + generated sizes up to 4000×3000)
  --duration <s>          seconds per load step (default 12; --quick 4)
  --concurrency <list>    closed-loop clients, e.g. 1,2,4,8,16,32 (default; --quick 1,4)
  --rates <list>          open-loop arrival rates: "0.5x" = half the closed-loop peak, "7" = 7 req/s
                          (default 0.5x,0.9x,1.2x,2x; --quick 0.5x,2x)
  --arrivals <kind>       poisson (default) or uniform inter-arrival times
  --url <url>             bench a system already running there (compose…): nothing is started;
                          the ceiling is still measured here
  --pid <pid>             with --url on this machine: the api's pid, for CPU/RSS of it and its workers
  --workers <n>           MODEL_WORKERS of the started system (default: env, else one per host)
  --quick                 sanity run, under a minute (short ceiling, 2+2 steps of 4 s)
  --overhead              only measure the serving overhead: concurrency 1 for --requests requests
  --requests <n>          requests of --overhead (default 200)
  --ceiling-seconds <s>   sequential ceiling measurement (default 6; --quick 2)
  --no-ceiling            skip the in-process ceiling
  --out <dir>             where results go (default bench/results; --overhead writes a file only
                          when --out is given)
  --seed <n>              seed of the Poisson arrivals (default 1)
  --scaling               how cost grows: 1 and 2 worker processes × 1 and 2 api processes on a
                          redis-server of the bench's own, closed loop at the first --concurrency
                          value (default 8) for --duration each; CPU, RSS and Redis commands and
                          bytes per request (see docs/bench.md)
  --same-images           send each image's own bytes every time: repeats are answered by the result
                          cache (reported apart). Default: every upload is made a distinct file with
                          the same pixels (a JPEG/PNG comment), so the cache never answers
  --help

Server settings (ORT_THREADS, WORKER_CONCURRENCY, QUEUE_MAX_WAITING, REQUEST_TIMEOUT_MS…) come from the
environment, exactly as for npm start; the ceiling uses the same ORT_THREADS and WORKER_CONCURRENCY.`;

const positive = (flag: string, raw: string, integer: boolean): number => {
  const n = Number(raw);
  if (!Number.isFinite(n) || n <= 0 || (integer && !Number.isInteger(n))) {
    throw new UsageError(`${flag} must be a positive ${integer ? 'whole ' : ''}number, got "${raw}"`);
  }
  return n;
};

function list(flag: string, raw: string): string[] {
  const items = raw
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean);
  if (items.length === 0) throw new UsageError(`${flag} needs at least one value`);
  return items;
}

function parseRate(raw: string): RateSpec {
  const n = Number(/x$/i.test(raw) ? raw.slice(0, -1) : raw);
  if (!Number.isFinite(n) || n <= 0) throw new UsageError(`--rates takes requests a second ("7") or multiples of the closed-loop peak ("0.5x", "2x"), got "${raw}"`);
  return /x$/i.test(raw) ? { multiple: n } : { perSecond: n };
}

/**
 * A pid with no process gave a report of 0 core-ms for the server, and the server's own CPU counted as
 * other work on the machine. Signal 0 only checks: EPERM means it exists (another user's).
 */
function runningPid(raw: string): number {
  const pid = positive('--pid', raw, true);
  try {
    process.kill(pid, 0);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ESRCH') throw new UsageError(`--pid ${pid}: no process has that pid on this machine (the api's pid: ss -ltnp 'sport = :8080')`);
    if ((err as NodeJS.ErrnoException).code !== 'EPERM') throw err;
  }
  return pid;
}

/** Parses argv (without node and the script); throws UsageError. `help` is true when --help was given. */
export function parseBenchArgs(argv: string[], env: NodeJS.ProcessEnv = process.env): BenchArgs & { help: boolean } {
  let values;
  try {
    ({ values } = parseFlags({
      args: argv,
      strict: true,
      allowPositionals: false,
      options: {
        model: { type: 'string' },
        'models-dir': { type: 'string' },
        images: { type: 'string' },
        duration: { type: 'string' },
        concurrency: { type: 'string' },
        rates: { type: 'string' },
        arrivals: { type: 'string' },
        url: { type: 'string' },
        pid: { type: 'string' },
        workers: { type: 'string' },
        quick: { type: 'boolean', default: false },
        overhead: { type: 'boolean', default: false },
        requests: { type: 'string' },
        'ceiling-seconds': { type: 'string' },
        'no-ceiling': { type: 'boolean', default: false },
        out: { type: 'string' },
        seed: { type: 'string' },
        'same-images': { type: 'boolean', default: false },
        scaling: { type: 'boolean', default: false },
        help: { type: 'boolean', default: false },
      },
    }));
  } catch (err) {
    throw new UsageError(`${(err as Error).message} (see --help)`);
  }
  const quick = values.quick === true;
  const arrivals = values.arrivals ?? 'poisson';
  if (arrivals !== 'poisson' && arrivals !== 'uniform') throw new UsageError(`--arrivals must be poisson or uniform, got "${arrivals}"`);
  if (values.url !== undefined) {
    let u: URL;
    try {
      u = new URL(values.url);
    } catch {
      throw new UsageError(`--url must be a URL like http://127.0.0.1:8080, got "${values.url}"`);
    }
    if (u.protocol !== 'http:' && u.protocol !== 'https:') throw new UsageError(`--url must be http:// or https://, got "${values.url}"`);
  }
  if (values.scaling && values.url !== undefined) throw new UsageError('--scaling starts its own systems: it takes no --url');
  if (values.pid !== undefined && values.url === undefined) throw new UsageError('--pid only makes sense with --url (a started system is measured anyway)');
  // A flag of another mode was ignored: --requests alone started a full run of 5 minutes.
  if (values.overhead && values.scaling) throw new UsageError('--overhead and --scaling are two different runs: choose one');
  if (values.requests !== undefined && !values.overhead) throw new UsageError('--requests only makes sense with --overhead');
  return {
    help: values.help === true,
    model: values.model ?? (env.DEFAULT_MODEL || PREFERRED_DEFAULT_MODEL),
    modelsDir: resolve(values['models-dir'] ?? (env.MODELS_DIR || './models')),
    images: values.images === undefined ? undefined : resolve(values.images),
    durationS: values.duration === undefined ? (quick ? 4 : 12) : positive('--duration', values.duration, false),
    concurrency: list('--concurrency', values.concurrency ?? (values.scaling ? '8' : quick ? '1,4' : '1,2,4,8,16,32')).map((c) => positive('--concurrency', c, true)),
    rates: list('--rates', values.rates ?? (quick ? '0.5x,2x' : '0.5x,0.9x,1.2x,2x')).map(parseRate),
    arrivals,
    url: values.url?.replace(/\/+$/, ''),
    pid: values.pid === undefined ? undefined : runningPid(values.pid),
    workers: values.workers === undefined ? undefined : positive('--workers', values.workers, true),
    quick,
    overhead: values.overhead === true,
    requests: values.requests === undefined ? 200 : positive('--requests', values.requests, true),
    ceilingSeconds: values['ceiling-seconds'] === undefined ? (quick ? 2 : 6) : positive('--ceiling-seconds', values['ceiling-seconds'], false),
    ceiling: values['no-ceiling'] !== true,
    outDir: resolve(values.out ?? fileURLToPath(new URL('./results/', import.meta.url))),
    outGiven: values.out !== undefined,
    seed: values.seed === undefined ? 1 : positive('--seed', values.seed, true),
    sameImages: values['same-images'] === true,
    scaling: values.scaling === true,
  };
}
