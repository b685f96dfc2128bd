/**
 * CSRF defence for the browser form posts (`POST /` and `POST /feedback`): a form on another site
 * must not be able to make a visitor's browser upload or report. Browsers say where a request comes
 * from (`Sec-Fetch-Site`, and `Origin` on posts); programs such as curl send neither and are served
 * exactly as the original served them. No token or cookie is needed.
 */
import type { FastifyRequest } from 'fastify';
import { AppError } from '@icls/lib/errors';

/** `same-site` (a sibling subdomain) is refused too: another app on the same domain is another site. */
const ALLOWED_FETCH_SITES = new Set(['same-origin', 'none']);

function originHost(origin: string): string | undefined {
  try {
    return new URL(origin).host;
  } catch {
    return undefined; // "null" (sandboxed frames, file: pages) or garbage: no host to trust
  }
}

/** An onRequest hook: refuses a post that a browser says comes from another site. */
export async function sameOriginOnly(request: FastifyRequest): Promise<void> {
  const site = request.headers['sec-fetch-site'];
  if (site !== undefined) {
    if (!ALLOWED_FETCH_SITES.has(String(site))) throw new AppError('CROSS_SITE_POST', `Sec-Fetch-Site is "${site}"`);
    return;
  }
  const origin = request.headers.origin;
  if (origin === undefined) return;
  if (originHost(origin) !== request.headers.host) throw new AppError('CROSS_SITE_POST', `Origin ${origin.slice(0, 100)} is not this site`);
}
