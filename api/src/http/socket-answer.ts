/**
 * A routed request that Node's HTTP parser cut (the whole request not in within REQUEST_RECEIVE_TIMEOUT_MS)
 * is answered on the raw socket (client-errors.ts), outside Fastify. This keeps, per raw response, the
 * Fastify request and reply it belongs to (so that answer takes its route's style and headers), and what
 * the client was told (so the request's own count and span say that, not that the client left).
 */
import type { ServerResponse } from 'node:http';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';

export interface SocketAnswer {
  status: number;
  code: string;
}

interface Routed {
  request: FastifyRequest;
  reply: FastifyReply;
  /** Set once the request was answered on its socket. */
  answer?: SocketAnswer;
}

const routed = new WeakMap<ServerResponse, Routed>();

export function rememberRoutedRequests(app: FastifyInstance): void {
  app.addHook('onRequest', (request, reply, done) => {
    routed.set(reply.raw, { request, reply });
    done();
  });
}

/** The Fastify request and reply of a raw response, once routed. */
export const routedRequestOf = (res: ServerResponse): Routed | undefined => routed.get(res);

/** What a response that closed unsent was answered on its socket, if it was. */
export const socketAnswerOf = (res: ServerResponse): SocketAnswer | undefined => routed.get(res)?.answer;
