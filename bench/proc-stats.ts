/**
 * CPU and memory of the processes under test, read from Linux's /proc (no package, no `ps` per sample).
 *
 * CPU comes from utime+stime of /proc/<pid>/stat (clock ticks, all threads of the process: ONNX
 * Runtime's intra-op pool and libuv's pool included); RSS from VmRSS of /proc/<pid>/status.
 * The api's model workers are found through /proc/<pid>/task/<tid>/children, re-read at every
 * sample because the supervisor restarts a worker that dies.
 */
import { execFileSync } from 'node:child_process';
import { readFileSync, readdirSync, readlinkSync } from 'node:fs';

let clkTck: number | undefined;

/** Clock ticks per second (`getconf CLK_TCK`; 100 on every mainstream Linux when getconf is missing). */
export function clockTicksPerSecond(): number {
  if (clkTck === undefined) {
    try {
      clkTck = Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).trim()) || 100;
    } catch (err) {
      process.stderr.write(`bench: getconf CLK_TCK failed (${(err as Error).message}); assuming 100 ticks/s\n`);
      clkTck = 100;
    }
  }
  return clkTck;
}

/** True when /proc can be read (Linux); elsewhere process stats are reported as unavailable. */
export function procAvailable(): boolean {
  try {
    readFileSync('/proc/self/stat');
    return true;
  } catch {
    return false; // not Linux: callers print "n/a" instead of CPU/RSS
  }
}

export interface ProcReading {
  pid: number;
  comm: string;
  /** utime + stime, in clock ticks. */
  cpuTicks: number;
  rssBytes: number;
}

/** One reading of a process, or undefined when it is gone (exited between listing and reading). */
export function readProc(pid: number): ProcReading | undefined {
  let stat: string;
  let status: string;
  try {
    stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    status = readFileSync(`/proc/${pid}/status`, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT' || (err as NodeJS.ErrnoException).code === 'ESRCH') return undefined;
    throw err;
  }
  // comm may contain spaces and parentheses: the fields start after the LAST ')'.
  const close = stat.lastIndexOf(')');
  const comm = stat.slice(stat.indexOf('(') + 1, close);
  const fields = stat.slice(close + 2).split(' ');
  // After "pid (comm)", field 3 (state) is index 0, so utime (14) is index 11 and stime (15) index 12.
  const cpuTicks = Number(fields[11]) + Number(fields[12]);
  const rss = /^VmRSS:\s+(\d+)\s+kB/m.exec(status);
  return { pid, comm, cpuTicks, rssBytes: rss ? Number(rss[1]) * 1024 : 0 };
}

/** Direct children of a process, from every thread's children list. */
export function childrenOf(pid: number): number[] {
  const out = new Set<number>();
  let tids: string[];
  try {
    tids = readdirSync(`/proc/${pid}/task`);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return [];
    throw err;
  }
  for (const tid of tids) {
    let text = '';
    try {
      text = readFileSync(`/proc/${pid}/task/${tid}/children`, 'utf8');
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') continue; // the thread ended meanwhile
      throw err;
    }
    for (const p of text.split(/\s+/)) if (p) out.add(Number(p));
  }
  return [...out];
}

/**
 * The pid listening on a local TCP port (e.g. the Redis the system uses), found through the socket
 * inode in /proc/net/tcp{,6} and the processes' fd links; undefined when none is visible (another
 * user's process, a container without a published port).
 */
export function pidListeningOn(port: number): number | undefined {
  const inodes = new Set<string>();
  const hexPort = port.toString(16).toUpperCase().padStart(4, '0');
  for (const table of ['/proc/net/tcp', '/proc/net/tcp6']) {
    let text: string;
    try {
      text = readFileSync(table, 'utf8');
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') continue; // no IPv6 on this kernel
      throw err;
    }
    for (const line of text.split('\n').slice(1)) {
      const f = line.trim().split(/\s+/);
      // f[1] = local "ADDR:PORT" in hex, f[3] = state (0A = LISTEN), f[9] = socket inode.
      if (f.length > 9 && f[3] === '0A' && f[1]!.endsWith(`:${hexPort}`)) inodes.add(f[9]!);
    }
  }
  if (inodes.size === 0) return undefined;
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    let fds: string[];
    try {
      fds = readdirSync(`/proc/${entry}/fd`);
    } catch (err) {
      // Gone meanwhile, or another user's process: neither can be ours to report.
      const code = (err as NodeJS.ErrnoException).code;
      if (code === 'ENOENT' || code === 'EACCES' || code === 'ESRCH') continue;
      throw err;
    }
    for (const fd of fds) {
      let link: string;
      try {
        link = readlinkSync(`/proc/${entry}/fd/${fd}`);
      } catch (err) {
        const code = (err as NodeJS.ErrnoException).code;
        if (code === 'ENOENT' || code === 'EACCES' || code === 'ESRCH') continue; // fd closed meanwhile
        throw err;
      }
      const m = /^socket:\[(\d+)\]$/.exec(link);
      if (m && inodes.has(m[1]!)) return Number(entry);
    }
  }
  return undefined;
}

const workerPids = new Map<number, boolean>();

/** True when the process runs the model worker entry (cached per pid: a command line never changes). */
function isWorker(pid: number): boolean {
  let known = workerPids.get(pid);
  if (known === undefined) {
    try {
      known = readFileSync(`/proc/${pid}/cmdline`, 'utf8').includes('worker-main');
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
      known = false;
    }
    workerPids.set(pid, known);
  }
  return known;
}

