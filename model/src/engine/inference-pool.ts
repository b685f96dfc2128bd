/**
 * Runs ONNX Runtime sessions in worker threads. onnxruntime-node's `run()` holds the thread that calls
 * it for the whole inference; here that thread is an inference thread, so the worker's own event loop
 * keeps sending heartbeats and, in embedded mode, keeps answering HTTP while a model computes.
 *
 * The pool has `threads` inference threads; every session opened on the pool is opened in each of
 * them with `intraOpThreads` ONNX Runtime threads, and each run goes to the least busy thread. Both
 * numbers are parameters so a caller can trade latency for throughput (one thread with every core
 * for a lone request, several single-core threads under load).
 */
import './ort-telemetry-off.ts'; // in the process environment before any thread loads onnxruntime-node
import { extname } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Worker } from 'node:worker_threads';
import type { InputTensor } from '../preprocess/pixels-to-tensor.ts';
import type { ThreadData, ThreadReply, ThreadRequest, ThreadValue } from './inference-protocol.ts';

export interface InferencePoolOptions {
  /** Inference threads; each holds every session opened on the pool. */
  threads: number;
  /** ONNX Runtime intra-op threads of each session (0: one per core). */
  intraOpThreads: number;
  /** Told when an inference thread stops unexpectedly (it is replaced). */
  onThreadError?: (err: Error) => void;
}

/** A model opened on every thread of a pool. */
export interface PooledSession {
  readonly inputNames: readonly string[];
  readonly outputNames: readonly string[];
  /** Runs one input and returns the named output as float32; rejects with InferenceTimeoutError at `deadline`. */
  run(inputName: string, input: InputTensor, outputName: string, opts?: { deadline?: number }): Promise<Float32Array>;
  close(): Promise<void>;
}

/** The caller stopped waiting for an inference (its job's deadline passed); the thread finishes it anyway. */
export class InferenceTimeoutError extends Error {
  override name = 'InferenceTimeoutError';
}

// Sources run as .ts through tsx; a compiled build runs .js: load the thread module of the same kind. A
// compiled thread starts on it directly; from sources it starts on a small shim that registers tsx first
// (thread-entry.mjs, used in development only: worker threads do not inherit `--import tsx`).
const FROM_SOURCES = extname(fileURLToPath(import.meta.url)) === '.ts';
const THREAD_MODULE = new URL(`./inference-thread${FROM_SOURCES ? '.ts' : '.js'}`, import.meta.url).href;
const ENTRY = FROM_SOURCES ? new URL('./thread-entry.mjs', import.meta.url) : new URL(THREAD_MODULE);

const MAX_REPLACEMENTS_PER_MINUTE = 5;

type Pending = { resolve: (v: ThreadValue) => void; reject: (e: Error) => void; timer?: NodeJS.Timeout };

/** One inference thread and the requests it has not answered yet. */
class InferenceThread {
  readonly worker: Worker;
  readonly pending = new Map<number, Pending>();
  /** Settles once the sessions of a replaced thread are open again. */
  ready: Promise<unknown> = Promise.resolve();

  constructor(onStop: (thread: InferenceThread, err: Error) => void) {
    this.worker = new Worker(ENTRY, { workerData: { entry: THREAD_MODULE } satisfies ThreadData });
    this.worker.on('message', (reply: ThreadReply) => {
      const p = this.pending.get(reply.id);
      if (!p) return;
      this.pending.delete(reply.id);
      clearTimeout(p.timer);
      if (reply.ok) p.resolve(reply.value);
      else p.reject(new Error(reply.message));
    });
    this.worker.on('error', (err) => onStop(this, err));
    this.worker.on('exit', (code) => onStop(this, new Error(`inference thread exited with code ${code}`)));
  }

  request(req: ThreadRequest, transfer: ArrayBuffer[] = [], deadline?: number): Promise<ThreadValue> {
    return new Promise<ThreadValue>((resolve, reject) => {
      const p: Pending = { resolve, reject };
      if (deadline !== undefined) {
        p.timer = setTimeout(() => {
          this.pending.delete(req.id);
          reject(new InferenceTimeoutError('the job\'s deadline passed during inference'));
        }, Math.max(0, deadline - Date.now()));
      }
      this.pending.set(req.id, p);
      this.worker.postMessage(req, transfer);
    });
  }

  failAll(err: Error): void {
    for (const p of this.pending.values()) {
      clearTimeout(p.timer);
      p.reject(err);
    }
    this.pending.clear();
  }
}

