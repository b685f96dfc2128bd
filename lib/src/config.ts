/**
 * The one typed configuration of every process (api, model worker, embedded start).
 * Every environment variable is declared here once, with its default and meaning; the README's
 * config table is checked against this list by a test. Start-up fails fast with the variable's name.
 */
import { isIP } from 'node:net';
import { resolve } from 'node:path';
import { isModelName, MODEL_NAME_RULE, shownModelName } from './job-contract.ts';
import { redactUrl } from './redact-url.ts';

type Parser<T> = (raw: string) => T;

interface VarSpec<T> {
  default: string | undefined;
  parse: Parser<T>;
  doc: string;
}

/** The Redis a process uses when REDIS_URL is unset: the one on this host's default port. */
export const DEFAULT_REDIS_URL = 'redis://127.0.0.1:6379';

export class ConfigError extends Error {
  override name = 'ConfigError';
}

const int =
  (min: number, max = Number.MAX_SAFE_INTEGER): Parser<number> =>
  (raw) => {
    if (!/^-?\d+$/.test(raw.trim())) throw new Error(`must be a whole number, got "${raw}"`);
    const n = Number(raw);
    // The digits as given: Number() printed 100000000000000000000 as 1e+20.
    if (n < min || n > max) throw new Error(`must be between ${min} and ${max}, got ${raw.trim().replace(/^(-?)0+(?=\d)/, '$1')}`);
    return n;
  };
/** 0 (off) or a whole number from `min` to `max`. */
const offOrInt =
  (min: number, max: number, why: string): Parser<number> =>
  (raw) => {
    const n = int(0, max)(raw);
    if (n !== 0 && n < min) throw new Error(`must be 0 (off) or at least ${min}: ${why}, got ${n}`);
    return n;
  };
const oneOf =
  <T extends string>(...values: T[]): Parser<T> =>
  (raw) => {
    if (!(values as string[]).includes(raw)) throw new Error(`must be one of ${values.join(', ')}, got "${raw}"`);
    return raw as T;
  };
const path: Parser<string> = (raw) => {
  if (raw.trim() === '') throw new Error('must not be empty');
  // " /tmp/x" made a folder named " " in the working directory.
  if (raw.trim() !== raw) throw new Error(`must not start or end with a space or a line end (copied from a file?), got "${raw}"`);
  return resolve(raw);
};
/** A Redis key prefix: not empty, no spaces or control characters (keys are `<prefix>:…`). */
const keyPrefix: Parser<string> = (raw) => {
  if (!/^[^\s:\u0000-\u001f]{1,100}$/.test(raw)) throw new Error(`must be 1 to 100 characters without spaces or ":", got "${raw}"`);
  return raw;
};
/**
 * An address to listen on: an IP address or a host name. Whether a name resolves is only known at listen
 * (which then names HOST); this catches the usual slips (a port or a scheme in it) before anything starts.
 */
