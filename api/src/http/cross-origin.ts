/**
 * Cross-origin calls from web pages (CORS) to the programs' API, for the origins CORS_ORIGINS lists.
 * Without it a page on another origin could send an upload (a form post needs no permission) but not
 * read the answer, and a raw image body (not a form type) was refused at its preflight (405).
 *
 * Only the programs' routes take part: the upload page, reports and the admin pages keep their
 * same-origin rules (security/same-origin.ts). No credentials are allowed: the API needs none, and the
 * admin token is never sent cross-origin. A request from an origin not listed gets no CORS header, so
 * the browser keeps the answer from the page, as before.
 */
import type { FastifyInstance } from 'fastify';
import { requestPath } from './request-path.ts';

/** The programs' API. */
const SHARED_PATHS = new Set(['/predict', '/v1/predict', '/v1/models', '/openapi.json']);
/** Answer headers a page's script may read besides the simple ones. */
const EXPOSED = 'x-cache, x-request-id, retry-after';
/** Request headers a page's script may send (Content-Type for a raw image body). */
const ALLOWED_HEADERS = 'content-type, x-request-id';
/** Seconds a browser may reuse a preflight's answer. */
const PREFLIGHT_MAX_AGE_S = 600;

export function allowCrossOrigin(app: FastifyInstance, origins: readonly string[]): void {
  if (origins.length === 0) return;
  const anyOrigin = origins.includes('*');
  const listed = new Set(origins);
  app.addHook('onRequest', async (request, reply) => {
    if (!SHARED_PATHS.has(requestPath(request))) return;
    // The answer depends on Origin (present or not) whenever it is not the same for every origin: caches must key on it.
    if (!anyOrigin) reply.header('vary', 'Origin');
    const origin = request.headers.origin;
    if (!origin || (!anyOrigin && !listed.has(origin))) return;
    reply.header('access-control-allow-origin', anyOrigin ? '*' : origin);
    reply.header('access-control-expose-headers', EXPOSED);
    if (request.method === 'OPTIONS' && request.headers['access-control-request-method'] !== undefined) {
      reply.header('access-control-allow-methods', 'GET, POST');
      reply.header('access-control-allow-headers', ALLOWED_HEADERS);
      reply.header('access-control-max-age', String(PREFLIGHT_MAX_AGE_S));
      return reply.code(204).send();
    }
  });
}
