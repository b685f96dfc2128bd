/** The supervisor with stand-in worker processes: back-off only before ready, prompt restarts after, clean stop. */
import assert from 'node:assert/strict';
import { mkdtemp, readFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, it } from 'node:test';
import { createLogger, type Logger } from '@icls/lib/logger';
import { alive, explicitEnv, waitUntil } from '../../tests/helpers/processes.ts';
import { READY_OVERLAP_MS, RESTART_GRACE_MS, WorkerSupervisor } from './worker-supervisor.ts';

const FAKE = fileURLToPath(new URL('../../tests/fixtures/workers/fake-worker.mjs', import.meta.url));

/** A logger whose lines the test can read. */
function capturedLogger(): { log: Logger; lines: () => { level: number; msg: string; restartInMs?: number }[] } {
  const out: string[] = [];
  const log = createLogger('info', 'test', { write: (line) => out.push(...line.split('\n').filter(Boolean)) });
  return { log, lines: () => out.map((l) => JSON.parse(l)) };
}

async function supervise(mode: string, count = 1, hungAfterMs?: number) {
  const file = join(await mkdtemp(join(tmpdir(), 'icls-supervisor-')), 'starts');
  const { log, lines } = capturedLogger();
  const supervisor = new WorkerSupervisor({ count, log, entry: FAKE, nodeArgs: [], env: explicitEnv({ FAKE_WORKER: mode, FAKE_WORKER_LOG: file }), hungAfterMs });
  const starts = async () => (await readFile(file, 'utf8').catch(() => '')).split('\n').filter(Boolean).map((l) => Number(l.split(' ')[1]));
  const untilStarts = async (n: number) => {
    await waitUntil(async () => (await starts()).length >= n, 10_000, `${n} worker starts never happened`);
    return starts();
  };
  supervisor.start();
  const messages = async () => (await readFile(`${file}.messages`, 'utf8').catch(() => '')).split('\n').filter(Boolean);
  return { supervisor, lines, starts, untilStarts, messages };
}

