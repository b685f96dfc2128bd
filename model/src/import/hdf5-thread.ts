/**
 * The HDF5 thread: holds the files the import opened and answers its calls, one at a time. The
 * import waits for each answer with a deadline (hdf5-file.ts) and stops this thread when one never
 * comes. After each answer it raises the shared flag the import is blocked on.
 */
import { workerData, type MessagePort } from 'node:worker_threads';
import { failureOf, type Hdf5Reply, type Hdf5Request } from './hdf5-errors.ts';
import { Hdf5Reader } from './hdf5-reader.ts';

export interface Hdf5ThreadData {
  /** The module a development shim imports (thread-entry.mjs). */
  entry: string;
  /** What that shim loads before tsx. */
  nativeFirst: string[];
  port: MessagePort;
  /** Set to a call's `seq`, and notified, once its reply has been posted. */
  flag: Int32Array;
}

const { port, flag } = workerData as Hdf5ThreadData;

/**
 * What the library writes to stderr (a failed memory growth, an invalid UTF-8 byte in a damaged
 * string) would print beside the import's own one-line error, which says the file is damaged. The
 * stream is replaced rather than console.error, which h5wasm binds as it loads.
 */
process.stderr.write = (() => true) as typeof process.stderr.write;

const readers = new Map<number, Hdf5Reader>();

async function answer(req: Hdf5Request): Promise<unknown> {
  if (req.op === 'open') {
    readers.set(req.file, await Hdf5Reader.open(req.path, req.shownAs));
    return undefined;
  }
  const reader = readers.get(req.file);
  if (!reader) throw new Error(`HDF5 file ${req.file} is not open on this thread`);
  switch (req.op) {
    case 'has':
      return reader.has(req.objPath);
    case 'isGroup':
      return reader.isGroup(req.objPath);
    case 'keys':
      return reader.keys(req.objPath);
    case 'attr':
      return reader.attr(req.objPath, req.name);
    case 'readFloats':
      return reader.readFloats(req.objPath);
    case 'close':
      readers.delete(req.file);
      reader.close();
      return undefined;
  }
}

/** A dataset's values move to the import without a copy when they own their whole buffer. */
function transferable(value: unknown): ArrayBuffer[] {
  if (typeof value !== 'object' || value === null || !('values' in value) || !(value.values instanceof Float32Array)) return [];
  const { buffer, byteLength } = value.values;
  return buffer instanceof ArrayBuffer && buffer.byteLength === byteLength ? [buffer] : [];
}

/** Always raises the flag, so the import never waits out its deadline for an answer that failed to send. */
async function handle(req: Hdf5Request): Promise<void> {
  let reply: Hdf5Reply;
  try {
    reply = { seq: req.seq, ok: true, value: await answer(req) };
  } catch (err) {
    reply = { seq: req.seq, ok: false, failure: failureOf(err) };
  }
  try {
    port.postMessage(reply, reply.ok ? transferable(reply.value) : []);
  } catch (err) {
    port.postMessage({ seq: req.seq, ok: false, failure: failureOf(err) } satisfies Hdf5Reply);
  } finally {
    Atomics.store(flag, 0, req.seq);
    Atomics.notify(flag, 0);
  }
}

port.on('message', (req: Hdf5Request) => void handle(req));
