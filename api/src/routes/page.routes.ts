/** The upload page: `GET /`, `POST /`, `GET /display/:filename`, the stored images and the style sheet. */
import { createReadStream, readFileSync } from 'node:fs';
import { open } from 'node:fs/promises';
import type { FastifyInstance } from 'fastify';
import { AppError } from '@icls/lib/errors';
import type { ApiDeps } from '../app.ts';
import { takeFlashes } from '../flash.ts';
import { sameOriginOnly } from '../security/same-origin.ts';
import { STORED_NAME } from '../upload/allowed-file.ts';
import { SIGNATURE_BYTES, sniffImage, type ImageKind } from '../upload/image-header.ts';
import { renderPage } from '../views/page.ts';
import { classifyUpload, roundScore } from './classify-upload.ts';

const CONTENT_TYPES: Record<ImageKind, string> = { png: 'image/png', jpeg: 'image/jpeg', gif: 'image/gif', webp: 'image/webp' };
// api/public sits beside src/ and dist/, so the same relative path works from the sources and the build.
const APP_CSS = readFileSync(new URL('../../public/app.css', import.meta.url));

export async function pageRoutes(app: FastifyInstance, deps: ApiDeps): Promise<void> {
  const modelChoices = async () => {
    const served = await deps.predictor.servedModels().catch(() => new Map<string, number>());
    return { models: [...served.keys()].sort(), defaultModel: await deps.predictor.defaultModel().catch(() => undefined) };
  };

  app.get('/', { schema: { hide: true } }, async (request, reply) => {
    const flashes = takeFlashes(request, reply);
    return reply.type('text/html; charset=utf-8').send(renderPage({ flashes, ...(await modelChoices()) }));
  });

  // Errors (the original's flashes among them) are answered by the error handler in the page's style.
  app.post('/', { schema: { hide: true }, config: { upload: true, errorStyle: 'page' }, onRequest: sameOriginOnly }, async (request, reply) => {
    const { upload, result, totalMs } = await classifyUpload(request, deps, { topK: 5 });
    const top = result.predictions[0]!;
    const page = renderPage({
      ...(await modelChoices()),
      result: {
        filename: upload.name,
        prediction: top.label,
        score: roundScore(top.score),
        predictions: result.predictions,
        model: result.model,
        totalMs,
      },
    });
    return reply.type('text/html; charset=utf-8').send(page);
  });

  app.get<{ Params: { filename: string } }>('/display/:filename', { schema: { hide: true } }, async (request, reply) => {
    return reply.redirect(`/static/uploads/${encodeURIComponent(request.params.filename)}`, 301);
  });

  app.get<{ Params: { filename: string } }>('/static/uploads/:filename', { schema: { hide: true } }, async (request, reply) => {
    const name = request.params.filename;
    // Only names we create are served: no traversal, no dot files, no temporary uploads.
    if (!STORED_NAME.test(name)) throw new AppError('NOT_FOUND', 'no such image');
    const file = await open(deps.uploads.pathOf(name), 'r').catch(() => undefined);
    if (!file) throw new AppError('NOT_FOUND', 'no such image');
    try {
      const info = await file.stat();
      if (!info.isFile()) throw new AppError('NOT_FOUND', 'no such image');
      // The type comes from the content, never from the client's extension (JPEG bytes named .png
      // are served as image/jpeg); with nosniff the browser takes it as given.
      const head = Buffer.alloc(SIGNATURE_BYTES);
      await file.read(head, 0, SIGNATURE_BYTES, 0);
      const kind = sniffImage(head);
      if (!kind) throw new AppError('NOT_FOUND', 'no such image');
      return reply
        .type(CONTENT_TYPES[kind])
        .header('cache-control', 'public, max-age=31536000, immutable')
        .header('content-length', info.size)
        .send(createReadStream('', { fd: file, start: 0 }));
    } catch (err) {
      await file.close();
      throw err;
    }
  });

  app.get('/static/app.css', { schema: { hide: true } }, async (_request, reply) =>
    reply.type('text/css; charset=utf-8').header('cache-control', 'public, max-age=3600').send(APP_CSS),
  );
}
