/**
 * What ties a request to the job that served it, in logs and traces: a request id (the client's
 * `X-Request-Id` when it sends a sane one, else a new UUID; echoed in the response), the job id once
 * the job is made, and, when tracing is on, a server span for each prediction (the upload routes)
 * that continues the client's `traceparent`. The job carries the request id and the span's context
 * to the worker, whose logs and spans then name the same request and join the same trace.
 */
import { randomUUID } from 'node:crypto';
import type { IncomingMessage } from 'node:http';
import type { FastifyInstance } from 'fastify';
import type { Span, Tracing } from '@icls/lib/tracing/tracing';
import { whenClosed } from '../http/when-closed.ts';

declare module 'fastify' {
  interface FastifyRequest {
    /** The prediction's server span (tracing on, upload routes only). */
    span: Span | null;
    /** The id of the job this request made, once it made one. */
    jobId: string | null;
  }
}

/** A request id a client may choose: short, and nothing that could confuse a log reader. */
const SANE_ID = /^[\w.:@-]{1,128}$/;

/** Fastify's genReqId. */
export function requestId(req: IncomingMessage): string {
  const given = req.headers['x-request-id'];
  return typeof given === 'string' && SANE_ID.test(given) ? given : randomUUID();
}

export function traceRequests(app: FastifyInstance, tracing: Tracing): void {
  app.decorateRequest('span', null);
  app.decorateRequest('jobId', null);
  app.addHook('onRequest', async (request, reply) => {
    reply.header('x-request-id', request.id);
    if (!tracing.enabled || !request.routeOptions.config?.upload) return;
    const route = request.routeOptions.url ?? 'unmatched';
    const traceparent = request.headers.traceparent;
    const span = tracing.startSpan(`${request.method} ${route}`, {
      kind: 'server',
      parent: typeof traceparent === 'string' ? traceparent : undefined,
      attributes: { 'http.request.method': request.method, 'http.route': route, 'request.id': request.id },
    });
    request.span = span;
    whenClosed(reply, (closed) => {
      // An abandoned request keeps the error it had met, if any, as its type.
      const errorType = closed.how === 'abandoned' ? reply.errorCode : closed.code;
      span.setAttributes({ 'http.response.status_code': closed.status, 'error.type': errorType, 'job.id': request.jobId ?? undefined });
      if (closed.how === 'cut') span.fail(`${closed.code}: the HTTP parser cut the request and answered it`);
      else if (closed.how === 'abandoned') span.fail('the client closed the connection before the answer');
      else if (closed.status >= 500) span.fail(closed.code ?? `status ${closed.status}`);
      span.end();
    });
  });
}
