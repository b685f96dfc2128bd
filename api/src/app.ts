/**
 * Builds the api (routes, plugins, error handling) without listening, so tests drive it through
 * `app.inject()` and the same app runs in server.ts and in embedded mode.
 */
import formbody from '@fastify/formbody';
import multipart from '@fastify/multipart';
import swagger from '@fastify/swagger';
import Fastify, { LogController, type FastifyBaseLogger, type FastifyInstance, type FastifyReply, type FastifyRequest } from 'fastify';
import type { Config } from '@icls/lib/config';
import { AppError, isAppError } from '@icls/lib/errors';
import type { JobProducer } from '@icls/lib/job-contract';
import type { Logger } from '@icls/lib/logger';
import { createRegistry, type MetricsRegistry } from '@icls/lib/metrics/prometheus';
import { noTracing, type Tracing } from '@icls/lib/tracing/tracing';
import { refuseWhileClosing } from './closing-gate.ts';
import { FeedbackStore } from './feedback/feedback-store.ts';
import { ReportStore } from './feedback/report-store.ts';
import { withRequestBodies } from './docs/request-bodies.ts';
import { reportedImages } from './feedback/reported-images.ts';
import { deferExpectContinue } from './http/expect-continue.ts';
import { AllowedMethods } from './http/allowed-methods.ts';
import { registerBodyGuard } from './http/body-guard.ts';
import { parseBoundedForm, parseQuery } from './http/bounded-form.ts';
import { allowCrossOrigin } from './http/cross-origin.ts';
import { requireHost } from './http/host-required.ts';
import { refuseEmptyBoundary } from './http/multipart-boundary.ts';
import { clientErrorHandler, refuseConnect } from './http/client-errors.ts';
import { errorHandler } from './http/error-reply.ts';
import { reclaimIdleConnections } from './http/idle-reclaim.ts';
import { requestPath } from './http/request-path.ts';
import { LogSampler } from './http/log-sampler.ts';
import { ApiMetrics } from './metrics/api-metrics.ts';
import { metricsRoute } from './metrics/metrics-route.ts';
import { registerQueueMetrics } from './metrics/queue-metrics.ts';
import { clientErrorCounter, observeRequest, observeRequests } from './metrics/request-metrics.ts';
import { rememberRoutedRequests } from './http/socket-answer.ts';
import { PredictService } from './predict-service.ts';
import { RecentResults } from './results/recent-results.ts';
import { docsRoutes } from './routes/docs.routes.ts';
import { feedbackRoutes } from './routes/feedback.routes.ts';
import { healthRoutes } from './routes/health.routes.ts';
import { pageRoutes } from './routes/page.routes.ts';
import { predictRoutes } from './routes/predict.routes.ts';
import { reviewRoutes } from './routes/review.routes.ts';
import { staticRoutes } from './routes/static.routes.ts';
import { adminGuard } from './security/admin-guard.ts';
import { notFoundLimit, registerRateLimit } from './security/rate-limit.ts';
import { registerSecurityHeaders } from './security/security-headers.ts';
import { requestId, traceRequests } from './tracing/request-context.ts';
import { RAW_IMAGE_TYPES } from './upload/receive-upload.ts';
import { retentionPolicy, UploadRetention } from './upload/upload-retention.ts';
import { UploadStore } from './upload/upload-store.ts';
import { assertWritableDirs, markUploadDir, WritableDir, type WritableDirName } from './writable-dirs.ts';

export interface ApiDeps {
  producer: JobProducer;
  predictor: PredictService;
  uploads: UploadStore;
  /** The original's one-line feedback file. */
  feedback: FeedbackStore;
  /** Reports as structured records, stored once each (writes the feedback file too). */
  reports: ReportStore;
  /** Results shown on result pages, so their addresses answer without running the model again. */
  results: RecentResults;
  /** The latest API answers (top class only), so a report on one records what the service answered. */
  answers: RecentResults;
  shuttingDown: () => boolean;
  /** UPLOAD_DIR and FEEDBACK_DIR as their writes found them: /readyz tells when one cannot be written. */
  writableDirs: Record<WritableDirName, WritableDir>;
  metrics: ApiMetrics;
  tracing: Tracing;
}

