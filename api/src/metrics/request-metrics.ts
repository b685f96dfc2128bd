/**
 * Counts every request once, when its response closes, sent or not (Fastify's onResponse never
 * runs for one the client abandoned). So the in-flight gauge always returns to its true value, and
 * an abandoned request counts as 499 CLIENT_CLOSED (one Node's parser cut and answered, as what it was told). Errors answered before Fastify has a request (Node's HTTP parser) and connections
 * over MAX_CONNECTIONS are counted through `clientErrorCounter` and the server's 'drop' event.
 */
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { whenClosed } from '../http/when-closed.ts';
import type { ApiMetrics } from './api-metrics.ts';

export function observeRequests(app: FastifyInstance, metrics: ApiMetrics): void {
  app.addHook('onRequest', async (request, reply) => observeRequest(metrics, request, reply));
  app.server.on('drop', () => metrics.connectionRefused());
}

/**
 * Counts one request when its response closes. Also called by Fastify's `frameworkErrors` handler, for
 * the requests its router refuses before any hook runs (414 URI_TOO_LONG, a path that cannot be decoded):
 * they went uncounted.
 */
export function observeRequest(metrics: ApiMetrics, request: FastifyRequest, reply: FastifyReply): void {
  metrics.inFlight.inc();
  whenClosed(reply, (closed) => {
    metrics.inFlight.dec();
    metrics.answered(
      { method: request.method, route: request.routeOptions.url ?? 'unmatched', status: closed.status, errorCode: closed.code },
      reply.elapsedTime / 1000,
    );
  });
}

/** For the HTTP parser's errors, answered on the raw socket before routing. */
export function clientErrorCounter(metrics: ApiMetrics) {
  return (code: string, status: number): void => metrics.answered({ method: 'unknown', route: 'unparsed', status, errorCode: code }, 0);
}
