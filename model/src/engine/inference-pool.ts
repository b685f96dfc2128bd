/**
 * Runs ONNX Runtime sessions in inference threads, placing each run by the load (lane-choice.ts).
 * onnxruntime-node's `run()` holds the thread that calls it for the whole inference; here that thread
 * is an inference thread, so the worker's own event loop keeps sending heartbeats and, in embedded
 * mode, keeps answering HTTP while a model computes.
 *
 * The pool has `lanes` inference threads. A model opened on it gets one session per lane with
 * `laneThreads` ONNX Runtime threads, plus (when `soloThreads` is larger) one solo session with
 * `soloThreads` threads on lane 0's thread: a lone job runs there on every core, several jobs run on
 * lanes side by side. Each lane runs one inference at a time; runs wait in FIFO order.
 */
import './ort-telemetry-off.ts'; // in the process environment before any thread loads onnxruntime-node
import type { InputTensor } from '../preprocess/pixels-to-tensor.ts';
import type { ThreadRequest, ThreadValue } from './inference-protocol.ts';
import { InferenceThreadHandle } from './inference-thread-handle.ts';
import { chooseLane, type Placement, type RunShape } from './lane-choice.ts';

export type { RunShape } from './lane-choice.ts';

export interface InferencePoolOptions {
  /** Inference threads (lanes); each runs one inference at a time. */
  lanes: number;
  /** ONNX Runtime intra-op threads of each lane's session (0: one per core). */
  laneThreads: number;
  /** ONNX Runtime threads of the solo session for lone jobs; no solo session unless above laneThreads. */
  soloThreads?: number;
  /** Told when an inference thread stops unexpectedly (it is replaced). */
  onThreadError?: (err: Error) => void;
}

export interface RunOptions {
  /** Epoch ms: stop waiting then (InferenceTimeoutError); the thread finishes a run it started. */
  deadline?: number;
  shape?: RunShape;
}

/** A model opened on every lane of a pool. */
export interface PooledSession {
  readonly inputNames: readonly string[];
  readonly outputNames: readonly string[];
  /** Runs one input and returns the named output as float32. */
  run(inputName: string, input: InputTensor, outputName: string, opts?: RunOptions): Promise<Float32Array>;
  close(): Promise<void>;
}

/** The caller stopped waiting for an inference (its job's deadline passed); the thread finishes it anyway. */
export class InferenceTimeoutError extends Error {
  override name = 'InferenceTimeoutError';
}

const MAX_REPLACEMENTS_PER_MINUTE = 5;

interface OpenModel {
  path: string;
  /** Session id of the lane sessions (the same id on every lane's thread). */
  laneId: number;
  /** Session id of the solo session, on lane 0's thread. */
  soloId?: number;
}

interface QueuedRun {
  model: OpenModel;
  shape: RunShape;
  req: Omit<Extract<ThreadRequest, { kind: 'run' }>, 'id' | 'sessionId'>;
  buffer: ArrayBuffer;
  resolve: (v: Float32Array) => void;
  reject: (e: Error) => void;
  timer?: NodeJS.Timeout;
}

export class InferencePool {
  private threads: InferenceThreadHandle[] = [];
  private readonly busy: boolean[];
  private soloBusy = false;
  private readonly closedLanes = new Set<number>();
  private readonly queue: QueuedRun[] = [];
  private readonly models = new Set<OpenModel>();
  private jobs = 0;
  /** Runs started so far, by where they ran (for tests, logs and the bench). */
  readonly runs = { solo: 0, lane: 0 };
  /** When threads were replaced lately: a thread that keeps dying is not replaced forever. */
  private replacedAt: number[] = [];
  private nextId = 1;
  private closed = false;

  constructor(private readonly opts: InferencePoolOptions) {
    if (opts.lanes < 1) throw new Error(`an inference pool needs at least one lane, got ${opts.lanes}`);
    for (let i = 0; i < opts.lanes; i++) this.threads.push(this.spawn());
    this.busy = this.threads.map(() => false);
  }

  get laneCount(): number {
    return this.threads.length;
  }

  /** True when models opened on this pool get a solo session. */
  get hasSolo(): boolean {
    return (this.opts.soloThreads ?? 0) > this.opts.laneThreads && this.opts.laneThreads > 0;
  }

  /**
   * Counts `work` as one job of this process while it runs (decoding included), so the pool can tell
   * a lone job from several.
   */
  async asJob<T>(work: () => Promise<T>): Promise<T> {
    this.jobs++;
    try {
      return await work();
    } finally {
      this.jobs--;
    }
  }

  private spawn(): InferenceThreadHandle {
    return new InferenceThreadHandle((thread, err) => this.replace(thread, err));
  }

  /** A thread that stopped fails its own runs only; a new one takes its place with the same sessions. */
  private replace(thread: InferenceThreadHandle, err: Error): void {
    const i = this.threads.indexOf(thread);
    if (i < 0) return; // already replaced (error and exit both fire)
    thread.failAll(new Error(`inference thread stopped: ${err.message}`));
    if (this.closed) return;
    this.opts.onThreadError?.(err);
    const now = Date.now();
    this.replacedAt = [...this.replacedAt.filter((t) => now - t < 60_000), now];
    if (this.replacedAt.length > MAX_REPLACEMENTS_PER_MINUTE) {
      // The lane stays busy for good: no run is placed on a thread that is gone.
      this.closedLanes.add(i);
      this.busy[i] = true;
      this.opts.onThreadError?.(new Error(`inference threads keep stopping; lane ${i} is closed`));
      if (this.busy.every(Boolean)) this.failQueue(new Error('no inference thread is left (they kept stopping)'));
      return;
    }
    const fresh = this.spawn();
    fresh.ready = Promise.all([...this.models].map((m) => this.openOn(fresh, i, m)));
    fresh.ready.catch((e: unknown) => this.opts.onThreadError?.(e as Error));
    this.threads[i] = fresh;
  }