describe('WorkerSupervisor', () => {
  it('backs off a worker that dies before it is ready, doubling each time', async () => {
    const { supervisor, lines, untilStarts } = await supervise('die-early');
    await untilStarts(3);
    await supervisor.stop();
    const exits = lines().filter((l) => l.restartInMs !== undefined);
    assert.deepEqual(exits.slice(0, 2).map((l) => l.restartInMs), [500, 1000]);
    assert.ok(exits.every((l) => l.level === 50 && /before it was ready/.test(l.msg)), JSON.stringify(exits));
  });

  it('restarts a worker that was ready at once, however often it dies; clean exits are logged at info', async () => {
    const died = await supervise('ready-then-die');
    await died.untilStarts(3);
    await died.supervisor.stop();
    const delays = died.lines().filter((l) => l.restartInMs !== undefined).map((l) => l.restartInMs);
    assert.ok(delays.length >= 2 && delays.every((d) => d === 0), `restart delays ${delays.join(', ')}`);

    const clean = await supervise('ready-then-exit-clean');
    await clean.untilStarts(2);
    await clean.supervisor.stop();
    const exit = clean.lines().find((l) => l.restartInMs !== undefined)!;
    assert.equal(exit.level, 30, 'info');
    assert.match(exit.msg, /exited cleanly/);
  });

  it('tells a worker restarted after a ready one died whom it replaces, so it takes its jobs over at once', async () => {
    const died = await supervise('ready-then-die');
    const pids = await died.untilStarts(3);
    // The message reaches a new worker a moment after it starts: wait for it before stopping them.
    await waitUntil(async () => (await died.messages()).length >= 2, 10_000, 'the restarted workers were never told whom they replace');
    await died.supervisor.stop();
    const told = await died.messages();
    assert.ok(told.includes(`${pids[1]} replaces fake-${pids[0]}`), told.join('; '));
    assert.ok(told.includes(`${pids[2]} replaces fake-${pids[1]}`), told.join('; '));

    const early = await supervise('die-early');
    await early.untilStarts(2);
    await early.supervisor.stop();
    assert.deepEqual(await early.messages(), [], 'a worker that never was ready replaces nobody');
  });

  it('names the models of a worker that died after ready until its successor is ready, or dies before', async () => {
    const s = await supervise('first-ready-then-die-early');
    assert.deepEqual([...s.supervisor.restartingModels()], [], 'nothing restarts yet');
    await s.untilStarts(2);
    // The successor dies 300 ms after its start, before ready: meanwhile the dead one's models wait for it.
    assert.deepEqual([...s.supervisor.restartingModels()], ['fake-model']);
    assert.deepEqual([...s.supervisor.restartingModels(Date.now() + RESTART_GRACE_MS)], [], 'for RESTART_GRACE_MS at most');
    await waitUntil(() => s.lines().some((l) => /before it was ready/.test(l.msg)), 10_000, 'the successor never died');
    assert.deepEqual([...s.supervisor.restartingModels()], [], 'a successor that cannot start ends the wait');
    await s.supervisor.stop();
  });

  it('still names them a moment after the successor is ready, until the api can see it beat', async () => {
    const s = await supervise('first-ready-then-die-then-stay');
    await s.untilStarts(2);
    // The successor says "ready" as it starts; give its message time to arrive.
    await new Promise((r) => setTimeout(r, 200));
    assert.deepEqual([...s.supervisor.restartingModels()], ['fake-model'], 'the api may not see the successor yet');
    assert.deepEqual([...s.supervisor.restartingModels(Date.now() + READY_OVERLAP_MS)], [], 'only for READY_OVERLAP_MS, not the whole grace');
    await s.supervisor.stop();
  });

  it('kills a ready worker that falls silent (its event loop stuck) and restarts it at once, telling the successor whom it replaces', async () => {
    const s = await supervise('first-ready-then-hang', 1, 2500);
    const pids = await s.untilStarts(2);
    await waitUntil(async () => (await s.messages()).length >= 1, 10_000, 'the successor was never told whom it replaces');
    assert.ok(!alive(pids[0]!), 'the hung worker was killed');
    const killed = s.lines().find((l) => /stopped answering \(hung\)/.test(l.msg)) as { level: number; silentMs?: number } | undefined;
    assert.ok(killed && killed.level === 50 && killed.silentMs! > 2500, JSON.stringify(s.lines()));
    assert.deepEqual(await s.messages(), [`${pids[1]} replaces fake-${pids[0]}`]);
    // The successor says "alive" every second: it is not taken for hung, however long it runs.
    await new Promise((r) => setTimeout(r, 3500));
    assert.ok(alive(pids[1]!), 'the successor still runs');
    assert.equal((await s.starts()).length, 2);
    await s.supervisor.stop();
  });

  it('a worker that does not stop within the grace period is killed, and the log says so', async () => {
    const deaf = await supervise('stay-deaf');
    const [pid] = await deaf.untilStarts(1);
    await new Promise((r) => setTimeout(r, 300)); // its SIGTERM handler is set
    await deaf.supervisor.stop(500);
    assert.equal(alive(pid!), false);
    const kill = deaf.lines().find((l) => /did not stop within the grace period: killed \(SIGKILL\)/.test(l.msg));
    assert.equal(kill?.level, 50, JSON.stringify(deaf.lines()));
  });

  it('stop() ends every worker and cancels pending restarts', async () => {
    const running = await supervise('stay', 2);
    const pids = await running.untilStarts(2);
    await running.supervisor.stop();
    assert.deepEqual(pids.filter(alive), [], 'every worker ended');

    const backingOff = await supervise('die-early');
    await backingOff.untilStarts(2); // now waiting 1 s before the third start
    await backingOff.supervisor.stop();
    const after = (await backingOff.starts()).length;
    await new Promise((r) => setTimeout(r, 1200));
    assert.equal((await backingOff.starts()).length, after, 'no restart after stop()');
  });
});
