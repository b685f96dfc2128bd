/**
 * The event-loop watchdog, on real processes: one whose loop spins is killed (SIGKILL) once the limit
 * passes, with one fatal line on stderr; one that ends its work exits by itself (the watch holds
 * nothing open); a limit of 0 watches nothing.
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { it } from 'node:test';

const MODULE = fileURLToPath(new URL('./loop-watchdog.ts', import.meta.url));

/** Runs `body` after starting the watch with `limitMs`; resolves with how the process ended and when. */
function run(limitMs: number, body: string): Promise<{ code: number | null; signal: NodeJS.Signals | null; stderr: string; ms: number }> {
  const code = `const { watchEventLoop } = await import(${JSON.stringify(MODULE)}); watchEventLoop(${limitMs}, 'probe'); ${body}`;
  const child = spawn(process.execPath, ['--conditions=source', '--import', 'tsx', '--input-type=module', '-e', code], { env: { PATH: process.env.PATH ?? '' }, stdio: ['ignore', 'ignore', 'pipe'] });
  let stderr = '';
  child.stderr.setEncoding('utf8').on('data', (d: string) => (stderr += d));
  const t0 = performance.now();
  const timer = setTimeout(() => child.kill('SIGKILL'), 20_000);
  return new Promise((resolve) =>
    child.on('exit', (exitCode, signal) => {
      clearTimeout(timer);
      resolve({ code: exitCode, signal, stderr, ms: performance.now() - t0 });
    }),
  );
}

const SPIN = 'setTimeout(() => { const end = Date.now() + 15000; while (Date.now() < end); }, 200);';

it('a process whose event loop spins is killed once the limit passes, saying so on stderr', { timeout: 30_000 }, async () => {
  const r = await run(1500, SPIN);
  assert.equal(r.signal, 'SIGKILL', r.stderr);
  assert.ok(r.ms < 10_000, `killed after ${r.ms.toFixed(0)} ms (it would have spun 15 s)`);
  const line = JSON.parse(r.stderr.trim().split('\n').at(-1)!) as { level: number; name: string; stuckMs: number; msg: string };
  assert.equal(line.level, 60);
  assert.equal(line.name, 'probe');
  assert.ok(line.stuckMs >= 1500);
  assert.match(line.msg, /event loop is stuck: stopping the process \(SIGKILL\) so that it is restarted/);
});

it('a process that finishes its work exits by itself; a limit of 0 watches nothing', { timeout: 30_000 }, async () => {
  const done = await run(1500, 'setTimeout(() => undefined, 300);');
  assert.equal(done.code, 0, done.stderr);
  assert.ok(done.ms < 10_000);
  const off = await run(0, 'setTimeout(() => { const end = Date.now() + 2500; while (Date.now() < end); }, 100);');
  assert.equal(off.code, 0, off.stderr);
});