export class InferencePool {
  private threads: InferenceThread[] = [];
  private readonly sessions = new Map<number, string>();
  /** When threads were replaced lately: a thread that keeps dying is not replaced forever. */
  private replacedAt: number[] = [];
  private nextId = 1;
  private closed = false;

  constructor(private readonly opts: InferencePoolOptions) {
    if (opts.threads < 1) throw new Error(`an inference pool needs at least one thread, got ${opts.threads}`);
    for (let i = 0; i < opts.threads; i++) this.threads.push(this.spawn());
  }

  get threadCount(): number {
    return this.threads.length;
  }

  private spawn(): InferenceThread {
    return new InferenceThread((thread, err) => this.replace(thread, err));
  }

  /** A thread that stopped fails its own runs only; a new one takes its place with the same sessions. */
  private replace(thread: InferenceThread, err: Error): void {
    const i = this.threads.indexOf(thread);
    if (i < 0) return; // already replaced (error and exit both fire)
    thread.failAll(new Error(`inference thread stopped: ${err.message}`));
    if (this.closed) return;
    this.opts.onThreadError?.(err);
    const now = Date.now();
    this.replacedAt = [...this.replacedAt.filter((t) => now - t < 60_000), now];
    if (this.replacedAt.length > MAX_REPLACEMENTS_PER_MINUTE) {
      this.threads.splice(i, 1);
      this.opts.onThreadError?.(new Error(`inference threads keep stopping; ${this.threads.length} left`));
      return;
    }
    const fresh = this.spawn();
    fresh.ready = Promise.all([...this.sessions].map(([sessionId, modelPath]) => this.openOn(fresh, sessionId, modelPath)));
    fresh.ready.catch((e: unknown) => this.opts.onThreadError?.(e as Error));
    this.threads[i] = fresh;
  }

  private openOn(thread: InferenceThread, sessionId: number, modelPath: string) {
    return thread.request({ kind: 'open', id: this.nextId++, sessionId, modelPath, intraOpThreads: this.opts.intraOpThreads });
  }

  /** Opens the model on every thread; rejects with ONNX Runtime's reason when the file does not load. */
  async open(modelPath: string): Promise<PooledSession> {
    if (this.closed) throw new Error('the inference pool is closed');
    const sessionId = this.nextId++;
    const opened = await Promise.allSettled(this.threads.map((t) => this.openOn(t, sessionId, modelPath)));
    const failed = opened.find((r) => r.status === 'rejected');
    if (failed) {
      await this.release(sessionId);
      throw (failed as PromiseRejectedResult).reason;
    }
    this.sessions.set(sessionId, modelPath);
    const first = (opened[0] as PromiseFulfilledResult<ThreadValue>).value;
    if (first.kind !== 'opened') throw new Error(`unexpected answer "${first.kind}" to open`);
    return {
      inputNames: first.inputNames,
      outputNames: first.outputNames,
      run: (inputName, input, outputName, runOpts) => this.run(sessionId, inputName, input, outputName, runOpts?.deadline),
      close: () => {
        this.sessions.delete(sessionId);
        return this.release(sessionId);
      },
    };
  }

  private async run(sessionId: number, inputName: string, input: InputTensor, outputName: string, deadline?: number): Promise<Float32Array> {
    if (this.closed) throw new Error('the inference pool is closed');
    if (this.threads.length === 0) throw new Error('no inference thread is left (they kept stopping)');
    const thread = this.threads.reduce((a, b) => (b.pending.size < a.pending.size ? b : a));
    await thread.ready;
    const { data } = input;
    // The buffer moves to the thread; copy only when the view does not own all of it.
    const owned = data.byteOffset === 0 && data.byteLength === data.buffer.byteLength ? data : data.slice();
    const buffer = owned.buffer as ArrayBuffer;
    const req: ThreadRequest = { kind: 'run', id: this.nextId++, sessionId, inputName, outputName, dtype: input.dtype, dims: input.dims, data: buffer };
    const value = await thread.request(req, [buffer], deadline);
    if (value.kind !== 'output') throw new Error(`unexpected answer "${value.kind}" to run`);
    return new Float32Array(value.data);
  }

  private async release(sessionId: number): Promise<void> {
    await Promise.allSettled(this.threads.map((t) => t.request({ kind: 'release', id: this.nextId++, sessionId })));
  }

  /** Releases every session and ends the threads. Safe to call twice. */
  async close(): Promise<void> {
    if (this.closed) return;
    await Promise.allSettled([...this.sessions.keys()].map((id) => this.release(id)));
    this.closed = true;
    this.sessions.clear();
    await Promise.allSettled(this.threads.map((t) => t.worker.terminate()));
  }
}
