/**
 * Builds the api (routes, plugins, error handling) without listening, so tests drive it through
 * `app.inject()` and the same app runs in server.ts and in embedded mode.
 */
import formbody from '@fastify/formbody';
import multipart from '@fastify/multipart';
import swagger from '@fastify/swagger';
import Fastify, { LogController, type FastifyBaseLogger, type FastifyInstance } from 'fastify';
import type { Config } from '../../lib/config.ts';
import { AppError, ERRORS, isAppError } from '../../lib/errors.ts';
import type { JobProducer } from '../../lib/job-contract.ts';
import type { Logger } from '../../lib/logger.ts';
import { refuseWhileClosing } from './closing-gate.ts';
import { FeedbackStore } from './feedback/feedback-store.ts';
import { Metrics } from './metrics.ts';
import { PredictService } from './predict-service.ts';
import { feedbackRoutes } from './routes/feedback.routes.ts';
import { healthRoutes } from './routes/health.routes.ts';
import { pageRoutes } from './routes/page.routes.ts';
import { predictRoutes } from './routes/predict.routes.ts';
import { RAW_IMAGE_TYPES } from './upload/receive-upload.ts';
import { UploadStore } from './upload/upload-store.ts';

export interface ApiDeps {
  producer: JobProducer;
  predictor: PredictService;
  uploads: UploadStore;
  feedback: FeedbackStore;
  shuttingDown: () => boolean;
}

export type ApiConfig = Pick<
  Config,
  'UPLOAD_DIR' | 'FEEDBACK_DIR' | 'MAX_UPLOAD_BYTES' | 'MAX_PIXELS' | 'REQUEST_TIMEOUT_MS' | 'DEFAULT_MODEL' | 'IMAGE_TRANSPORT'
>;

export interface BuiltApi {
  app: FastifyInstance;
  deps: ApiDeps;
  /** Turns readiness false; the caller then closes the app, which drains in-flight requests. */
  beginShutdown(): void;
}

export async function buildApp(config: ApiConfig, producer: JobProducer, log: Logger): Promise<BuiltApi> {
  let shuttingDown = false;
  const deps: ApiDeps = {
    producer,
    predictor: new PredictService(producer, {
      defaultModel: config.DEFAULT_MODEL,
      timeoutMs: config.REQUEST_TIMEOUT_MS,
      imageTransport: config.IMAGE_TRANSPORT,
    }),
    uploads: new UploadStore(config.UPLOAD_DIR, { maxBytes: config.MAX_UPLOAD_BYTES, maxPixels: config.MAX_PIXELS }),
    feedback: new FeedbackStore(config.FEEDBACK_DIR),
    shuttingDown: () => shuttingDown,
  };

  const app = Fastify({
    loggerInstance: log as FastifyBaseLogger,
    // One log line per request would cost more than the 2 ms overhead budget at load; errors are still logged.
    logController: new LogController({ disableRequestLogging: true }),
    // Requests on kept-alive connections during close are refused by closing-gate, with our error body.
    return503OnClosing: false,
  });
  refuseWhileClosing(app);
  await app.register(swagger, {
    openapi: {
      info: { title: 'Image classifier API', version: '1', description: 'Upload an image, get the model\'s classes. `/predict` keeps the original Flask ML API contract.' },
    },
  });
  await app.register(formbody);
  await app.register(multipart, {
    // One byte over the limit is enough to know the upload is too large; the store names the limit.
    limits: { fileSize: config.MAX_UPLOAD_BYTES + 1, files: 1, fields: 20, fieldSize: 64 * 1024, parts: 30 },
  });

  // A raw image body is handed to the route as a stream; the upload store enforces the size limit.
  app.addContentTypeParser(Object.keys(RAW_IMAGE_TYPES), (_request, payload, done) => done(null, payload));

  app.setErrorHandler((err, request, reply) => {
    const known = toAppError(err);
    if (known.status >= 500) request.log.error({ err }, 'request failed');
    if (known.retryAfterS) reply.header('retry-after', String(known.retryAfterS));
    // 5xx messages come from our table only: internals never reach the client.
    const message = known.status >= 500 && !isAppError(err) ? ERRORS.INTERNAL.message : known.message;
    // /predict keeps the original's three keys even for errors raised before its handler (e.g. while closing).
    const threeKeys = request.routeOptions.url === '/predict' ? { prediction: null, score: null } : {};
    return reply.status(known.status).send({ success: false, ...threeKeys, error: { code: known.code, message } });
  });
  app.setNotFoundHandler((request, reply) =>
    reply.status(404).send({ success: false, error: { code: 'NOT_FOUND', message: `no route ${request.method} ${request.url}` } }),
  );

  new Metrics().register(app);
  await app.register(async (scope) => pageRoutes(scope, deps));
  await app.register(async (scope) => predictRoutes(scope, deps));
  await app.register(async (scope) => feedbackRoutes(scope, deps));
  await app.register(async (scope) => healthRoutes(scope, deps));
  app.get('/openapi.json', { schema: { hide: true } }, async () => app.swagger());

  return {
    app,
    deps,
    beginShutdown: () => {
      shuttingDown = true;
    },
  };
}

/** Maps framework and validation errors onto the error table. */
function toAppError(err: unknown): AppError {
  if (isAppError(err)) return err;
  const e = err as { statusCode?: number; code?: string; message?: string; validation?: unknown };
  if (e.code === 'FST_REQ_FILE_TOO_LARGE' || e.statusCode === 413) return new AppError('FILE_TOO_LARGE');
  if (e.validation || (e.statusCode && e.statusCode >= 400 && e.statusCode < 500)) {
    return new AppError('BAD_REQUEST', e.message);
  }
  return new AppError('INTERNAL', undefined, { cause: err });
}
