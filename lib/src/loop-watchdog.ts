/**
 * Ends the process when its event loop has not turned for `limitMs`. A stuck loop (an endless loop, a
 * call that never returns) answers nothing: no heartbeat, no /healthz, no request. Under a runtime that
 * restarts only processes that exit (compose's `restart: unless-stopped`, systemd's `Restart=`), it
 * stayed stuck for good: with one worker, every request was refused. A thread of its own reads a
 * time the loop writes every second, and SIGKILLs the process once it is `limitMs` old; the runtime
 * then starts another. (`npm start` kills a silent worker sooner, after 8 s; Kubernetes' liveness probe
 * does the same: this is for the others.) The thread writes its one line straight to stderr: the
 * process's own streams go through the stuck loop.
 */
import { Worker } from 'node:worker_threads';

/** How often the loop writes its time, and the thread looks at it. */
const BEAT_MS = 1000;

const WATCHER = `
const { workerData } = require('node:worker_threads');
const { writeSync } = require('node:fs');
const beat = new BigInt64Array(workerData.shared);
setInterval(() => {
  const stuckMs = Date.now() - Number(Atomics.load(beat, 0));
  if (stuckMs < workerData.limitMs) return;
  const line = { level: 60, time: Date.now(), pid: process.pid, name: workerData.name, stuckMs, msg: 'the event loop is stuck: stopping the process (SIGKILL) so that it is restarted' };
  writeSync(2, JSON.stringify(line) + '\\n');
  process.kill(process.pid, 'SIGKILL');
}, workerData.beatMs);
`;

/** Starts the watch (nothing when `limitMs` is 0); returns how to stop it (at shutdown, which may take long legitimately). */
export function watchEventLoop(limitMs: number, name: string): () => void {
  if (limitMs <= 0) return () => undefined;
  const shared = new SharedArrayBuffer(BigInt64Array.BYTES_PER_ELEMENT);
  const beat = new BigInt64Array(shared);
  const write = (): void => void Atomics.store(beat, 0, BigInt(Date.now()));
  write();
  const timer = setInterval(write, BEAT_MS);
  timer.unref();
  // execArgv []: the process's own flags (a loader, --input-type=module) would change how this CommonJS reads.
  const watcher = new Worker(WATCHER, { eval: true, execArgv: [], workerData: { shared, limitMs, name, beatMs: BEAT_MS } });
  watcher.unref();
  return () => {
    clearInterval(timer);
    void watcher.terminate();
  };
}
