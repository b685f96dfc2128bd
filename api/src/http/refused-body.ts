/**
 * What becomes of the rest of a body the api answered before reading it all (a wrong path or method, a
 * file name it refuses, a form too large, a queue that is full). Node's fetch (undici), like browsers,
 * sends the whole body before it reads the answer; a connection closed with body bytes still unread is
 * reset by the kernel, and the reset takes the answer with it: the client saw EPIPE, not the 404 or 400
 * that said what to fix. So the rest is read and dropped, up to a bound, and the connection stays usable;
 * past the bound (or when the body cannot be read any more) the connection is closed after the answer,
 * and such a client may see the reset.
 */
import type { IncomingMessage } from 'node:http';
import type { Socket } from 'node:net';

/** Per request, how many body bytes may be read and dropped after a refusal (set when it is routed). */
const allowances = new WeakMap<IncomingMessage, number>();
/** Connections reading the rest of a refused body: their request was answered already. */
const draining = new WeakSet<Socket>();

export function allowDropping(raw: IncomingMessage, maxBytes: number): void {
  allowances.set(raw, maxBytes);
}

/** True while `socket` reads the rest of a body whose request was answered: nothing more is owed on it. */
export const isDropping = (socket: Socket): boolean => draining.has(socket);

/**
 * Reads and drops the rest of `raw`'s body, if it is within its allowance, and returns true (the
 * connection can be kept); false when it must be closed after the answer. A body that grows past the
 * allowance while being dropped (chunked, or a lying Content-Length) closes the connection then.
 */
export function dropRestOfBody(raw: IncomingMessage): boolean {
  if (raw.complete) return true;
  const max = allowances.get(raw);
  const declared = Number(raw.headers['content-length'] ?? 0);
  if (max === undefined || raw.destroyed || declared > max) return false;
  const socket = raw.socket as Socket | null;
  if (!socket) return false;
  if (draining.has(socket)) return true;
  draining.add(socket);
  const done = (): void => {
    draining.delete(socket);
  };
  raw.once('end', () => {
    done();
    // The server began closing meanwhile: it closed the connections idle then, not this one (busy
    // dropping), which would now idle until the shutdown cuts it. Nothing more will be asked on it.
    if ((socket as Socket & { server?: { listening: boolean } }).server?.listening === false) socket.destroySoon();
  });
  raw.once('close', done);
  let dropped = 0;
  // A reader that stopped (the multipart parser, after the error) must not get the rest.
  raw.unpipe();
  raw.removeAllListeners('data');
  raw.on('data', (chunk: Buffer) => {
    dropped += chunk.length;
    if (dropped > max) socket.destroy();
  });
  raw.resume();
  return true;
}
