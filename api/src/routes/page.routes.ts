/**
 * The upload page: `GET /`, `POST /` (from a browser, then a redirect to the result's own address, so a
 * reload never uploads again; other clients get the page with the result, as from the original), `GET /result/<image>?model=<name>` (reloadable, bookmarkable, shareable),
 * `GET /display/:filename` and the stored images.
 */
import { constants, createReadStream } from 'node:fs';
import { open } from 'node:fs/promises';
import { Type } from '@sinclair/typebox';
import type { FastifyInstance } from 'fastify';
import { AppError } from '@icls/lib/errors';
import type { ApiDeps } from '../app.ts';
import { takeFlashes, takeReported } from '../flash.ts';
import { NO_WORKER } from '../predict-service.ts';
import { RESULT_CLASSES } from '../results/recent-results.ts';
import { resultFor, shownResult } from '../results/result-for.ts';
import { resultUrl } from '../results/result-url.ts';
import { matchesEtag } from './static.routes.ts';
import { sameOriginOnly } from '../security/same-origin.ts';
import { STORED_NAME } from '../upload/allowed-file.ts';
import { SIGNATURE_BYTES, sniffImage, type ImageKind } from '@icls/lib/image-header';
import { renderPage, type PageState } from '../views/page.ts';
import { classifyUpload } from './classify-upload.ts';
import { MODEL_NAME_MAX } from './request-params.ts';
import { uploadBodiesOnly } from '../http/upload-bodies.ts';

const CONTENT_TYPES: Record<ImageKind, string> = { png: 'image/png', jpeg: 'image/jpeg', gif: 'image/gif', webp: 'image/webp' };
const HTML = 'text/html; charset=utf-8';

const PageQuery = Type.Object({ model: Type.Optional(Type.String({ maxLength: MODEL_NAME_MAX })) });
/** How long a failed upload's page waits for the served models (the view is usually cached): the error comes first. */
const RETRY_PAGE_LOOKUP_MS = 250;

// `reported=1` of older addresses is ignored: the thanks after a report is told by a cookie (flash.ts).
const ResultQuery = Type.Object({ model: Type.Optional(Type.String({ maxLength: MODEL_NAME_MAX })) });

/** The upload limits the page checks in the browser before sending, as the service will. */
export interface PageLimits {
  maxBytes: number;
  maxPixels: number;
}