/** Whole-machine CPU counters from the first line of /proc/stat. */
function readSystemCpu(): { busy: number; total: number } {
  const line = readFileSync('/proc/stat', 'utf8').split('\n', 1)[0]!;
  const v = line.trim().split(/\s+/).slice(1).map(Number);
  const idle = (v[3] ?? 0) + (v[4] ?? 0); // idle + iowait
  const total = v.reduce((a, b) => a + b, 0);
  return { busy: total - idle, total };
}

/** CPU and peak memory of one process (or role) over a sampling window. */
export interface ProcUsage {
  role: string;
  pids: number[];
  /** Percent of ONE core (200 = two cores busy). */
  cpuPct: number;
  cpuSeconds: number;
  rssMaxMB: number;
  rssLastMB: number;
}

export interface ProcReport {
  wallSeconds: number;
  api?: ProcUsage;
  workers: ProcUsage[];
  /** All workers together. */
  workersTotal?: ProcUsage;
  /** Other children of the api process, if any. */
  otherChildren?: ProcUsage;
  /** The Redis listening on the system's Redis port here (possibly shared with other users: read with care). */
  redis?: ProcUsage;
  /** The bench process itself: the load generator competes for the same cores. */
  client: { cpuPct: number; cpuSeconds: number };
  /** Whole machine busy %, of all cores (100 = every core busy): shows noise from other work. */
  machineBusyPct: number;
}

interface Track {
  role: string;
  first: ProcReading;
  last: ProcReading;
  rssMax: number;
}

/**
 * Samples a process tree (the api and its children) plus optional extra roles, between `start()`
 * and `stop()`. Sampling every `intervalMs` only matters for peak RSS and for workers that appear
 * mid-window; CPU is the difference of cumulative counters.
 */
export class ProcSampler {
  private readonly tracks = new Map<number, Track>();
  private timer?: NodeJS.Timeout;
  private startedAt = 0;
  private clientStart = process.cpuUsage();
  private machineStart = { busy: 0, total: 0 };

  constructor(
    private readonly rootPid: number | undefined,
    private readonly extra: { role: string; pid: number }[] = [],
    private readonly intervalMs = 500,
  ) {}

  start(): void {
    this.tracks.clear();
    this.startedAt = performance.now();
    this.clientStart = process.cpuUsage();
    this.machineStart = readSystemCpu();
    this.sample();
    this.timer = setInterval(() => this.sample(), this.intervalMs);
    this.timer.unref();
  }

  private sample(): void {
    const targets: { role: string; pid: number }[] = [...this.extra];
    if (this.rootPid !== undefined) {
      targets.push({ role: 'api', pid: this.rootPid });
      // Model workers are the children running worker-main; anything else (a helper a loader
      // spawned, say) is tracked separately so it does not pass for a worker.
      for (const child of childrenOf(this.rootPid)) targets.push({ role: isWorker(child) ? 'worker' : 'other child', pid: child });
    }
    for (const { role, pid } of targets) {
      const r = readProc(pid);
      if (!r) continue;
      const t = this.tracks.get(pid);
      if (!t) this.tracks.set(pid, { role, first: r, last: r, rssMax: r.rssBytes });
      else {
        t.last = r;
        t.rssMax = Math.max(t.rssMax, r.rssBytes);
      }
    }
  }

  stop(): ProcReport {
    if (this.timer) clearInterval(this.timer);
    this.sample();
    const wallSeconds = (performance.now() - this.startedAt) / 1000;
    const tck = clockTicksPerSecond();
    const usage = (role: string, tracks: Track[]): ProcUsage | undefined => {
      if (tracks.length === 0) return undefined;
      const cpuSeconds = tracks.reduce((s, t) => s + (t.last.cpuTicks - t.first.cpuTicks) / tck, 0);
      return {
        role,
        pids: tracks.map((t) => t.first.pid),
        cpuSeconds,
        cpuPct: wallSeconds > 0 ? (100 * cpuSeconds) / wallSeconds : 0,
        rssMaxMB: tracks.reduce((s, t) => s + t.rssMax, 0) / 1048576,
        rssLastMB: tracks.reduce((s, t) => s + t.last.rssBytes, 0) / 1048576,
      };
    };
    const byRole = (role: string) => [...this.tracks.values()].filter((t) => t.role === role);
    const workerTracks = byRole('worker');
    const client = process.cpuUsage(this.clientStart);
    const clientSeconds = (client.user + client.system) / 1e6;
    const machine = readSystemCpu();
    const dTotal = machine.total - this.machineStart.total;
    return {
      wallSeconds,
      api: usage('api', byRole('api')),
      workers: workerTracks.map((t, i) => usage(`worker ${i + 1}`, [t])!),
      workersTotal: usage('workers', workerTracks),
      otherChildren: usage('other children', byRole('other child')),
      redis: usage('redis', byRole('redis')),
      client: { cpuSeconds: clientSeconds, cpuPct: wallSeconds > 0 ? (100 * clientSeconds) / wallSeconds : 0 },
      machineBusyPct: dTotal > 0 ? (100 * (machine.busy - this.machineStart.busy)) / dTotal : 0,
    };
  }
}
