/**
 * Flags of `npm run chaos`. Every mistake is one line and exit code 2.
 */
import { resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { PREFERRED_DEFAULT_MODEL } from '@icls/lib/default-model';
import { numberFlag, parseFlags, UsageError } from '@icls/lib/usage-error';

export interface ChaosArgs {
  requests: number;
  concurrency: number;
  /** Requests per second sent besides the clients, each without waiting for an answer (0: none). */
  arrivalsPerS: number;
  /** Seconds between two SIGKILLs of a model worker (0: none). */
  killEveryS: number;
  /** Redis is killed once this many requests have been sent (0: never). */
  redisRestartAfter: number;
  /** Seconds Redis stays down. */
  redisDownS: number;
  /** Share of requests that send a corrupt image. */
  corrupt: number;
  /** Clients wait the Retry-After a 503 asks for before their next request, as well-behaved clients do. */
  honorRetryAfter: boolean;
  model: string;
  modelsDir: string;
  workers?: number;
  /** Api and one worker as separate processes, the worker restarted by the run itself (compose, Kubernetes). */
  orchestrated: boolean;
  /** With `orchestrated`: ms between a worker's death and its restart. */
  restartDelayMs: number;
  outDir: string;
  seed: number;
}

export const CHAOS_HELP = `npm run chaos -- [flags]

Starts its own redis-server on a free port and the system as \`npm start\` runs it (api + one worker process, using every core),
drives POST /v1/predict while it SIGKILLs a model worker at intervals, kills and restarts Redis once (no
persistence: every key is lost), and sends some corrupt images. Prints what every request got and writes JSON
to bench/results/.

  --requests N           requests in all (default 10000)
  --concurrency N        clients, each sending its next request when the last is answered (default 8)
  --arrivals R           also send R requests per second that wait for nothing, as new users arrive whatever the
                         others wait for (default 0: while a fault stalls every client, nobody else asks)
  --kill-every S         SIGKILL a random model worker every S seconds; 0: never (default 10)
  --redis-restart-after N  kill Redis once N requests were sent; 0: never (default: half of --requests)
  --redis-down S         seconds Redis stays down before it restarts, empty (default 2)
  --corrupt F            share of corrupt images, 0..1 (default 0.05)
  --no-retry-after       clients send again at once after a 503 instead of waiting its Retry-After
  --model NAME           model to serve (default ${PREFERRED_DEFAULT_MODEL}; built if missing)
  --models-dir DIR       where models are looked up (default ./models)
  --workers N            MODEL_WORKERS (default: one worker process per host, using every core)
  --orchestrated         run the api and one worker as separate processes (npm run start:api, start:model), as
                         compose or Kubernetes does, and start the worker again --restart-delay ms after it dies,
                         instead of npm start's supervisor (which tells the api a restart is under way)
  --restart-delay MS     with --orchestrated: ms from a worker's death to its restart (default 1000)
  --out DIR              results folder (default bench/results)
  --seed N               seed of the image and victim choices (default 1)`;

const number = (name: string, raw: string | undefined, min: number, max = Number.MAX_SAFE_INTEGER): number | undefined =>
  numberFlag(`--${name}`, raw, { min, max });

export function parseChaosArgs(argv: string[]): ChaosArgs | 'help' {
  const { values }: { values: Record<string, string | boolean | undefined> } = parseFlags({
    args: argv,
    strict: true,
    options: {
      requests: { type: 'string' },
      concurrency: { type: 'string' },
      arrivals: { type: 'string' },
      'kill-every': { type: 'string' },
      'redis-restart-after': { type: 'string' },
      'redis-down': { type: 'string' },
      corrupt: { type: 'string' },
      'no-retry-after': { type: 'boolean' },
      model: { type: 'string' },
      'models-dir': { type: 'string' },
      workers: { type: 'string' },
      orchestrated: { type: 'boolean' },
      'restart-delay': { type: 'string' },
      out: { type: 'string' },
      seed: { type: 'string' },
      help: { type: 'boolean', short: 'h' },
    },
  });
  if (values.help) return 'help';
  const str = (k: string) => values[k] as string | undefined;
  const requests = number('requests', str('requests'), 1) ?? 10_000;
  if (values.orchestrated && values.workers !== undefined) throw new UsageError('--workers is for npm start\'s supervisor; --orchestrated runs one worker');
  if (!values.orchestrated && values['restart-delay'] !== undefined) throw new UsageError('--restart-delay only makes sense with --orchestrated');
  return {
    requests,
    concurrency: number('concurrency', str('concurrency'), 1, 1000) ?? 8,
    arrivalsPerS: number('arrivals', str('arrivals'), 0, 1000) ?? 0,
    killEveryS: number('kill-every', str('kill-every'), 0) ?? 10,
    redisRestartAfter: number('redis-restart-after', str('redis-restart-after'), 0) ?? Math.floor(requests / 2),
    redisDownS: number('redis-down', str('redis-down'), 0, 600) ?? 2,
    corrupt: number('corrupt', str('corrupt'), 0, 1) ?? 0.05,
    honorRetryAfter: !values['no-retry-after'],
    model: str('model') ?? PREFERRED_DEFAULT_MODEL,
    modelsDir: resolve(str('models-dir') ?? 'models'),
    workers: number('workers', str('workers'), 1, 64),
    orchestrated: values.orchestrated === true,
    restartDelayMs: number('restart-delay', str('restart-delay'), 0, 600_000) ?? 1000,
    outDir: resolve(str('out') ?? fileURLToPath(new URL('./results/', import.meta.url))),
    seed: number('seed', str('seed'), 0) ?? 1,
  };
}