/** The longest timeout accepted: Node's timers hold at most 2^31 − 1 ms (24.8 days); beyond, they fire at once. */
const DAY_MS = 24 * 3600 * 1000;
const listenHost: Parser<string> = (raw) => {
  const label = '[a-z0-9_]([a-z0-9_-]{0,61}[a-z0-9_])?';
  if (isIP(raw) === 0 && !new RegExp(`^(?=.{1,253}$)${label}(\\.${label})*$`, 'i').test(raw)) {
    throw new Error(`must be an IP address or a host name, e.g. 0.0.0.0, ::, 127.0.0.1 or localhost (no port, no scheme), got "${raw}"`);
  }
  return raw;
};
const optionalText: Parser<string | undefined> = (raw) => (raw === '' ? undefined : raw);
/** REDIS_URL's check, for the tools that take a Redis address too: undefined when empty, else the URL or an Error saying what is wrong. */
export const redisUrl: Parser<string | undefined> = (raw) => {
  if (raw === '') return undefined;
  // URL trims them and ioredis does not ("Invalid URL" at connect, without the variable's name).
  if (raw.trim() !== raw) throw new Error('must not start or end with a space or a line end (copied from a file?)');
  // A value without a scheme may be a password pasted into the wrong variable: not echoed.
  if (!raw.includes('//')) throw new Error(`must be a redis:// or rediss:// URL such as redis://127.0.0.1:6379, got ${raw.length} characters without a scheme (not shown: it may be a password)`);
  const shown = redactUrl(raw);
  const u = URL.canParse(raw) ? new URL(raw) : undefined;
  const port = /^rediss?:\/\/(?:[^@/]*@)?(?:\[[^\]]*\]|[^:/]*):(\d+)/.exec(raw)?.[1];
  // A port out of range makes the whole URL unparsable: say that, not that the scheme is wrong.
  if (!u && port !== undefined && Number(port) > 65535) throw new Error(`has port ${port}: a port is 1 to 65535, got "${shown}"`);
  if (u?.protocol !== 'redis:' && u?.protocol !== 'rediss:') throw new Error(`must be a redis:// or rediss:// URL, got "${shown}"`);
  if (u.hostname === '') throw new Error(`must name the Redis host, e.g. redis://127.0.0.1:6379, got "${shown}"`);
  // ioredis turns the path (or else ?db=) into SELECT parseInt(…): "abc" crashed the process, "1.5" chose 1.
  for (const db of [u.pathname.replace(/^\/$/, ''), u.searchParams.get('db')]) {
    if (db && !/^\/?\d{1,9}$/.test(db)) {
      throw new Error(`must end with a database number if any (redis://host:6379/2; 0 to 15 on a default Redis), got "${db.replace(/^\//, '')}" in "${shown}"`);
    }
  }
  return raw;
};
const secret =
  (minLength: number): Parser<string | undefined> =>
  (raw) => {
    if (raw === '') return undefined;
    if (raw.length < minLength) throw new Error(`must be at least ${minLength} characters (it guards the admin pages), got ${raw.length}`);
    // Twenty spaces passed the length check, and a Bearer header cannot carry a space, a tab or a stray \r at all.
    if (/[\s\x00-\x1f\x7f]/.test(raw)) throw new Error('must not contain spaces or control characters (a line end copied from a file, say); e.g. `openssl rand -hex 32`');
    return raw;
  };
const httpUrl: Parser<string | undefined> = (raw) => {
  if (raw === '') return undefined;
  // A collector's URL may carry a user and password: the refusal prints it without.
  const u = URL.canParse(raw) ? new URL(raw) : undefined;
  if (u?.protocol !== 'http:' && u?.protocol !== 'https:') throw new Error(`must be an http:// or https:// URL, got "${redactUrl(raw)}"`);
  return raw.replace(/\/+$/, '');
};
const fraction: Parser<number> = (raw) => {
  const n = Number(raw.trim());
  if (raw.trim() === '' || !Number.isFinite(n) || n < 0 || n > 1) throw new Error(`must be a number from 0 to 1, got "${raw}"`);
  return n;
};
const list: Parser<string[]> = (raw) =>
  raw
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean);
/** A name no model folder can have is a typo: no worker will ever serve it. */
const checkModelName = (name: string): string => {
  if (!isModelName(name)) throw new Error(`must name a model (${MODEL_NAME_RULE}), got "${shownModelName(name)}"`);
  return name;
};
const optionalModelName: Parser<string | undefined> = (raw) => (raw.trim() === '' ? undefined : checkModelName(raw.trim()));
const modelNames: Parser<string[]> = (raw) => list(raw).map(checkModelName);
/** Web origins (`https://app.example.com`, a port if not the scheme's), or `*` for any. */
const origins: Parser<string[]> = (raw) => {
  const given = list(raw);
  for (const origin of given) {
    if (origin === '*') continue;
    const u = URL.canParse(origin) ? new URL(origin) : undefined;
    if (!u || (u.protocol !== 'http:' && u.protocol !== 'https:') || u.origin !== origin) {
      throw new Error(`must list web origins such as https://app.example.com (scheme, host and any port; no path, no trailing slash), or *, got "${origin}"`);
    }
  }
  return given;
};

