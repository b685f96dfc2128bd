/** The bench's command line: mistakes in one line, and `--out` honoured by `--overhead`. */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { it } from 'node:test';
import { parseBenchArgs, UsageError } from '../bench/args.ts';
import { writeOverheadResult } from '../bench/report.ts';
import { describeMachine } from '../bench/result-build.ts';

it('a negative duration is one line that says how to write it, and points to --help', () => {
  assert.throws(
    () => parseBenchArgs(['--duration', '-1'], {}),
    (err: unknown) => err instanceof UsageError && err.message === '--duration needs a value; to give one that starts with a dash, write --duration=-1 (for example) (see --help)',
  );
  assert.throws(() => parseBenchArgs(['--duration=-1'], {}), /--duration/);
});

it('--overhead writes its report where --out says, with the machine it ran on', async () => {
  assert.equal(parseBenchArgs(['--overhead'], {}).outGiven, false);
  const dir = await mkdtemp(join(tmpdir(), 'icls-bench-out-'));
  try {
    const args = parseBenchArgs(['--overhead', '--out', dir], {});
    assert.equal(args.outGiven, true);
    assert.equal(args.outDir, dir);
    const file = await writeOverheadResult(dir, '2026-12-02-0100-m-overhead', { startedAt: '2026-12-02T01:00:00.000Z', model: 'm', machine: describeMachine([0.5, 0.5, 0.5]) }, '\n== Serving overhead ==\nrow\n');
    assert.equal(file, join(dir, '2026-12-02-0100-m-overhead.md'));
    const md = await readFile(file, 'utf8');
    assert.match(md, /^# Serving overhead: m, 2026-12-02 01:00 UTC\n\n- machine: .*cores.*load average at start 0\.50/);
    assert.match(md, /```text\n== Serving overhead ==\nrow\n```\n$/);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

it('a flag of another mode is refused, not ignored: --requests without --overhead started a full run; --overhead with --scaling ran one of them', () => {
  assert.throws(() => parseBenchArgs(['--requests', '10'], {}), /^UsageError: --requests only makes sense with --overhead$|--requests only makes sense with --overhead/);
  assert.throws(() => parseBenchArgs(['--overhead', '--scaling'], {}), /--overhead and --scaling are two different runs: choose one/);
  assert.equal(parseBenchArgs(['--overhead', '--requests', '10'], {}).requests, 10);
});

it('--pid of no process is refused (the report said 0 core-ms for the server and counted its CPU as other work); --rates names both forms', () => {
  const gone = spawnSync(process.execPath, ['-e', '']).pid!; // exited: its pid is free (unless reused at once)
  assert.throws(() => parseBenchArgs(['--url', 'http://127.0.0.1:1', '--pid', String(gone)], {}), new RegExp(`--pid ${gone}: no process has that pid on this machine`));
  assert.equal(parseBenchArgs(['--url', 'http://127.0.0.1:1', '--pid', String(process.pid)], {}).pid, process.pid);
  assert.throws(() => parseBenchArgs(['--rates', '3y'], {}), /--rates takes requests a second \("7"\) or multiples of the closed-loop peak \("0\.5x", "2x"\), got "3y"/);
  assert.deepEqual(parseBenchArgs(['--rates', '7,2x'], {}).rates, [{ perSecond: 7 }, { multiple: 2 }]);
});
