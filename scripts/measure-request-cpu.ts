/**
 * What one cheap request costs a running api in CPU: sends GET requests to one path over a few kept-alive
 * connections and divides the process's CPU time (user + system, all threads) by their number. What every
 * request pays whatever it asks (routing, hooks, headers, the answer's write) shows here without the noise
 * of a model. Not a test (timings move on a shared machine), a script to re-run:
 *   node --conditions=source --import tsx scripts/measure-request-cpu.ts --url http://127.0.0.1:8000
 *     [--pid <api pid>] [--path /healthz] [--requests 20000] [--connections 4]
 * `--pid`: the process that answers; by default the one listening on the URL's port (with `npm start`, the
 * api runs in the process started). Linux only (/proc).
 */
import { HttpClient } from '../bench/http-client.ts';
import { clockTicksPerSecond, pidListeningOn, readProc } from '../bench/proc-stats.ts';
import { numberFlag, parseFlags, UsageError } from '@icls/lib/usage-error';

const USAGE =
  'usage: node --conditions=source --import tsx scripts/measure-request-cpu.ts --url http://host:port [--pid PID] [--path /healthz] [--requests 1-1000000] [--connections 1-64]';
/** Requests sent first and not counted: connections opened, code paths warmed. */
const WARM_UP = 500;

interface Options {
  url: URL;
  pid: number;
  path: string;
  requests: number;
  connections: number;
}

function options(): Options {
  const { values } = parseFlags({
    options: {
      url: { type: 'string' },
      pid: { type: 'string' },
      path: { type: 'string', default: '/healthz' },
      requests: { type: 'string', default: '20000' },
      connections: { type: 'string', default: '4' },
      help: { type: 'boolean' },
    },
  });
  if (values.help) {
    console.log(USAGE);
    process.exit(0);
  }
  if (!values.url) throw new UsageError('--url is required');
  const url = URL.canParse(values.url) ? new URL(values.url) : undefined;
  if (url?.protocol !== 'http:') throw new UsageError(`--url must be an http:// URL, got "${values.url}"`);
  if (!values.path.startsWith('/')) throw new UsageError(`--path must start with /, got "${values.path}"`);
  const pid = numberFlag('--pid', values.pid, { min: 1, max: 2 ** 22, integer: true }) ?? pidListeningOn(Number(url.port || 80));
  if (pid === undefined) throw new UsageError(`no process of this user listens on port ${url.port || 80}: give --pid`);
  return {
    url,
    pid,
    path: values.path,
    requests: numberFlag('--requests', values.requests, { min: 1, max: 1_000_000, integer: true })!,
    connections: numberFlag('--connections', values.connections, { min: 1, max: 64, integer: true })!,
  };
}

/** The process's CPU time so far, in ms (every thread). */
function cpuMs(pid: number): number {
  const reading = readProc(pid);
  if (!reading) throw new Error(`no process ${pid} to measure`);
  return (reading.cpuTicks / clockTicksPerSecond()) * 1000;
}

async function send(opts: Options, client: HttpClient, count: number): Promise<void> {
  let sent = 0;
  const loop = async (): Promise<void> => {
    while (sent < count) {
      sent++;
      const { status, error } = await client.request('GET', opts.path, { timeoutMs: 10_000 });
      if (status === 0 || status >= 500) throw new Error(`${opts.path} answered ${error ?? status}`);
    }
  };
  await Promise.all(Array.from({ length: opts.connections }, loop));
}

async function main(opts: Options): Promise<void> {
  cpuMs(opts.pid); // no such process: fail before sending anything
  const client = new HttpClient(opts.url.href);
  try {
    await send(opts, client, WARM_UP);
    const cpuBefore = cpuMs(opts.pid);
    const start = performance.now();
    await send(opts, client, opts.requests);
    const seconds = (performance.now() - start) / 1000;
    const perRequestUs = ((cpuMs(opts.pid) - cpuBefore) / opts.requests) * 1000;
    console.log(`GET ${opts.path}: ${perRequestUs.toFixed(1)} µs of process ${opts.pid}'s CPU per request, ${(opts.requests / seconds).toFixed(0)} requests/s (${opts.requests} on ${opts.connections} connections)`);
  } finally {
    client.close();
  }
}

try {
  await main(options());
} catch (err) {
  console.error(err instanceof UsageError ? `measure-request-cpu: ${err.message}\n${USAGE}` : `measure-request-cpu: ${(err as Error).message}`);
  process.exitCode = err instanceof UsageError ? 2 : 1;
}