const spec = {
  PORT: { default: '8080', parse: int(0, 65535), doc: 'HTTP port of the api' },
  HOST: { default: '0.0.0.0', parse: listenHost, doc: 'address the api, and each model worker\'s metrics port, listen on' },
  QUEUE_MODE: {
    default: 'auto',
    parse: oneOf('auto', 'redis', 'embedded'),
    doc: '`redis`: jobs go through Redis; `embedded`: api and model in one process, in-process queue; `auto`: redis when REDIS_URL is set or a Redis answers on localhost, else embedded',
  },
  REDIS_URL: { default: '', parse: redisUrl, doc: `Redis to use (unset: ${DEFAULT_REDIS_URL}, which auto mode first checks answers); a password in it (redis://:password@host:6379, or \`?password=\`) is printed as *** in logs and errors; a database number after the port (\`/2\`) must be one Redis has, else every connection stops, saying so (it used database 0)` },
  REDIS_PREFIX: { default: 'icls', parse: keyPrefix, doc: 'prefix of every Redis key, so several deployments share one Redis: 1 to 100 characters, no spaces or `:` (the keys add their own `:`)' },
  MODELS_DIR: { default: './models', parse: path, doc: 'model repository: one folder per model. `npm start` builds the default model in it when it holds none; set to a folder that does not exist, it refuses to start (a mistyped path served the default model from a new folder)' },
  DEFAULT_MODEL: {
    default: '',
    parse: optionalModelName,
    doc: 'model used when a request names none (default: nsfw-mobilenetv2 when a live worker serves it or reports it broken, else the first served model by name; installed in MODELS_DIR is not enough); workers may start later, so a name none serves is not refused at start: `/readyz` and the 503s name it and the served models (a name no model can have, against the models command\'s rule, is)',
  },
  MODELS: { default: '', parse: modelNames, doc: 'comma-separated models a worker loads (default: every model in MODELS_DIR); a name with no folder there stops the worker at start, naming the folders there are (under `npm start`, which then stops too, exit 1, without the drain period: it used to restart that worker forever, never ready)' },
  UPLOAD_DIR: { default: './data/uploads', parse: path, doc: 'where uploads are stored as `<md5>.<ext>`: a folder for the service alone (the upload sweeper removes files named like uploads)' },
  FEEDBACK_DIR: { default: './data/feedback', parse: path, doc: 'folder of the `feedback` file (one report per line)' },
  FEEDBACK_MAX_BYTES: {
    default: String(1024 ** 3),
    parse: int(0),
    doc: 'the report files (`feedback` and `reports.jsonl`) may take this much; beyond it new reports are refused with 507 `FEEDBACK_FULL` until an operator archives them (0: no bound)',
  },
  UPLOAD_KEEP_HOURS: {
    default: '168',
    parse: int(0),
    doc: 'a stored upload not uploaded again for this long is removed, unless a feedback report names it (checked at start and every hour; 0: kept for ever)',
  },
  UPLOAD_DIR_MAX_BYTES: {
    default: String(10 * 1024 ** 3),
    parse: int(0),
    doc: 'when the stored uploads take more than this, the least recently uploaded are removed down to 90 % of it, those a feedback report names last (0: no bound); uploads of the last minute are kept',
  },
  MAX_UPLOAD_BYTES: { default: String(20 * 1024 * 1024), parse: int(1), doc: 'largest upload accepted (413 above)' },
  MAX_PIXELS: { default: String(50_000_000), parse: int(1), doc: 'largest image accepted, in pixels (width × height); whatever it is, a side over 65,535 pixels is refused too' },
  DECODE_MEMORY_BYTES: {
    default: String(512 * 1024 * 1024),
    parse: int(1),
    doc: "a worker's image decodes in progress may hold about this much at once, estimated from each image's header (a 7000×7000 16-bit PNG holds about 400 MB while it decodes); more wait their turn, up to their job's deadline. One decode alone always runs, so a worker's decoders peak at the larger of this and its largest image",
  },
  UPLOAD_MEMORY_BYTES: {
    default: String(64 * 1024 * 1024),
    parse: int(0),
    doc: 'upload bytes held in memory across all requests at once; beyond it uploads stream to temporary files in UPLOAD_DIR (each upload keeps at most 4 MiB in memory)',
  },
  BODY_IDLE_TIMEOUT_MS: {
    default: '15000',
    parse: int(100, DAY_MS),
    doc: 'a request body that sends nothing for this long is cut: 408, and what it had sent is freed',
  },
  REQUEST_RECEIVE_TIMEOUT_MS: {
    default: '120000',
    parse: int(1000, DAY_MS),
    doc: 'the whole request (headers and body) must arrive within this (408 after; checked every second)',
  },
  HEADERS_TIMEOUT_MS: {
    default: '10000',
    parse: int(100, DAY_MS),
    doc: 'the request headers must arrive within this (408 after; slow-header clients cannot hold connections)',
  },
  MAX_HEADER_BYTES: { default: '16384', parse: int(1024, 1024 * 1024), doc: 'largest request line plus headers (431 above)' },
  MAX_CONNECTIONS: {
    default: '1024',
    parse: int(1),
    doc: 'open client connections the api accepts at once; more are closed at once (this bounds the memory that idle or slow clients hold); from 7/8 of it, idle kept-alive connections, and connections that began no request within 2 s, are closed to make room',
  },
  REQUEST_TIMEOUT_MS: {
    default: '10000',
    parse: int(1, DAY_MS),
    doc: 'deadline of a prediction, counted from when the upload has been received (receiving it has its own limit, REQUEST_RECEIVE_TIMEOUT_MS); 504 when it passes',
  },
  QUEUE_MAX_WAITING: {
    default: '64',
    parse: int(1),
    doc: 'jobs allowed queued or running per model; beyond it 503 + Retry-After at once. Images that decode to more than 64 MiB may take an eighth of it (at least 1). Keep it under (images/s the workers serve) × (REQUEST_TIMEOUT_MS in s), or accepted requests wait until their 504',
  },
  RESULT_TTL_S: { default: '60', parse: int(1), doc: 'how long replies stay in Redis, keyed by job id' },
  IMAGE_TRANSPORT: {
    default: 'path',
    parse: oneOf('path', 'bytes'),
    doc: '`path`: workers read uploads over INLINE_IMAGE_BYTES from the shared UPLOAD_DIR; `bytes`: every image travels inside its job (workers on other hosts)',
  },
  INLINE_IMAGE_BYTES: {
    default: String(256 * 1024),
    parse: int(0, 64 * 1024 * 1024),
    doc: 'uploads up to this size travel inside their job (IMAGE_TRANSPORT=path): the worker reads no file and the api writes it beside the prediction instead of before. Redis then holds up to QUEUE_MAX_WAITING × this per model; 0: never',
  },
  INLINE_LONE_IMAGE_BYTES: {
    // Up to 1 MiB it gained at each size in every alternating round; 2-3.4 MB images gained 2.8 ms in one
    // session's rounds and up to 3 ms lost in a later one's, at three times Redis's CPU (README, "Images inside").
    default: String(1024 * 1024),
    // The api holds an upload in memory up to 4 MiB (larger ones stream to a file): no larger value could apply.
    parse: int(0, 4 * 1024 * 1024),
    doc: 'a lone request (the api has no other job in flight for its model, whose queue held no other job when last seen) travels inside its job up to this size (at most 4 MiB, what the api holds in memory): it is answered without waiting for its file to be written and read back; under load, uploads over INLINE_IMAGE_BYTES still go through the file (IMAGE_TRANSPORT=path); 0: only INLINE_IMAGE_BYTES decides',
  },
  RESULT_CACHE_TTL_S: {
    default: '600',
    parse: int(0, 30 * 24 * 3600),
    doc: 'an identical upload (same MD5) for the same model and top_k within this many seconds is answered from the result cache (`"cached": true` in /v1/predict), shared by every api through Redis; 0: no cache. Answers are kept per model build (the version in its config and a digest of its files), so a replaced model is never answered from the old answers',
  },
  RESULT_CACHE_MAX_ENTRIES: { default: '10000', parse: int(1), doc: 'answers the result cache holds at most (the oldest go first)' },
  RESULT_CACHE_MAX_BYTES: { default: String(16 * 1024 * 1024), parse: int(1024), doc: 'bytes of answers the result cache holds at most (the oldest go first)' },
  WORKER_CONCURRENCY: {
    default: '0',
    parse: int(0, 64),
    doc: 'jobs one worker process runs at once (0: twice its inference lanes, so images are decoded while others are inferred). Jobs waiting for decode memory (`DECODE_MEMORY_BYTES`) give their places to others, up to as many again; and one heavy job (over 64 MiB decoded) runs besides. A worker serving several models takes the oldest queued jobs across them, no more than it has places for',
  },
  ORT_THREADS: {
    default: '0',
    parse: int(0, 256),
    doc: 'ONNX Runtime threads of each inference lane\'s session; 0: the process\'s cores ÷ INFERENCE_THREADS (so 1 with the defaults)',
  },
  SOLO_ORT_THREADS: {
    default: '0',
    parse: int(0, 256),
    doc: 'ONNX Runtime threads of the extra session a worker runs a job on when it holds no other one, so a request at light load gets every core; 0: the process\'s cores; 1 (or not above ORT_THREADS): no extra session, one session less per model in memory',
  },
  MODEL_WORKERS: {
    default: '0',
    parse: int(0, 64),
    doc: 'worker processes per host: `npm start` in redis mode starts this many beside the api (0: one, which uses every core through its inference lanes); the cores are divided among them',
  },
  WORKER_NICE: {
    default: '5',
    parse: int(0, 19),
    doc: 'scheduling priority (nice) of worker processes, every thread of them (decoding included): above 0, the api keeps answering quickly (and refusing overload quickly) while workers use every core',
  },
  WORKER_DEAD_AFTER_MS: {
    default: '2000',
    parse: int(300, 60_000),
    doc: 'a worker whose heartbeat (sent every quarter of this) is older than this is dead: another worker takes over its jobs at once, whatever the inference time. Keep it well under REQUEST_TIMEOUT_MS (the api warns at start when it is not below), and the same on the api and every worker (the api judges workers alive by it too)',
  },
  WORKER_RESTART_GRACE_MS: {
    default: '10000',
    parse: int(0, 600_000),
    doc: 'when the last live worker of a model dies or stops, the api keeps queueing that model\'s requests this long for the worker an orchestrator restarts (none waits past its deadline), then refuses them at once with 503 `NOT_READY`; a worker that comes back reporting the model broken ends it. 0: refused from the moment the last worker\'s heartbeat is stale',
  },
  INFERENCE_THREADS: {
    default: '0',
    parse: int(0, 64),
    doc: 'inference lanes per worker process: threads that each run one inference at a time, off the event loop, on a session of their own (0: one per core of the process)',
  },
  SHUTDOWN_DRAIN_MS: {
    default: '5000',
    parse: int(0, 600_000),
    doc: 'on SIGTERM the api reports not ready at once but keeps serving this long, so a load balancer stops sending before it closes (a second signal stops at once)',
  },
  STUCK_EXIT_MS: {
    default: '30000',
    // The loop marks its time once a second: 5 ms killed every api a second after it started.
    parse: offOrInt(5000, 3_600_000, 'a loop busy for a second is no stuck loop'),
    doc: 'an api or worker process whose event loop has not turned for this long kills itself (SIGKILL, logged), so the runtime restarts it: compose and systemd restart only processes that exit, and a stuck one answered nothing for good. 0: off; else at least 5000 (the loop marks its time once a second)',
  },
  ADMIN_TOKEN: {
    default: '',
    parse: secret(16),
    doc: 'token for the admin pages, 16 characters or more, no spaces or control characters (`/feedback/review`, `GET /v1/feedback`, `/metrics`): `Authorization: Bearer <token>`, or a browser login with any user name and the token as password. Unset: those pages answer only to clients on 127.0.0.1/::1',
  },
  CORS_ORIGINS: {
    default: '',
    parse: origins,
    doc: 'web pages on these origins (comma-separated, e.g. https://app.example.com; * for any) may call the programs\' API from the browser: POST /predict and /v1/predict, GET /v1/models and /openapi.json. Unset: none (browsers refuse them the answers)',
  },
  RATE_LIMIT_PER_MINUTE: {
    default: '0',
    parse: int(0),
    doc: 'requests per minute one client address may make (429 + Retry-After above it); 0: no limit. Health checks are not counted',
  },
  WORKER_METRICS_PORT: {
    default: '9464',
    parse: int(0, 65535),
    doc: 'port where a model worker serves `/metrics` (admin, as the api\'s) and `/healthz`; `npm start` gives its workers this port and the next ones (one each); 0: off. Unused in embedded mode, where the api\'s `/metrics` holds the model\'s metrics too',
  },
  OTEL_EXPORTER_OTLP_ENDPOINT: {
    default: '',
    parse: httpUrl,
    doc: 'OpenTelemetry collector (OTLP/HTTP, e.g. `http://otel-collector:4318`): spans go to `<endpoint>/v1/traces`. Unset: tracing is off and costs nothing',
  },
  OTEL_SERVICE_NAME: {
    default: '',
    parse: optionalText,
    doc: 'service name on the spans (default: `icls-api`, `icls-model`, or `icls` in embedded mode)',
  },
  OTEL_TRACES_SAMPLER_ARG: {
    default: '1',
    parse: fraction,
    doc: 'fraction of requests traced (parent-based ratio sampling: a request whose `traceparent` is sampled is always traced, and workers follow the api)',
  },
  LOG_LEVEL: { default: 'info', parse: oneOf('fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'), doc: 'log level' },
} satisfies Record<string, VarSpec<unknown>>;

