/** The upload page: `GET /`, `POST /`, `GET /display/:filename` and the stored images. */
import { createReadStream } from 'node:fs';
import { stat } from 'node:fs/promises';
import type { FastifyInstance } from 'fastify';
import { AppError, isAppError } from '@icls/lib/errors';
import type { ApiDeps } from '../app.ts';
import { setFlash, takeFlashes } from '../flash.ts';
import { STORED_NAME } from '../upload/allowed-file.ts';
import { classifyUpload, roundScore } from './classify-upload.ts';
import { renderPage } from '../views/page.ts';

/** Upload errors the original answered with a flash and a redirect; the rest render the page with the error. */
const REDIRECT_CODES = new Set(['NO_FILE_PART', 'NO_FILE_SELECTED', 'EXTENSION_NOT_ALLOWED', 'FILE_TOO_LARGE', 'NOT_AN_IMAGE', 'IMAGE_UNREADABLE', 'IMAGE_TOO_MANY_PIXELS']);

const CONTENT_TYPES: Record<string, string> = { png: 'image/png', jpg: 'image/jpeg', jpeg: 'image/jpeg', gif: 'image/gif', webp: 'image/webp' };

export async function pageRoutes(app: FastifyInstance, deps: ApiDeps): Promise<void> {
  const modelChoices = async () => {
    const served = await deps.predictor.servedModels().catch(() => new Map<string, number>());
    return { models: [...served.keys()].sort(), defaultModel: await deps.predictor.defaultModel().catch(() => undefined) };
  };

  app.get('/', { schema: { hide: true } }, async (request, reply) => {
    const flashes = takeFlashes(request, reply);
    return reply.type('text/html; charset=utf-8').send(renderPage({ flashes, ...(await modelChoices()) }));
  });

  app.post('/', { schema: { hide: true } }, async (request, reply) => {
    try {
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
    } catch (err) {
      if (!isAppError(err)) throw err;
      if (REDIRECT_CODES.has(err.code)) {
        setFlash(reply, err.message);
        return reply.redirect('/', 302);
      }
      request.log.warn({ code: err.code, detail: err.detail }, 'prediction failed');
      if (err.retryAfterS) reply.header('retry-after', String(err.retryAfterS));
      return reply
        .status(err.status)
        .type('text/html; charset=utf-8')
        .send(renderPage({ error: err.message, ...(await modelChoices()) }));
    }
  });

  app.get<{ Params: { filename: string } }>('/display/:filename', { schema: { hide: true } }, async (request, reply) => {
    return reply.redirect(`/static/uploads/${encodeURIComponent(request.params.filename)}`, 301);
  });

  app.get<{ Params: { filename: string } }>('/static/uploads/:filename', { schema: { hide: true } }, async (request, reply) => {
    const name = request.params.filename;
    // Only names we create are served: no traversal, no dot files, no temporary uploads.
    if (!STORED_NAME.test(name)) throw new AppError('NOT_FOUND', 'no such image');
    const path = deps.uploads.pathOf(name);
    const info = await stat(path).catch(() => undefined);
    if (!info?.isFile()) throw new AppError('NOT_FOUND', 'no such image');
    return reply
      .type(CONTENT_TYPES[name.split('.').pop()!]!)
      .header('cache-control', 'public, max-age=31536000, immutable')
      .header('content-length', info.size)
      .send(createReadStream(path));
  });
}
