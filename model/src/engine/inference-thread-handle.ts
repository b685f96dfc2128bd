/**
 * The main thread's handle on one inference thread: sends it requests and matches its replies. A reply
 * settles its request whenever it comes, so the pool knows when the thread is really free again, even
 * for a run whose caller stopped waiting.
 */
import { Worker } from 'node:worker_threads';
import type { ThreadData, ThreadReply, ThreadRequest, ThreadValue } from './inference-protocol.ts';
import { threadScript } from './thread-script.ts';

const THREAD = threadScript(import.meta.url, './inference-thread');

type Pending = { resolve: (v: ThreadValue) => void; reject: (e: Error) => void };

export class InferenceThreadHandle {
  readonly worker: Worker;
  private readonly pending = new Map<number, Pending>();
  /** Settles once the sessions of a replacement thread are open. */
  ready: Promise<unknown> = Promise.resolve();

  constructor(onStop: (thread: InferenceThreadHandle, err: Error) => void) {
    this.worker = new Worker(THREAD.entry, { workerData: { entry: THREAD.module } satisfies ThreadData });
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
