/**
 * Read-only access to an HDF5 file for the Keras readers: attributes, group members and float
 * datasets. The HDF5 library runs on a thread of its own (hdf5-thread.ts) and every call on it has a
 * deadline: a damaged file can keep the library busy for seconds while its memory grows, and a call
 * made on the import's own thread could not be given up. The calls stay synchronous for the readers:
 * each one blocks on a shared flag, with the deadline as its timeout, and then takes the answer off
 * the port.
 */
import { open } from 'node:fs/promises';
import { MessageChannel, receiveMessageOnPort, Worker, type MessagePort } from 'node:worker_threads';
import { errorOf, Hdf5DamageError, Hdf5Error, type FloatDataset, type Hdf5Call, type Hdf5Reply, type Hdf5Request } from './hdf5-errors.ts';
import type { Hdf5ThreadData } from './hdf5-thread.ts';
import { threadScript } from '../engine/thread-script.ts';

export { Hdf5DamageError, Hdf5Error, type FloatDataset } from './hdf5-errors.ts';

/**
 * The longest one call may take. A whole Keras ResNet50 import (about 320 reads, 100 MB of weights)
 * takes under 3 s here; a call still running after a minute is stuck in a damaged file.
 */
export const HDF5_CALL_DEADLINE_MS = 60_000;

const THREAD = threadScript(import.meta.url, './hdf5-thread');

/** HDF5's format signature; the superblock sits at 0 or after a user block of 512 × 2^n bytes. */
const SIGNATURE = Buffer.from([0x89, 0x48, 0x44, 0x46, 0x0d, 0x0a, 0x1a, 0x0a]);
const SIGNATURE_OFFSETS = [0, 512, 1024, 2048, 4096];

/** True when the file carries the HDF5 signature (h5wasm itself "opens" any file and fails later). */
export async function isHdf5(path: string): Promise<boolean> {
  const handle = await open(path, 'r');
  try {
    const head = Buffer.alloc(SIGNATURE_OFFSETS.at(-1)! + SIGNATURE.length);
    const { bytesRead } = await handle.read(head, 0, head.length, 0);
    return SIGNATURE_OFFSETS.some((o) => o + SIGNATURE.length <= bytesRead && head.subarray(o, o + SIGNATURE.length).equals(SIGNATURE));
  } finally {
    await handle.close();
  }
}

function describe(req: Hdf5Request): string {
  if (req.op === 'open') return 'opening it';
  if (req.op === 'close') return 'closing it';
  if (req.op === 'attr') return `reading attribute "${req.name}" of "${req.objPath || '/'}"`;
  return `reading "${req.objPath || '/'}"`;
}

/**
 * One HDF5 thread, asked one call at a time, shared by the files open in this process until a call
 * fails: the library takes 0.3–0.5 s to start.
 */
class Hdf5Thread {
  private readonly worker: Worker;
  private readonly port: MessagePort;
  /** The sequence number of the last reply posted. */
  private readonly flag = new Int32Array(new SharedArrayBuffer(4));
  private lastSeq = 0;
  stopped = false;

  constructor() {
    const { port1, port2 } = new MessageChannel();
    this.port = port1;
    this.worker = new Worker(THREAD.entry, {
      workerData: { entry: THREAD.module, nativeFirst: ['h5wasm/node'], port: port2, flag: this.flag } satisfies Hdf5ThreadData,
      transferList: [port2],
    });
    // An idle thread, or a file left open by a failed import, must not keep the process alive.
    this.worker.unref();
  }

  call(file: number, shownAs: string, call: Hdf5Call, deadlineMs: number): unknown {
    const seq = ++this.lastSeq;
    const req: Hdf5Request = { ...call, file, seq };
    if (this.stopped) throw new Hdf5Error(`${shownAs}: the HDF5 thread was stopped before ${describe(req)}`);
    this.port.postMessage(req);
    const reply = this.replyTo(seq, deadlineMs);
    if (reply === 'timed-out') {
      this.stop();
      throw new Hdf5DamageError(shownAs, `the library was still ${describe(req)} after ${deadlineMs / 1000} s; the read was abandoned`);
    }
    if (!reply) {
      this.stop();
      throw new Hdf5Error(`${shownAs}: the HDF5 thread sent no answer while ${describe(req)}`);
    }
    if (!reply.ok) {
      // A damaged file can leave the library's memory in any state, trapped or not: reading the next
      // file with it gave random results (a fuzz of the fixtures), so the next file gets a new thread.
      this.stop();
      throw errorOf(reply.failure, shownAs, describe(req));
    }
    return reply.value;
  }

