/**
 * Security headers on every response, from the maintained helmet plugin. The pages load their style
 * and scripts from files, so the policy allows nothing inline and nothing from elsewhere;
 * no site may frame the page. HSTS is left to whoever terminates TLS in front of the api.
 */
import helmet from '@fastify/helmet';
import type { FastifyInstance } from 'fastify';

export async function registerSecurityHeaders(app: FastifyInstance): Promise<void> {
  await app.register(helmet, {
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
  });
}
