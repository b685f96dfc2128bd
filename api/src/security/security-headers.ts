/**
 * Security headers on every response, from the maintained helmet package. The pages load their style
 * and scripts from files, so the policy allows nothing inline and nothing from elsewhere;
 * no site may frame the page. HSTS is left to whoever terminates TLS in front of the api.
 *
 * The headers depend on nothing in the request (no nonces), so helmet works them out once, at start,
 * and each response gets the same set. Fastify's helmet plugin built helmet's middleware again for
 * every request, parsing the policy each time, on every answer, refusals under overload included: a
 * GET /healthz cost the api 97–115 µs of CPU with it, 73–93 without (scripts/measure-request-cpu.ts).
 */
import helmet from 'helmet';
import type { FastifyInstance } from 'fastify';

const OPTIONS: Parameters<typeof helmet>[0] = {
  contentSecurityPolicy: {
    useDefaults: false,
    directives: {
      defaultSrc: ["'none'"],
      baseUri: ["'none'"],
      formAction: ["'self'"],
      frameAncestors: ["'none'"],
      // blob: the upload page previews the chosen file from memory before sending it.
      imgSrc: ["'self'", 'blob:'],
      // The page's scripts send the upload and the report to this service only.
      connectSrc: ["'self'"],
      styleSrc: ["'self'"],
      scriptSrc: ["'self'"],
      objectSrc: ["'none'"],
    },
  },
  frameguard: { action: 'deny' },
  referrerPolicy: { policy: 'same-origin' },
  strictTransportSecurity: false,
};

/** The headers helmet sets with OPTIONS, by name, as it sets them on a response. */
export function securityHeaders(): Record<string, string> {
  const headers: Record<string, string> = {};
  const response = {
    setHeader: (name: string, value: string | number | readonly string[]) => void (headers[name] = String(value)),
    // X-Powered-By, which Fastify never sets.
    removeHeader: () => undefined,
  };
  let failed: unknown;
  helmet(OPTIONS)({} as never, response as never, (err?: unknown) => void (failed = err));
  if (failed) throw failed;
  return headers;
}

export function registerSecurityHeaders(app: FastifyInstance): void {
  const headers = securityHeaders();
  app.addHook('onRequest', (_request, reply, done) => {
    reply.headers(headers);
    done();
  });
}