/**
 * The process's metrics registry (in embedded mode shared with the model host, so `/metrics` shows
 * both) and tracing; by default a registry of its own and no tracing.
 */
export interface ApiTelemetry {
  registry?: MetricsRegistry;
  tracing?: Tracing;
}

/** What the process around the api knows about its workers (`npm start`'s supervisor). */
export interface ApiWorkerHints {
  /** Models whose worker is being restarted: see PredictServiceConfig.restartingModels. */
  restartingModels?: () => ReadonlySet<string>;
}

export type ApiConfig = Pick<
  Config,
  | 'UPLOAD_DIR'
  | 'FEEDBACK_DIR'
  | 'MAX_UPLOAD_BYTES'
  | 'MAX_PIXELS'
  | 'REQUEST_TIMEOUT_MS'
  | 'DEFAULT_MODEL'
  | 'IMAGE_TRANSPORT'
  | 'INLINE_IMAGE_BYTES'
  | 'INLINE_LONE_IMAGE_BYTES'
  | 'RESULT_CACHE_TTL_S'
  | 'UPLOAD_MEMORY_BYTES'
  | 'UPLOAD_KEEP_HOURS'
  | 'FEEDBACK_MAX_BYTES'
  | 'UPLOAD_DIR_MAX_BYTES'
  | 'BODY_IDLE_TIMEOUT_MS'
  | 'REQUEST_RECEIVE_TIMEOUT_MS'
  | 'HEADERS_TIMEOUT_MS'
  | 'MAX_HEADER_BYTES'
  | 'MAX_CONNECTIONS'
  | 'ADMIN_TOKEN'
  | 'RATE_LIMIT_PER_MINUTE'
  | 'CORS_ORIGINS'
  | 'WORKER_RESTART_GRACE_MS'
>;

export interface BuiltApi {
  app: FastifyInstance;
  deps: ApiDeps;
  /** Turns readiness false; the caller then closes the app, which drains in-flight requests. */
  beginShutdown(): void;
}

/** API answers remembered for reports on them: ≈ 300 bytes each. */
const API_ANSWERS_KEPT = 10_000;
/** Largest body of the non-upload routes (feedback JSON and forms): a report is at most 4 KiB. */
const OTHER_BODY_BYTES = 64 * 1024;
/** A form field (model, top_k, report) is never near this; a longer one is refused, not cut. */
const FIELD_BYTES = 16 * 1024;
/** Fields in one form, multipart or URL-encoded. */
const FORM_FIELDS = 20;
/** How much of a form part the parser holds before it waits for its reader (see its use). */
const FORM_PIECE_BYTES = 128 * 1024;