export async function pageRoutes(app: FastifyInstance, deps: ApiDeps, limits: PageLimits): Promise<void> {
  uploadBodiesOnly(app);
  /** What every rendering of the page needs: the served models, the one to preselect, the size limits. */
  const pageBase = async (selected?: string, deadline?: number): Promise<PageState> => {
    const served = await deps.predictor.servedModels(deadline).catch(() => new Map<string, number>());
    const defaultModel = await deps.predictor.defaultModel(deadline).catch(() => undefined);
    return { models: [...served.keys()].sort(), selectedModel: selected ?? defaultModel, maxUploadBytes: limits.maxBytes, maxPixels: limits.maxPixels };
  };

  // `?model=`: the model a failed upload had picked (see below); one no longer served falls back to the default.
  app.get<{ Querystring: { model?: string } }>('/', { schema: { hide: true, querystring: PageQuery } }, async (request, reply) => {
    const flashes = takeFlashes(request, reply);
    const base = await pageBase();
    const asked = request.query.model;
    if (asked && base.models?.includes(asked)) base.selectedModel = asked;
    return reply.type(HTML).send(renderPage({ flashes, ...base }));
  });

  // Errors (the original's flashes among them) are answered by the error handler in the page's style.
  app.post('/', { schema: { hide: true }, config: { upload: true, errorStyle: 'page' }, onRequest: sameOriginOnly }, async (request, reply) => {
    // The form sends its model before its file: a refused upload still knows which model was picked,
    // and the page shown again keeps it (without JavaScript the picker reset to the default, and the
    // next upload silently went to another model).
    const fields: Record<string, string> = {};
    const classified = await classifyUpload(request, deps, { topK: RESULT_CLASSES, fields }).catch(async (err: unknown) => {
      // Only a convenience for the page: the error is not held up for it.
      request.retryPage = { state: await pageBase(fields.model, Date.now() + RETRY_PAGE_LOOKUP_MS), model: fields.model };
      throw err;
    });
    const { upload, uploadMs, result, totalMs } = classified;
    const shown = shownResult(upload.name, result, totalMs, uploadMs);
    deps.results.remember(shown);
    // A browser gets 303 to the result's address: reloading it shows the result, never uploads again.
    // Browsers say so by Sec-Fetch-Site, but only to https and localhost: over plain http to a LAN address
    // or a host name they send only Origin (on every post), and got the 200 meant for programs, so the page
    // kept the address `/` and a reload lost the result. Other clients (curl, scripts, the original's
    // tests) send neither and get what the original answered: 200 with the page.
    if (request.headers['sec-fetch-site'] !== undefined || request.headers.origin !== undefined) {
      return reply.redirect(resultUrl(upload.name, result.model), 303);
    }
    return reply.type(HTML).send(renderPage({ ...(await pageBase(result.model)), result: shown }));
  });

  app.get<{ Params: { image: string }; Querystring: { model?: string } }>(
    '/result/:image',
    { schema: { hide: true, querystring: ResultQuery }, config: { errorStyle: 'page' } },
    async (request, reply) => {
      const { image } = request.params;
      if (!STORED_NAME.test(image)) throw new AppError('NOT_FOUND', 'no such result: the address is not one this service gives');
      const model = request.query.model || (await deps.predictor.defaultModel());
      if (!model) throw new AppError('NOT_READY', NO_WORKER, { retryAfterS: 2 });
      // An address without its model names the default one at this moment: send the browser to the one that stays true.
      if (!request.query.model) return reply.redirect(resultUrl(image, model), 302);
      const result = await resultFor(deps, image, model, request);
      const reported = takeReported(request, reply, image, model);
      // The thanks is for this browser alone: no cache between keeps it for others.
      if (reported) reply.header('cache-control', 'no-store');
      return reply.type(HTML).send(renderPage({ ...(await pageBase(result.model)), result, reported }));
    },
  );

  app.get<{ Params: { filename: string } }>('/display/:filename', { schema: { hide: true } }, async (request, reply) => {
    return reply.redirect(`/static/uploads/${encodeURIComponent(request.params.filename)}`, 301);
  });

  app.get<{ Params: { filename: string } }>('/static/uploads/:filename', { schema: { hide: true } }, async (request, reply) => {
    const name = request.params.filename;
    // Only names we create are served: no traversal, no dot files, no temporary uploads.
    if (!STORED_NAME.test(name)) throw new AppError('NOT_FOUND', 'no such image');
    // O_NOFOLLOW: a symbolic link someone put in the folder is not followed out of it.
    const file = await open(deps.uploads.pathOf(name), constants.O_RDONLY | constants.O_NOFOLLOW).catch((err: NodeJS.ErrnoException) => {
      if (err.code === 'ENOENT' || err.code === 'ELOOP' || err.code === 'ENOTDIR') return undefined;
      throw err;
    });
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
      // The name is the MD5 of the bytes: a strong validator for free (the image had none, so never a 304).
      const etag = `"${name.slice(0, name.indexOf('.'))}"`;
      reply.header('etag', etag).header('cache-control', 'public, max-age=31536000, immutable');
      if (matchesEtag(request.headers['if-none-match'], etag)) {
        await file.close();
        return reply.code(304).send();
      }
      return reply
        .type(CONTENT_TYPES[kind])
        .header('content-length', info.size)
        .send(createReadStream('', { fd: file, start: 0 }));
    } catch (err) {
      await file.close();
      throw err;
    }
  });
}
