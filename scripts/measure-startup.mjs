// Measures how long a process takes from spawn to a log line, and its RSS once it got there.
//   node scripts/measure-startup.mjs --ready 'worker ready' [--runs 5] [--settle-ms 1000] -- node model/dist/worker-main.js
// The environment is the caller's plus what --env K=V adds. Plain JavaScript, so it measures any layout.
import { spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { parseArgs } from 'node:util';

const dash = process.argv.indexOf('--');
if (dash < 0) {
  console.error('usage: node scripts/measure-startup.mjs --ready <regexp> [--runs N] [--settle-ms MS] [--env K=V ...] -- <command...>');
  process.exit(2);
}
const { values } = parseArgs({
  args: process.argv.slice(2, dash),
  options: {
    ready: { type: 'string' },
    runs: { type: 'string', default: '5' },
    'settle-ms': { type: 'string', default: '1000' },
    'timeout-ms': { type: 'string', default: '60000' },
    env: { type: 'string', multiple: true, default: [] },
  },
});
const [cmd, ...args] = process.argv.slice(dash + 1);
if (!values.ready || !cmd) {
  console.error('--ready and a command are required');
  process.exit(2);
}
const ready = new RegExp(values.ready);
const extraEnv = Object.fromEntries(values.env.map((kv) => [kv.slice(0, kv.indexOf('=')), kv.slice(kv.indexOf('=') + 1)]));

/** RSS in MB of the spawned process alone (a launcher's children, such as `npm start`'s workers, are not counted). */
function rssMb(pid) {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  return Number(/VmRSS:\s+(\d+)/.exec(status)?.[1] ?? 0) / 1024;
}

function once() {
  return new Promise((resolve, reject) => {
    const started = process.hrtime.bigint();
    const child = spawn(cmd, args, { env: { ...process.env, ...extraEnv }, stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    let readyMs;
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`no line matching ${ready} within ${values['timeout-ms']} ms:\n${out.slice(-2000)}`));
    }, Number(values['timeout-ms']));
    const onData = (d) => {
      out += d;
      if (readyMs === undefined && ready.test(out)) {
        readyMs = Number(process.hrtime.bigint() - started) / 1e6;
        setTimeout(() => {
          const rss = rssMb(child.pid);
          clearTimeout(timer);
          child.once('exit', () => resolve({ readyMs, rss }));
          child.kill('SIGTERM');
        }, Number(values['settle-ms']));
      }
    };
    child.stdout.on('data', onData);
    child.stderr.on('data', onData);
    child.on('error', reject);
    // A command that ends before its ready line (a typo in the path, a bad setting) fails at once.
    child.once('exit', (code, signal) => {
      if (readyMs !== undefined) return;
      clearTimeout(timer);
      reject(new Error(`the command exited (${code ?? signal}) before a line matching ${ready}; its last output:\n${out.slice(-2000)}`));
    });
  });
}

const results = [];
try {
  for (let i = 0; i < Number(values.runs); i++) results.push(await once());
} catch (err) {
  console.error(`measure-startup: ${err.message}`);
  process.exit(1);
}
const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
const readyMs = results.map((r) => r.readyMs);
const rss = results.map((r) => r.rss);
console.log(
  `${values.runs} runs: ready in median ${median(readyMs).toFixed(0)} ms (min ${Math.min(...readyMs).toFixed(0)}, max ${Math.max(...readyMs).toFixed(0)}); ` +
    `RSS ${values['settle-ms']} ms after ready: median ${median(rss).toFixed(0)} MB`,
);