  /**
   * Waits until the flag carries `seq` (the thread raises it after posting that reply) or the deadline
   * passes, then takes that reply off the port, skipping any older one; a few milliseconds more
   * should it not be there yet.
   */
  private replyTo(seq: number, deadlineMs: number): Hdf5Reply | 'timed-out' | undefined {
    const until = performance.now() + deadlineMs;
    for (let seen = Atomics.load(this.flag, 0); seen !== seq; seen = Atomics.load(this.flag, 0)) {
      const left = until - performance.now();
      if (left <= 0) return 'timed-out';
      Atomics.wait(this.flag, 0, seen, left);
    }
    for (let tries = 0; tries < 20; tries++) {
      for (let got = receiveMessageOnPort(this.port); got; got = receiveMessageOnPort(this.port)) {
        const reply = got.message as Hdf5Reply;
        if (reply.seq === seq) return reply;
      }
      Atomics.wait(this.flag, 0, seq, 1);
    }
    return undefined;
  }

  stop(): void {
    if (this.stopped) return;
    this.stopped = true;
    this.port.close();
    // The thread ends, and the library's memory with it, once it is back from the library (at once
    // when the process exits, as the models command does after an error).
    void this.worker.terminate();
  }
}

let shared: Hdf5Thread | undefined;
let lastFile = 0;

/** The running HDF5 thread, or a new one when there is none or the last was stopped. */
function hdf5Thread(): Hdf5Thread {
  if (!shared || shared.stopped) shared = new Hdf5Thread();
  return shared;
}

export interface Hdf5OpenOptions {
  /** The name errors use (e.g. the archive a temporary copy came from). */
  shownAs?: string;
  /** The longest one call may take (default HDF5_CALL_DEADLINE_MS). */
  callDeadlineMs?: number;
}

export class Hdf5File {
  private closed = false;

  private constructor(
    private readonly thread: Hdf5Thread,
    private readonly file: number,
    private readonly deadlineMs: number,
    /** The path shown in errors. */
    readonly path: string,
  ) {}

  /**
   * Opens `path` read-only; an Hdf5Error says so when it is not an HDF5 file, an Hdf5DamageError
   * when the library cannot read it or does not finish a call in time.
   */
  static async open(path: string, opts: Hdf5OpenOptions = {}): Promise<Hdf5File> {
    const shownAs = opts.shownAs ?? path;
    if (!(await isHdf5(path))) throw new Hdf5Error(`${shownAs} is not an HDF5 file (no HDF5 signature)`);
    const file = new Hdf5File(hdf5Thread(), ++lastFile, opts.callDeadlineMs ?? HDF5_CALL_DEADLINE_MS, shownAs);
    file.call({ op: 'open', path, shownAs });
    return file;
  }

  private call(call: Hdf5Call): unknown {
    return this.thread.call(this.file, this.path, call, this.deadlineMs);
  }

  has(objPath: string): boolean {
    return this.call({ op: 'has', objPath }) as boolean;
  }

  isGroup(objPath: string): boolean {
    return this.call({ op: 'isGroup', objPath }) as boolean;
  }

  /** Member names of a group, in HDF5's (alphabetical) order. */
  keys(groupPath: string): string[] {
    return this.call({ op: 'keys', objPath: groupPath }) as string[];
  }

  /** An attribute's value as h5wasm decodes it (strings, arrays, numbers), or undefined. */
  attr(objPath: string, name: string): unknown {
    return this.call({ op: 'attr', objPath, name });
  }

  /** A float dataset (float16/32/64 stored) as float32 values with its shape. */
  readFloats(objPath: string): FloatDataset {
    return this.call({ op: 'readFloats', objPath }) as FloatDataset;
  }

  /** Nothing to do when a call stopped the thread: the file went with it, and that call's error stands. */
  close(): void {
    if (this.closed || this.thread.stopped) return;
    this.closed = true;
    this.call({ op: 'close' });
  }
}
