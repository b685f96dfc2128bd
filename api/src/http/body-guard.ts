/**
 * Limits that act before or while a body arrives, for every route:
 * - a compressed body (`Content-Encoding` other than identity) is refused at once (415): nothing decodes it;
 * - a declared `Content-Length` over the route's limit is refused at once (413), before any byte
 *   of the body is read; a path or method nothing answers gets its 404 or 405 first;
 * - the rest of a refused body is read and dropped, within a bound (refused-body.ts);
 * - a body that sends nothing for `idleMs` is cut: the upload being read fails with 408 (the
 *   connection is then closed, which frees what had arrived); a body Fastify's own parser is reading
 *   (a form, JSON) gets the same 408 from here, then its connection is closed.
 */
import type { IncomingMessage } from 'node:http';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { AppError } from '@icls/lib/errors';
import { formatMegabytes } from '../human-size.ts';
import { allowDropping, dropUnreadBodies } from './refused-body.ts';

declare module 'fastify' {
  interface FastifyContextConfig {
    /** An upload route: its body may be as large as an upload (plus the form around it). */
    upload?: boolean;
    /** Added to the 413 of a multipart body over the limit: what the client likely sent that it need not. */
    tooLargeHint?: string;
  }
}

export interface BodyLimits {
  /**
   * The refusal of a request no route answers (404, or 405 and Allow), checked against the rate limit:
   * given before any parser reads its body (a JSON or form body got 413 or 400 there), and before a
   * client waiting with Expect: 100-continue is asked for it.
   */
  unrouted: (request: FastifyRequest, reply: FastifyReply) => Promise<AppError>;
  /** MAX_UPLOAD_BYTES */
  uploadBytes: number;
  /** The limit of every other body (Fastify's bodyLimit). */
  otherBytes: number;
  idleMs: number;
}

/** Room for the multipart boundaries, part headers and small fields around the file. */
export const MULTIPART_ALLOWANCE = 64 * 1024;

/**
 * Browsers and Node's fetch send the whole body before they read the answer: refused bodies up to this
 * many times the upload bound are read and dropped so they get the answer instead of a reset
 * connection; larger ones get the answer and the connection is closed.
 */
export const DRAIN_MAX_FACTOR = 4;

interface IdleWatch {
  controller: AbortController;
  readers: number;
}

const watches = new WeakMap<IncomingMessage, IdleWatch>();

export function registerBodyGuard(app: FastifyInstance, limits: BodyLimits): void {
  const uploadMax = limits.uploadBytes + MULTIPART_ALLOWANCE;
  dropUnreadBodies(app);
  app.addHook('onRequest', async (request, reply) => {
    const declared = Number(request.headers['content-length'] ?? 0);
    if (!(declared > 0 || request.headers['transfer-encoding'] !== undefined)) return;
    // Whatever refuses this request, the rest of its body is read and dropped up to this bound, so the
    // client reads the refusal (refused-body.ts); the idle limit holds while it is.
    allowDropping(request.raw, { maxBytes: DRAIN_MAX_FACTOR * uploadMax, idleMs: limits.idleMs });
    watchIdle(request.raw, reply, limits.idleMs);
    if (request.is404) throw await limits.unrouted(request, reply);
    const upload = request.routeOptions.config?.upload === true;
    const max = upload ? uploadMax : limits.otherBytes;
    if (declared > max) {
      if (upload) throw new AppError('FILE_TOO_LARGE', `the limit is ${formatMegabytes(limits.uploadBytes)}, this upload is ${formatMegabytes(declared)}`);
      const hint = request.routeOptions.config?.tooLargeHint;
      const multipart = /^multipart\//i.test(request.headers['content-type'] ?? '');
      throw new AppError('BODY_TOO_LARGE', `the limit is ${max} bytes, this request declares ${declared}${hint && multipart ? `: ${hint}` : ''}`);
    }
    // Nothing here decodes gzip or deflate: such a body was refused later as "not an image" or "cannot be parsed".
    const encoding = request.headers['content-encoding']?.trim().toLowerCase();
    if (encoding && encoding !== 'identity') {
      throw new AppError('UNSUPPORTED_CONTENT_TYPE', `its Content-Encoding is ${encoding.slice(0, 40)}: send it uncompressed`);
    }
    // Node's parser undoes only the chunking: `Transfer-Encoding: gzip, chunked` reached the routes still compressed.
    const transfer = request.headers['transfer-encoding']?.trim().toLowerCase();
    if (transfer && transfer !== 'chunked') {
      throw new AppError('UNSUPPORTED_CONTENT_TYPE', `its Transfer-Encoding is ${transfer.slice(0, 40)}: send it uncompressed (chunked alone is fine)`);
    }
  });
}

function watchIdle(raw: IncomingMessage, reply: FastifyReply, idleMs: number): void {
  // app.inject()'s simulated requests have no socket, so nothing can idle.
  if (typeof raw.setTimeout !== 'function') return;
  const watch: IdleWatch = { controller: new AbortController(), readers: 0 };
  watches.set(raw, watch);
  // The socket's inactivity timer: Node emits 'timeout' on the request only while its body is incomplete.
  raw.setTimeout(idleMs, () => {
    const timedOut = new AppError('BODY_TIMEOUT', `nothing arrived for ${idleMs} ms`);
    if (watch.readers === 0) {
      // Fastify's own parser is reading it (a form or JSON body): the client is told, then the body ended.
      // An upload route not reading yet (still deciding whether to admit it) has its handler to come: cut only.
      if (reply.sent || raw.socket.destroyed || reply.request.routeOptions.config?.upload === true) {
        raw.destroy();
        return;
      }
      reply.header('connection', 'close').send(timedOut);
      raw.socket.once('close', () => raw.destroy());
      return;
    }
    watch.controller.abort(timedOut);
    // The 408 goes out with Connection: close. Node tells a request nothing once its response is
    // finished, so when the socket is gone the body is ended here: the abandoned read then fails and
    // frees what it held (memory, temporary file).
    raw.socket.once('close', () => raw.destroy());
  });
  // Once the body is in, waiting for the answer is not idling: the connection has no timer again.
  raw.once('end', () => raw.setTimeout(0));
}

/**
 * Runs `read` (which consumes the request body) and fails with 408 as soon as the body goes idle.
 * The abandoned read ends when the connection closes; its failure is expected then and only logged.
 */
export async function readingBody<T>(request: FastifyRequest, read: () => Promise<T>): Promise<T> {
  const watch = watches.get(request.raw);
  if (!watch) return read();
  watch.readers++;
  const reading = read();
  try {
    return await Promise.race([reading, aborted(watch.controller.signal)]);
  } catch (err) {
    if (watch.controller.signal.aborted) reading.catch((late: unknown) => request.log.debug({ err: late }, 'abandoned body read ended'));
    throw err;
  } finally {
    watch.readers--;
  }
}

function aborted(signal: AbortSignal): Promise<never> {
  return new Promise((_resolve, reject) => {
    if (signal.aborted) reject(signal.reason);
    else signal.addEventListener('abort', () => reject(signal.reason), { once: true });
  });
}
