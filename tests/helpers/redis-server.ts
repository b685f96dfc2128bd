/**
 * A private redis-server on a free port, for tests and the chaos run that must kill and restart
 * Redis (the shared one on 6379 is never touched). No persistence: a restart loses every key, the
 * worst case the service must survive.
 */
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { freePort } from '@icls/lib/free-port';
import { redisAnswers } from '@icls/lib/redis-probe';

export interface PrivateRedis {
  url: string;
  port: number;
  /** SIGKILL: the server vanishes with everything it held. */
  kill(): Promise<void>;
  /** Starts it again on the same port, empty; resolves once it answers PING. */
  restart(): Promise<void>;
  /** SIGSTOP: connections stay open and nothing answers, as behind a network black hole. */
  pause(): void;
  /** SIGCONT after pause(). */
  resume(): void;
  /** From now on clients must give `password` (CONFIG SET requirepass); others are told NOAUTH. */
  requirePassword(password: string): void;
  /** Kills it for good and removes its folder. Safe to call twice. */
  stop(): Promise<void>;
}

const READY_TIMEOUT_MS = 10_000;

/** Starts redis-server on a free port; with `running: false` it only reserves the port (restart() starts it). */
export async function startPrivateRedis(opts: { running?: boolean } = {}): Promise<PrivateRedis> {
  const port = await freePort();
  const dir = await mkdtemp(join(tmpdir(), 'icls-redis-'));
  const url = `redis://127.0.0.1:${port}`;
  let proc: ChildProcess | undefined;
  let stopped = false;

  const kill = () =>
    new Promise<void>((resolve) => {
      const p = proc;
      proc = undefined;
      if (!p || p.exitCode !== null || p.signalCode !== null) return resolve();
      p.once('exit', () => resolve());
      p.kill('SIGKILL');
    });

  const launch = async () => {
    const args = ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no', '--dir', dir, '--loglevel', 'warning'];
    const p = spawn('redis-server', args, { stdio: ['ignore', 'ignore', 'pipe'] });
    let stderr = '';
    p.stderr!.on('data', (d: Buffer) => (stderr += d.toString()));
    proc = p;
    const until = Date.now() + READY_TIMEOUT_MS;
    while (Date.now() < until) {
      if (p.exitCode !== null) throw new Error(`redis-server exited (${p.exitCode}): ${stderr}`);
      if (await redisAnswers(url, 200)) return;
      await new Promise((r) => setTimeout(r, 20));
    }
    await kill();
    throw new Error(`redis-server on port ${port} did not answer within ${READY_TIMEOUT_MS} ms: ${stderr}`);
  };

  const exitHook = () => proc?.kill('SIGKILL');
  process.once('exit', exitHook);
  if (opts.running !== false) await launch();
  return {
    url,
    port,
    kill,
    restart: launch,
    pause: () => void proc?.kill('SIGSTOP'),
    resume: () => void proc?.kill('SIGCONT'),
    requirePassword: (password) => void execFileSync('redis-cli', ['-p', String(port), 'config', 'set', 'requirepass', password], { stdio: 'ignore' }),
    async stop() {
      if (stopped) return;
      stopped = true;
      await kill();
      process.removeListener('exit', exitHook);
      await rm(dir, { recursive: true, force: true });
    },
  };
}
