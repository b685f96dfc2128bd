/**
 * `/docs`: the OpenAPI document rendered by Swagger UI (@fastify/swagger-ui, whose assets ship in its
 * npm package: nothing from a CDN, no inline script), with copyable examples for /predict and
 * /v1/predict. Its pages get their own Content-Security-Policy: Swagger UI fetches the document and
 * lets you try requests (connect-src 'self') and draws icons as data: images.
 */
import swaggerUi from '@fastify/swagger-ui';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { FastifyInstance } from 'fastify';
import { withExamples } from '../docs/api-examples.ts';
import { PUBLIC_DIR } from './static.routes.ts';

const DOCS_CSP = [
  "default-src 'none'",
  "base-uri 'none'",
  "connect-src 'self'",
  "img-src 'self' data:",
  "script-src 'self'",
  "style-src 'self'",
  "font-src 'self'",
  "form-action 'self'",
  "frame-ancestors 'none'",
  "object-src 'none'",
].join('; ');

/** Swagger UI's page has no viewport tag: a phone laid it out 980 px wide and shrank it to a third. */
const VIEWPORT = '<meta name="viewport" content="width=device-width, initial-scale=1">';

export async function docsRoutes(app: FastifyInstance): Promise<void> {
  // This scope holds only the /docs routes; of them, only the page itself is HTML sent as a string.
  app.addHook('onSend', async (_request, reply, payload) => {
    if (typeof payload !== 'string' || !String(reply.getHeader('content-type') ?? '').startsWith('text/html')) return payload;
    return payload.replace('<meta charset="UTF-8">', `<meta charset="UTF-8">\n      ${VIEWPORT}`);
  });
  await app.register(swaggerUi, {
    routePrefix: '/docs',
    staticCSP: DOCS_CSP,
    // Served as a file of its own (/docs/static/theme/theme.css), so style-src 'self' allows it.
    theme: { title: 'Image classifier API', css: [{ filename: 'theme.css', content: readFileSync(join(PUBLIC_DIR, 'docs-theme.css'), 'utf8') }] },
    // validatorUrl null: Swagger UI would otherwise send the document to an outside validator.
    // BaseLayout: no top bar (its URL box has no label, its logo no text); deepLinking off: the links it
    // puts inside each operation's toggle button are controls nested in a control (axe: nested-interactive).
    uiConfig: { layout: 'BaseLayout', validatorUrl: null, deepLinking: false, docExpansion: 'list', defaultModelsExpandDepth: 0, tryItOutEnabled: false },
    transformSpecification: (doc, request) => withExamples(doc as Parameters<typeof withExamples>[0], `${request.protocol}://${request.host}`),
  });
}
