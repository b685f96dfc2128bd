/**
 * `/docs`: the OpenAPI document rendered by Swagger UI (@fastify/swagger-ui, whose assets ship in its
 * npm package: nothing from a CDN, no inline script), with copyable examples for /predict and
 * /v1/predict. Its pages get their own Content-Security-Policy: Swagger UI fetches the document and
 * lets you try requests (connect-src 'self') and draws icons as data: images.
 */
import swaggerUi from '@fastify/swagger-ui';
import type { FastifyInstance } from 'fastify';
import { withExamples } from '../docs/api-examples.ts';

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

export async function docsRoutes(app: FastifyInstance): Promise<void> {
  await app.register(swaggerUi, {
    routePrefix: '/docs',
    staticCSP: DOCS_CSP,
    theme: { title: 'Image classifier API' },
    // validatorUrl null: Swagger UI would otherwise send the document to an outside validator.
    uiConfig: { validatorUrl: null, deepLinking: true, docExpansion: 'list', defaultModelsExpandDepth: 0, tryItOutEnabled: false },
    transformSpecification: (doc, request) => withExamples(doc as Parameters<typeof withExamples>[0], `${request.protocol}://${request.host}`),
  });
}
