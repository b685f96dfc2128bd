/**
 * What one cheap request costs a running api in CPU: sends GET requests to one path over a few kept-alive
 * connections and divides the process's CPU time (user + system, from /proc/<pid>/stat) by their number.
 * What every request pays whatever it asks (routing, hooks, headers, the answer's write) shows here
 * without the noise of a model. Not a test (timings move on a shared machine), a script to re-run:
 *   node --conditions=source --import tsx scripts/measure-request-cpu.ts --url http://127.0.0.1:8000 --pid <api pid>
 *     [--path /healthz] [--requests 20000] [--connections 4]
 * `--pid`: the process that answers (`ss -ltnp 'sport = :8000'` names it; with `npm start`, the api runs in
 * the process started). Linux only.
 */
import http from 'node:http';
import { readFileSync } from 'node:fs';
import { numberFlag, parseFlags, UsageError } from '@icls/lib/usage-error';

const USAGE =
  'usage: node --conditions=source --import tsx scripts/measure-request-cpu.ts --url http://host:port --pid PID [--path /healthz] [--requests 1-1000000] [--connections 1-64]';
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
  let url: URL;
  try {
    url = new URL(values.url);
  } catch {
    throw new UsageError(`--url is not a URL: "${values.url}"`);
  }
  if (url.protocol !== 'http:') throw new UsageError(`--url must be http://, got "${values.url}"`);
  if (!values.path.startsWith('/')) throw new UsageError(`--path must start with /, got "${values.path}"`);
  return {
    url,
    pid: numberFlag('--pid', values.pid, { min: 1, max: 2 ** 22, integer: true }) ?? usage('--pid is required'),
    path: values.path,
    requests: numberFlag('--requests', values.requests, { min: 1, max: 1_000_000, integer: true })!,
    connections: numberFlag('--connections', values.connections, { min: 1, max: 64, integer: true })!,
  };
}

function usage(message: string): never {
  throw new UsageError(message);
}

/** The process's CPU time so far, in ms (utime + stime, in clock ticks of 10 ms). */
function cpuMs(pid: number): number {
  let stat: string;
  try {
    stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  } catch {
    throw new Error(`no process ${pid} to measure (/proc/${pid}/stat cannot be read)`);
  }
  const fields = stat.split(') ')[1]!.split(' ');
  return (Number(fields[11]) + Number(fields[12])) * 10;
}

function get(opts: Options, agent: http.Agent): Promise<number> {
  return new Promise((resolve, reject) => {
    const req = http.get({ host: opts.url.hostname, port: opts.url.port || 80, path: opts.path, agent, timeout: 10_000 }, (res) => {
      res.resume();
      res.on('end', () => resolve(res.statusCode ?? 0));
    });
    req.on('timeout', () => req.destroy(new Error('no answer within 10 s')));
    req.on('error', reject);
  });
}

async function send(opts: Options, agent: http.Agent, count: number): Promise<void> {
  let sent = 0;
  const loop = async (): Promise<void> => {
    while (sent < count) {
      sent++;
      const status = await get(opts, agent);
      if (status >= 500) throw new Error(`${opts.path} answered ${status}`);
    }
  };
  await Promise.all(Array.from({ length: opts.connections }, loop));
}

async function main(opts: Options): Promise<void> {
  cpuMs(opts.pid); // no such process: fail before sending anything
  const agent = new http.Agent({ keepAlive: true, maxSockets: opts.connections });
  await send(opts, agent, WARM_UP);
  const cpuBefore = cpuMs(opts.pid);
  const start = performance.now();
  await send(opts, agent, opts.requests);
  const seconds = (performance.now() - start) / 1000;
  const perRequestUs = ((cpuMs(opts.pid) - cpuBefore) / opts.requests) * 1000;
  agent.destroy();
  console.log(`GET ${opts.path}: ${perRequestUs.toFixed(1)} µs of process ${opts.pid}'s CPU per request, ${(opts.requests / seconds).toFixed(0)} requests/s (${opts.requests} on ${opts.connections} connections)`);
}

try {
  await main(options());
} catch (err) {
  console.error(err instanceof UsageError ? `measure-request-cpu: ${err.message}\n${USAGE}` : `measure-request-cpu: ${(err as Error).message}`);
  process.exitCode = err instanceof UsageError ? 2 : 1;
}