  /** Opens a model's sessions on one lane's thread: its lane session, and the solo one on lane 0. */
  private openOn(thread: InferenceThreadHandle, lane: number, m: OpenModel): Promise<ThreadValue[]> {
    const opens = [thread.request({ kind: 'open', id: this.nextId++, sessionId: m.laneId, modelPath: m.path, intraOpThreads: this.opts.laneThreads })];
    if (lane === 0 && m.soloId !== undefined) {
      opens.push(thread.request({ kind: 'open', id: this.nextId++, sessionId: m.soloId, modelPath: m.path, intraOpThreads: this.opts.soloThreads! }));
    }
    return Promise.all(opens);
  }

  /** Opens the model on every lane; rejects with ONNX Runtime's reason when the file does not load. */
  async open(modelPath: string): Promise<PooledSession> {
    if (this.closed) throw new Error('the inference pool is closed');
    const model: OpenModel = { path: modelPath, laneId: this.nextId++, soloId: this.hasSolo ? this.nextId++ : undefined };
    const opened = await Promise.allSettled(this.threads.map((t, lane) => this.openOn(t, lane, model)));
    const failed = opened.find((r) => r.status === 'rejected');
    if (failed) {
      await this.release(model);
      throw (failed as PromiseRejectedResult).reason;
    }
    this.models.add(model);
    const first = (opened[0] as PromiseFulfilledResult<ThreadValue[]>).value[0]!;
    if (first.kind !== 'opened') throw new Error(`unexpected answer "${first.kind}" to open`);
    return {
      inputNames: first.inputNames,
      outputNames: first.outputNames,
      run: (inputName, input, outputName, runOpts) => this.run(model, inputName, input, outputName, runOpts),
      close: () => {
        this.models.delete(model);
        return this.release(model);
      },
    };
  }

  private run(model: OpenModel, inputName: string, input: InputTensor, outputName: string, runOpts: RunOptions = {}): Promise<Float32Array> {
    if (this.closed) return Promise.reject(new Error('the inference pool is closed'));
    if (this.closedLanes.size === this.threads.length) return Promise.reject(new Error('no inference thread is left (they kept stopping)'));
    const { data } = input;
    // The buffer moves to the thread; copy only when the view does not own all of it.
    const owned = data.byteOffset === 0 && data.byteLength === data.buffer.byteLength ? data : data.slice();
    const buffer = owned.buffer as ArrayBuffer;
    return new Promise<Float32Array>((resolve, reject) => {
      const queued: QueuedRun = {
        model,
        shape: runOpts.shape ?? 'auto',
        req: { kind: 'run', inputName, outputName, dtype: input.dtype, dims: input.dims, data: buffer },
        buffer,
        resolve,
        reject,
      };
      if (runOpts.deadline !== undefined) {
        queued.timer = setTimeout(() => {
          const i = this.queue.indexOf(queued);
          if (i >= 0) this.queue.splice(i, 1);
          reject(new InferenceTimeoutError('the job\'s deadline passed during inference'));
        }, Math.max(0, runOpts.deadline - Date.now()));
      }
      this.queue.push(queued);
      this.dispatch();
    });
  }

  /** Starts queued runs, in order, while the head of the queue has somewhere to go. */
  private dispatch(): void {
    while (this.queue.length > 0) {
      const head = this.queue[0]!;
      const placement = chooseLane(
        { busyLanes: this.busy, soloBusy: this.soloBusy, hasSolo: head.model.soloId !== undefined, jobsInFlight: this.jobs, queuedBehind: this.queue.length - 1 },
        head.shape,
      );
      if (!placement) return;
      this.queue.shift();
      void this.start(head, placement);
    }
  }

  private async start(run: QueuedRun, placement: Placement): Promise<void> {
    const solo = placement.kind === 'solo';
    const lane = solo ? 0 : placement.lane;
    if (solo) this.soloBusy = true;
    this.busy[lane] = true;
    this.runs[solo ? 'solo' : 'lane']++;
    const thread = this.threads[lane]!;
    try {
      await thread.ready;
      const sessionId = solo ? run.model.soloId! : run.model.laneId;
      const value = await thread.request({ ...run.req, id: this.nextId++, sessionId }, [run.buffer]);
      if (value.kind !== 'output') throw new Error(`unexpected answer "${value.kind}" to run`);
      run.resolve(new Float32Array(value.data));
    } catch (err) {
      run.reject(err as Error);
    } finally {
      clearTimeout(run.timer);
      // A lane whose thread kept stopping stays closed; any other is free again (a replaced thread's
      // successor waits for its sessions before it runs anything).
      if (!this.closedLanes.has(lane)) this.busy[lane] = false;
      if (solo) this.soloBusy = false;
      this.dispatch();
    }
  }

  private failQueue(err: Error): void {
    for (const q of this.queue.splice(0)) {
      clearTimeout(q.timer);
      q.reject(err);
    }
  }

  private async release(model: OpenModel): Promise<void> {
    const ids = [model.laneId, ...(model.soloId === undefined ? [] : [model.soloId])];
    await Promise.allSettled(this.threads.flatMap((t) => ids.map((sessionId) => t.request({ kind: 'release', id: this.nextId++, sessionId }))));
  }

  /** Releases every session and ends the threads. Safe to call twice. */
  async close(): Promise<void> {
    if (this.closed) return;
    await Promise.allSettled([...this.models].map((m) => this.release(m)));
    this.closed = true;
    this.models.clear();
    this.failQueue(new Error('the inference pool is closed'));
    await Promise.allSettled(this.threads.map((t) => t.worker.terminate()));
  }
}
