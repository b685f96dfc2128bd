/**
 * The optional per-client limit (RATE_LIMIT_PER_MINUTE), from the maintained rate-limit plugin. Its
 * store is an LRU of bounded size, so many client addresses cannot grow memory. Off by default: one
 * address can be a whole office behind NAT, so the right number depends on the deployment.
 */
import rateLimit from '@fastify/rate-limit';
import type { FastifyInstance, preHandlerAsyncHookHandler } from 'fastify';
import { AppError } from '@icls/lib/errors';
import { requestPath } from '../http/request-path.ts';

/** Probes of load balancers and orchestrators are never limited. */
const NOT_LIMITED = new Set(['/healthz', '/readyz']);
/** Client addresses remembered at once (least recently seen dropped first). */
const TRACKED_CLIENTS = 10_000;

export async function registerRateLimit(app: FastifyInstance, perMinute: number): Promise<void> {
  if (perMinute <= 0) return;
  await app.register(rateLimit, {
    max: perMinute,
    timeWindow: 60_000,
    cache: TRACKED_CLIENTS,
    // The API page's own files (Swagger UI's scripts and styles), like the api's (static.routes.ts): a page load is one request.
    allowList: (request) => {
      const path = requestPath(request);
      return NOT_LIMITED.has(path) || path.startsWith('/docs/static/');
    },
    errorResponseBuilder: (_request, context) =>
      new AppError('TOO_MANY_REQUESTS', `at most ${context.max} requests per minute`, { retryAfterS: Math.max(1, Math.ceil(context.ttl / 1000)) }),
  });
}

/**
 * The limit for requests no route matches (the plugin's hook runs on routes only): else unknown paths,
 * each answered with a 404 that names it, could be sent without any limit. Undefined when the limit is off.
 */
export function notFoundLimit(app: FastifyInstance, perMinute: number): preHandlerAsyncHookHandler | undefined {
  return perMinute > 0 ? (app.rateLimit() as preHandlerAsyncHookHandler) : undefined;
}
