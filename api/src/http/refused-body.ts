/**
 * What becomes of the rest of a body the api answered before reading it all (a wrong path or method, a
 * file name it refuses, a form too large, a queue that is full; or a route that reads no body, as a
 * GET or a preflight). Node's fetch (undici), like browsers, sends the whole body before it reads the
 * answer; a connection closed with body bytes still unread is reset by the kernel, and the reset takes
 * the answer with it: the client saw EPIPE, not the 404 or 400 that said what to fix. So the rest is
 * read and dropped, up to a bound and while it keeps coming, and the connection stays usable; past the
 * bound, idle for the body's idle limit, or when the body cannot be read any more, the connection is
 * closed, and such a client may see the reset. (Node itself drops the unread body of a request it
 * answered with no bound at all but REQUEST_RECEIVE_TIMEOUT_MS.)
 */
import type { IncomingMessage } from 'node:http';
import type { Socket } from 'node:net';
import type { FastifyInstance } from 'fastify';

interface Allowance {
  maxBytes: number;
  idleMs: number;
}

/** Per request, what may be read and dropped after its answer (set when it is routed). */
const allowances = new WeakMap<IncomingMessage, Allowance>();
/** Connections reading the rest of a body whose request was answered already: nothing more is owed on them. */
const draining = new Set<Socket>();

export function allowDropping(raw: IncomingMessage, allowance: Allowance): void {
  allowances.set(raw, allowance);
}

/** The server a connection came to (Node sets it on accepted sockets; not in its types). */
const serverOf = (socket: Socket): { listening: boolean } | undefined => (socket as Socket & { server?: { listening: boolean } }).server;

/** True while `socket` reads the rest of a body whose request was answered: nothing more is owed on it. */
export const isDropping = (socket: Socket): boolean => draining.has(socket);

/**
 * On every answer (`onSend`): a body not all in is dropped within its allowance, or the connection is
 * closed after the answer. And when the server begins closing, connections that only drop such a body
 * are cut at once: they owe their clients nothing, and shutdown waited REQUEST_TIMEOUT_MS for them.
 */
export function dropUnreadBodies(app: FastifyInstance): void {
  app.addHook('onSend', async (request, reply, payload) => {
    if (request.raw.complete === false && !reply.hasHeader('connection') && !dropRestOfBody(request.raw)) reply.header('connection', 'close');
    return payload;
  });
  app.addHook('preClose', async () => {
    for (const socket of draining) if (serverOf(socket) === app.server) socket.destroy();
  });
}

/**
 * Reads and drops the rest of `raw`'s body, if it is within its allowance, and returns true (the
 * connection can be kept); false when it must be closed after the answer. A body that grows past the
 * allowance while being dropped (chunked, or a lying Content-Length), or stops coming for its idle
 * limit, closes the connection then.
 */
function dropRestOfBody(raw: IncomingMessage): boolean {
  if (raw.complete) return true;
  const allowance = allowances.get(raw);
  const declared = Number(raw.headers['content-length'] ?? 0);
  if (!allowance || raw.destroyed || declared > allowance.maxBytes) return false;
  const socket = raw.socket as Socket | null;
  if (!socket) return false;
  if (draining.has(socket)) return true;
  draining.add(socket);
  // Its own timer: once the answer is sent, Node sets the socket's to the keep-alive timeout (72 s).
  const idle = setTimeout(() => socket.destroy(), allowance.idleMs);
  idle.unref();
  const done = (): void => {
    clearTimeout(idle);
    draining.delete(socket);
  };
  raw.once('end', () => {
    done();
    // The server began closing meanwhile: it closed the connections idle then, not this one (busy
    // dropping), which would now idle until the shutdown cuts it. Nothing more will be asked on it.
    if (serverOf(socket)?.listening === false) socket.destroySoon();
  });
  // The request's own 'close' comes when the socket closes too: nothing is added to the socket, which
  // carries one refused body after another on a kept-alive connection (a listener each piled up there).
  raw.once('close', done);
  let dropped = 0;
  // A reader that stopped (the multipart parser, after the error) must not get the rest.
  raw.unpipe();
  raw.removeAllListeners('data');
  raw.on('data', (chunk: Buffer) => {
    dropped += chunk.length;
    idle.refresh();
    if (dropped > allowance.maxBytes) socket.destroy();
  });
  raw.resume();
  return true;
}