type Spec = typeof spec;
export type Config = { [K in keyof Spec]: ReturnType<Spec[K]['parse']> };

/** Each variable with its default and meaning, for docs and `--help`. */
export function describeConfig(): { name: string; default: string; doc: string }[] {
  return Object.entries(spec).map(([name, s]) => ({ name, default: s.default ?? '', doc: s.doc }));
}

/**
 * Reads and validates the whole configuration from an environment (process.env by default).
 * Collects every problem, then throws one ConfigError naming each variable and what was wrong.
 */
export function loadConfig(env: NodeJS.ProcessEnv = process.env): Config {
  const out: Record<string, unknown> = {};
  const problems: string[] = [];
  for (const [name, s] of Object.entries(spec) as [string, VarSpec<unknown>][]) {
    const raw = env[name] ?? s.default ?? '';
    try {
      out[name] = s.parse(raw);
    } catch (err) {
      problems.push(`${name} ${(err as Error).message}`);
    }
  }
  const headers = out.HEADERS_TIMEOUT_MS as number | undefined;
  const whole = out.REQUEST_RECEIVE_TIMEOUT_MS as number | undefined;
  // Node's HTTP server then never times out the whole request (checked: a body trickled in is never cut).
  if (headers !== undefined && whole !== undefined && whole < headers) {
    problems.push(`REQUEST_RECEIVE_TIMEOUT_MS must be at least HEADERS_TIMEOUT_MS (${headers}): the whole request includes its headers, got ${whole}`);
  }
  if (problems.length) throw new ConfigError(`invalid configuration:\n  ${problems.join('\n  ')}`);
  return out as Config;
}

/**
 * Settings that are valid but defeat each other, for the api to log at start. Warned, not refused: a short
 * deadline on purpose (a client that would rather fail fast) is a legitimate choice.
 */
export function configWarnings(config: Pick<Config, 'WORKER_DEAD_AFTER_MS' | 'REQUEST_TIMEOUT_MS'>): string[] {
  const warnings: string[] = [];
  if (config.WORKER_DEAD_AFTER_MS >= config.REQUEST_TIMEOUT_MS) {
    warnings.push(
      `WORKER_DEAD_AFTER_MS (${config.WORKER_DEAD_AFTER_MS}) is not below REQUEST_TIMEOUT_MS (${config.REQUEST_TIMEOUT_MS}): ` +
        'a job whose worker dies is taken over only after its deadline has passed, so its client gets 504; keep it well under',
    );
  }
  return warnings;
}

/** REDIS_URL, or the local default. */
export const redisUrlOf = (config: Pick<Config, 'REDIS_URL'>): string => config.REDIS_URL ?? DEFAULT_REDIS_URL;
