/**
 * Errors Node's HTTP parser raises before Fastify has a request (headers too large, a request that
 * did not arrive in time, bytes that are not HTTP): answered from the error table on the raw socket,
 * then the connection is closed, as Node itself does.
 */
import type { Socket } from 'node:net';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { AppError } from '@icls/lib/errors';
import type { LogSampler } from './log-sampler.ts';
import { rawErrorResponse } from './error-reply.ts';
import { isDropping } from './refused-body.ts';
import { routedRequestOf } from './socket-answer.ts';
import { toAppError } from './to-app-error.ts';

/** `count`: told of each error answered here (metrics). */
export function clientErrorHandler(sampler: LogSampler, count: (code: string, status: number) => void = () => undefined) {
  return (err: NodeJS.ErrnoException, socket: Socket): void => {
    // A reset connection has nobody left to answer. One the client ended in the middle of a request (an
    // abandoned upload, or the rest of a body after a refusal with `Connection: close`) is not a malformed
    // request either: the request was counted when it closed (499, or the refusal), and nobody reads an answer.
    if (err.code === 'ECONNRESET' || socket.destroyed) return;
    // The rest of a refused body, being dropped, came too slowly or was not HTTP: its request was answered.
    if (err.code === 'HPE_INVALID_EOF_STATE' || isDropping(socket)) {
      socket.destroy();
      return;
    }
    const known = toAppError(err);
    sampler.write('info', known.code, { code: known.code, status: known.status, parserError: err.code }, 'client error before routing');
    // A request already routed when Node cut it (the whole request not in within REQUEST_RECEIVE_TIMEOUT_MS)
    // is counted by its own hooks when its response closes; any other is counted here.
    const res = (socket as Socket & { _httpMessage?: ServerResponse | null })._httpMessage ?? undefined;
    // The request being answered was all in: the bad bytes are the next request's, pipelined behind it.
    // It keeps its own answer, and this refusal follows it (it took that answer's place, before).
    if (res && !res.writableFinished && res.req?.complete) {
      count(known.code, known.status);
      answerAfter(res, socket, rawErrorResponse(known));
      return;
    }
    const routed = res ? routedRequestOf(res) : undefined;
    // Once a response has begun on this socket, another one would corrupt it: just close (as Node does).
    if (!socket.writable || res?.headersSent) {
      if (!routed) count(known.code, known.status);
      socket.destroy();
      return;
    }
    if (routed) routed.answer = { status: known.status, code: known.code };
    else count(known.code, known.status);
    // A routed request is answered in its route's style (the page, /predict's three keys), with its headers.
    socket.end(rawErrorResponse(known, routed), () => socket.destroy());
  };
}

/** Writes `refusal` once `res` is sent, then closes; a response that closes unsent closes the socket. */
function answerAfter(res: ServerResponse, socket: Socket, refusal: string): void {
  const sent = () => {
    res.off('close', closed);
    if (socket.destroyed) return;
    socket.end(refusal, () => socket.destroy());
  };
  const closed = () => {
    res.off('finish', sent);
    socket.destroy();
  };
  res.once('finish', sent);
  res.once('close', closed);
}

/**
 * The server's `connect` listener. Node hands a CONNECT request (a proxy tunnel) to that event, never
 * to Fastify, and with no listener closes the connection without a word (curl: 000). This is no proxy:
 * 405, naming what the server is, then the connection is closed.
 */
export function refuseConnect(count: (code: string, status: number) => void = () => undefined) {
  return (_request: IncomingMessage, socket: Socket): void => {
    // The socket is ours now, Node's handlers gone: a client that resets it has nobody left to answer.
    socket.on('error', () => socket.destroy());
    const refused = new AppError('METHOD_NOT_ALLOWED', 'CONNECT: this server is an image classifier, not a proxy');
    count(refused.code, refused.status);
    socket.end(rawErrorResponse(refused), () => socket.destroy());
  };
}