export async function buildApp(config: ApiConfig, producer: JobProducer, log: Logger, telemetry: ApiTelemetry = {}, hints: ApiWorkerHints = {}): Promise<BuiltApi> {
  await assertWritableDirs(config);
  await markUploadDir(config.UPLOAD_DIR);
  let shuttingDown = false;
  const feedback = new FeedbackStore(config.FEEDBACK_DIR);
  const writableDirs = { UPLOAD_DIR: new WritableDir('UPLOAD_DIR', config.UPLOAD_DIR, log), FEEDBACK_DIR: new WritableDir('FEEDBACK_DIR', config.FEEDBACK_DIR, log) };
  const registry = telemetry.registry ?? createRegistry();
  const tracing = telemetry.tracing ?? noTracing;
  const uploads = new UploadStore(
    config.UPLOAD_DIR,
    { maxBytes: config.MAX_UPLOAD_BYTES, maxPixels: config.MAX_PIXELS, totalMemoryBytes: config.UPLOAD_MEMORY_BYTES },
    // Only ever called on a request, after `retention` below exists.
    { stored: (bytes) => retention.noteStored(bytes) },
    writableDirs.UPLOAD_DIR,
  );
  const metrics = new ApiMetrics(registry, uploads.memory);
  const retention = new UploadRetention(config.UPLOAD_DIR, retentionPolicy(config), (among) => reportedImages(config.FEEDBACK_DIR, among), log, metrics);
  const deps: ApiDeps = {
    producer,
    predictor: new PredictService(producer, {
      defaultModel: config.DEFAULT_MODEL,
      timeoutMs: config.REQUEST_TIMEOUT_MS,
      imageTransport: config.IMAGE_TRANSPORT,
      tracing,
      inlineImageBytes: config.INLINE_IMAGE_BYTES,
      inlineLoneImageBytes: config.INLINE_LONE_IMAGE_BYTES,
      resultCache: config.RESULT_CACHE_TTL_S > 0,
      restartingModels: hints.restartingModels,
      restartGraceMs: config.WORKER_RESTART_GRACE_MS,
    }),
    uploads,
    feedback,
    reports: new ReportStore(config.FEEDBACK_DIR, feedback, undefined, config.FEEDBACK_MAX_BYTES, writableDirs.FEEDBACK_DIR),
    writableDirs,
    results: new RecentResults(),
    answers: new RecentResults(API_ANSWERS_KEPT),
    shuttingDown: () => shuttingDown,
    metrics,
    tracing,
  };

  const sampler = new LogSampler(log);
  const onError = errorHandler(sampler);
  const app = Fastify({
    loggerInstance: log as FastifyBaseLogger,
    // One log line per request would cost more than the 2 ms overhead budget at load; errors are logged, sampled.
    // Lines about a request name it `requestId`, as the worker's lines about its job do.
    logController: new LogController({ disableRequestLogging: true, requestIdLogLabel: 'requestId' }),
    // Requests on kept-alive connections during close are refused by closing-gate, with our error body.
    return503OnClosing: false,
    bodyLimit: OTHER_BODY_BYTES,
    requestTimeout: config.REQUEST_RECEIVE_TIMEOUT_MS,
    // requireHostHeader: refused by host-required.ts with the error table's body, not Node's bare 400.
    http: { maxHeaderSize: config.MAX_HEADER_BYTES, headersTimeout: config.HEADERS_TIMEOUT_MS, connectionsCheckingInterval: 1000, requireHostHeader: false },
    clientErrorHandler: clientErrorHandler(sampler, clientErrorCounter(deps.metrics)),
    genReqId: requestId,
    routerOptions: { querystringParser: parseQuery },
    // The router's refusals (a path too long or undecodable) run no hook: counted here.
    frameworkErrors: (err, request, reply) => {
      observeRequest(deps.metrics, request, reply);
      return onError(err, request, reply);
    },
  });
  app.server.maxConnections = config.MAX_CONNECTIONS;
  app.server.on('connect', refuseConnect(clientErrorCounter(deps.metrics)));
  reclaimIdleConnections(app.server, config.MAX_CONNECTIONS, (closed) =>
    sampler.write('warn', 'IDLE_RECLAIMED', { closed, maxConnections: config.MAX_CONNECTIONS }, 'near MAX_CONNECTIONS: closed idle kept-alive connections, or ones that began no request within 2 s, to make room'),
  );
  // A queue that cannot be looked at is what /readyz and every request report already; anything else is logged.
  const stopWatching = deps.predictor.watchWorkers((err) => {
    if (!isAppError(err)) log.error({ err }, 'looking at the workers failed');
  });
  app.addHook('onClose', async () => stopWatching());
  if (retention.enabled) {
    retention.start();
    app.addHook('onClose', () => retention.stop());
  }
  app.decorateReply('errorCode', undefined);
  app.decorateRequest('retryPage', null);
  app.decorateRequest('reviewBack', null);
  const allowedMethods = new AllowedMethods();
  allowedMethods.learn(app);
  rememberRoutedRequests(app);
  observeRequests(app, deps.metrics);
  traceRequests(app, tracing);
  refuseWhileClosing(app);

  registerSecurityHeaders(app);
  requireHost(app);
  refuseEmptyBoundary(app);
  allowCrossOrigin(app, config.CORS_ORIGINS);
  await registerRateLimit(app, config.RATE_LIMIT_PER_MINUTE);
  const notFoundLimited = notFoundLimit(app, config.RATE_LIMIT_PER_MINUTE);
  /** 404, or 405 with Allow when another method answers the path. */
  const nothingHere = (request: FastifyRequest, reply: FastifyReply): AppError => {
    const path = requestPath(request);
    const allowed = allowedMethods.at(path);
    // A route of this method that found nothing (a file missing under /docs/static/*) is a 404, not a 405.
    if (allowed.length > 0 && !allowed.includes(request.method)) {
      reply.header('allow', allowed.join(', '));
      return new AppError('METHOD_NOT_ALLOWED', `${path.slice(0, 200)} answers ${allowed.join(', ')}`);
    }
    return new AppError('NOT_FOUND', `there is nothing at ${path.slice(0, 200)}`);
  };
  registerBodyGuard(app, {
    uploadBytes: config.MAX_UPLOAD_BYTES,
    otherBytes: OTHER_BODY_BYTES,
    idleMs: config.BODY_IDLE_TIMEOUT_MS,
    unrouted: async (request, reply) => {
      await notFoundLimited?.call(app, request, reply);
      return nothingHere(request, reply);
    },
  });
  deferExpectContinue(app);
  await app.register(swagger, {
    openapi: {
      info: { title: 'Image classifier API', version: '1', description: 'Upload an image, get the model\'s classes. `/predict` keeps the original Flask ML API contract.' },
    },
    transformObject: (doc) => withRequestBodies('openapiObject' in doc ? doc.openapiObject : doc.swaggerObject),
  });
  // A URL-encoded form is held to the multipart form's bounds (the README's "at most 20 fields", 16 KiB each).
  await app.register(formbody, { parser: (text) => parseBoundedForm(text, FORM_FIELDS, FIELD_BYTES) });
  await app.register(multipart, {
    // Over the largest piece a socket read gives (64 KiB): @fastify/busboy 3.2.6 never finishes a form
    // (no answer, the connection held) when a part it skips (no Content-Disposition name, or
    // `attachment`) gets 16 KiB or more, its default, in one piece together with the part's end.
    fileHwm: FORM_PIECE_BYTES,
    // One byte over the limit is enough to know the upload is too large; the store names the limit.
    limits: { fileSize: config.MAX_UPLOAD_BYTES + 1, files: 1, fields: FORM_FIELDS, fieldSize: FIELD_BYTES, parts: 30, headerPairs: 20 },
  });

  // A raw image body is handed to the route as a stream; the upload store enforces the size limit.
  app.addContentTypeParser(Object.keys(RAW_IMAGE_TYPES), (_request, payload, done) => done(null, payload));

  app.setErrorHandler(onError);
  app.setNotFoundHandler({ preHandler: notFoundLimited }, async (request, reply) => {
    throw nothingHere(request, reply);
  });

  registerQueueMetrics(registry, producer, deps.predictor, log);
  metricsRoute(app, registry, adminGuard(config.ADMIN_TOKEN));
  await app.register(async (scope) => staticRoutes(scope));
  await app.register(async (scope) => pageRoutes(scope, deps, { maxBytes: config.MAX_UPLOAD_BYTES, maxPixels: config.MAX_PIXELS }));
  await app.register(async (scope) => predictRoutes(scope, deps));
  await app.register(async (scope) => feedbackRoutes(scope, deps, config.ADMIN_TOKEN));
  await app.register(async (scope) => reviewRoutes(scope, deps, config.ADMIN_TOKEN));
  await app.register(async (scope) => docsRoutes(scope));
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
