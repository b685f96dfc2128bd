/**
 * `Expect: 100-continue`: the client sends its headers, then waits for "100 Continue" before it sends
 * the body (curl does so for bodies over 1 MiB). Node would answer at once, before any route has
 * looked at the request. Here an upload is told to continue only once it is admitted (its model is
 * served and its queue has room, see classifyUpload): an upload that would be refused is never sent,
 * and the refusal comes right after the headers instead of after a body read for nothing. Every other
 * request is told to continue when its body is about to be read, after the checks that refuse it
 * before (rate limit, size, origin).
 *
 * Any other expectation (`Expect: 200-ok`) is refused with 417 EXPECTATION_FAILED from the error
 * table, in the route's style, where Node answered a bare 417 with an empty body.
 *
 * A response to a request whose body was never asked for closes the connection: the client may
 * still send that body, or not, so the connection cannot carry another request.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { FastifyInstance, FastifyRequest } from 'fastify';
import { AppError } from '@icls/lib/errors';

/** Requests Node left to us to answer "100 Continue" to (not yet answered), with their response. */
const waiting = new WeakMap<IncomingMessage, ServerResponse>();
/** Requests whose Expect header asks for something else: refused before their body is read. */
const unmet = new WeakSet<IncomingMessage>();

export function deferExpectContinue(app: FastifyInstance): void {
  app.server.on('checkContinue', (req: IncomingMessage, res: ServerResponse) => {
    // Node takes any Expect that mentions 100-continue ("100-continue, foo", or two Expect headers) for it.
    if (String(req.headers.expect).trim().toLowerCase() === '100-continue') waiting.set(req, res);
    else unmet.add(req);
    app.server.emit('request', req, res);
  });
  app.server.on('checkExpectation', (req: IncomingMessage, res: ServerResponse) => {
    unmet.add(req);
    app.server.emit('request', req, res);
  });
  app.addHook('onRequest', async (request) => {
    if (unmet.has(request.raw)) throw new AppError('EXPECTATION_FAILED', `it says "Expect: ${String(request.headers.expect).slice(0, 40)}"`);
  });
  app.addHook('preParsing', async (request, _reply, payload) => {
    if (request.routeOptions.config?.upload !== true) continueBody(request);
    return payload;
  });
  app.addHook('onSend', async (request, reply, payload) => {
    if (waiting.has(request.raw) || unmet.has(request.raw)) reply.header('connection', 'close');
    return payload;
  });
}

/** Tells a client that waits for it to send its body ("100 Continue"); nothing for any other request. */
export function continueBody(request: FastifyRequest): void {
  const res = waiting.get(request.raw);
  if (!res) return;
  waiting.delete(request.raw);
  res.writeContinue();
}
