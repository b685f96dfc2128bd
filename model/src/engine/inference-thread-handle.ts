/**
 * The main thread's handle on one inference thread: sends it requests and matches its replies. A reply
 * settles its request whenever it comes, so the pool knows when the thread is really free again, even
 * for a run whose caller stopped waiting.
 */
import { extname } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Worker } from 'node:worker_threads';
import type { ThreadData, ThreadReply, ThreadRequest, ThreadValue } from './inference-protocol.ts';

// Sources run as .ts through tsx; a compiled build runs .js: load the thread module of the same kind. A
// compiled thread starts on it directly; from sources it starts on a small shim that registers tsx first
// (thread-entry.mjs, used in development only: worker threads do not inherit `--import tsx`).
const FROM_SOURCES = extname(fileURLToPath(import.meta.url)) === '.ts';
const THREAD_MODULE = new URL(`./inference-thread${FROM_SOURCES ? '.ts' : '.js'}`, import.meta.url).href;
const ENTRY = FROM_SOURCES ? new URL('./thread-entry.mjs', import.meta.url) : new URL(THREAD_MODULE);

type Pending = { resolve: (v: ThreadValue) => void; reject: (e: Error) => void };

export class InferenceThreadHandle {
  readonly worker: Worker;
  private readonly pending = new Map<number, Pending>();
  /** Settles once the sessions of a replacement thread are open. */
  ready: Promise<unknown> = Promise.resolve();

  constructor(onStop: (thread: InferenceThreadHandle, err: Error) => void) {
    this.worker = new Worker(ENTRY, { workerData: { entry: THREAD_MODULE } satisfies ThreadData });
    this.worker.on('message', (reply: ThreadReply) => {
      const p = this.pending.get(reply.id);
      if (!p) return;
      this.pending.delete(reply.id);
      if (reply.ok) p.resolve(reply.value);
      else p.reject(new Error(reply.message));
    });
    this.worker.on('error', (err) => onStop(this, err));
    this.worker.on('exit', (code) => onStop(this, new Error(`inference thread exited with code ${code}`)));
  }

  /** Sends one request; settles with the thread's answer, or when the thread stops (failAll). */
  request(req: ThreadRequest, transfer: ArrayBuffer[] = []): Promise<ThreadValue> {
    return new Promise<ThreadValue>((resolve, reject) => {
      this.pending.set(req.id, { resolve, reject });
      this.worker.postMessage(req, transfer);
    });
  }

  failAll(err: Error): void {
    for (const p of this.pending.values()) p.reject(err);
    this.pending.clear();
  }
}
