/**
 * What Redis did for a run, from INFO (no MONITOR, which would cost more than the work it watches):
 * commands by name (commandstats; commands run inside a Lua script are counted under their own names
 * too), client commands, bytes in and out, and its own CPU. Read before and after a run on a Redis
 * that serves nothing else (the bench's scaling mode starts its own), the difference is per run.
 */
import { connectRedis } from '@icls/lib/queue/redis-connection';
import { createLogger } from '@icls/lib/logger';

export interface RedisCounters {
  /** Calls per command name (lowercase), scripts' inner calls included. */
  calls: Record<string, number>;
  /** Commands processed (Redis 7 counts the commands a Lua script runs too). */
  commands: number;
  netInputBytes: number;
  netOutputBytes: number;
  /** used_cpu_sys + used_cpu_user, seconds. */
  cpuSeconds: number;
  usedMemoryBytes: number;
}

const num = (info: string, field: string): number => Number(new RegExp(`^${field}:([\\d.]+)`, 'm').exec(info)?.[1] ?? NaN);

/**
 * Reads the counters over one connection kept open, so two readings differ by exactly the first
 * reading's INFO (which perRequest subtracts), not by a connection's set-up commands.
 */
export class RedisStatsReader {
  private readonly redis;
  private readonly ready: Promise<void>;

  constructor(url: string) {
    this.redis = connectRedis(url, 'bench-stats', createLogger('silent', 'bench'), { commandTimeoutMs: 5000 });
    this.ready = new Promise<void>((resolve, reject) => {
      this.redis.once('ready', () => resolve());
      setTimeout(() => reject(new Error(`Redis at ${url} did not answer`)), 5000).unref();
    });
  }

  async read(): Promise<RedisCounters> {
    await this.ready;
    const info = await this.redis.info('all');
    const calls: Record<string, number> = {};
    for (const m of info.matchAll(/^cmdstat_([^:]+):calls=(\d+)/gm)) calls[m[1]!] = Number(m[2]);
    return {
      calls,
      commands: num(info, 'total_commands_processed'),
      netInputBytes: num(info, 'total_net_input_bytes'),
      netOutputBytes: num(info, 'total_net_output_bytes'),
      cpuSeconds: num(info, 'used_cpu_sys') + num(info, 'used_cpu_user'),
      usedMemoryBytes: num(info, 'used_memory'),
    };
  }

  close(): void {
    this.redis.disconnect();
  }
}

export interface RedisPerRequest {
  requests: number;
  /** Commands per request, a script's own commands included (the bench's INFO reads are subtracted). */
  commands: number;
  /** Script calls (EVALSHA) per request: each is one round trip that runs several commands. */
  scripts: number;
  /** Per command name, calls per request (inner script calls included), largest first. */
  calls: Record<string, number>;
  bytesIn: number;
  bytesOut: number;
  cpuMs: number;
  /** used_memory after the run. */
  usedMemoryMB: number;
}

/** The difference of two readings, per request. */
export function perRequest(before: RedisCounters, after: RedisCounters, requests: number): RedisPerRequest {
  const n = Math.max(1, requests);
  const calls: Record<string, number> = {};
  for (const [name, c] of Object.entries(after.calls)) {
    const d = c - (before.calls[name] ?? 0) - (name === 'info' ? 1 : 0);
    if (d > 0) calls[name] = d / n;
  }
  const sorted = Object.fromEntries(Object.entries(calls).sort((a, b) => b[1] - a[1]));
  return {
    requests,
    // The first reading's INFO is counted in the second.
    commands: (after.commands - before.commands - 1) / n,
    scripts: calls.evalsha ?? 0,
    calls: sorted,
    bytesIn: (after.netInputBytes - before.netInputBytes) / n,
    bytesOut: (after.netOutputBytes - before.netOutputBytes) / n,
    cpuMs: ((after.cpuSeconds - before.cpuSeconds) * 1000) / n,
    usedMemoryMB: after.usedMemoryBytes / 1048576,
  };
}
