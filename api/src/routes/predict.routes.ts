/**
 * `POST /predict`: the original's three-key JSON, kept exactly.
 * `POST /v1/predict`: the richer answer for programs (top-k, model, stored image, timings).
 */
import { Type } from '@sinclair/typebox';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { isAppError } from '@icls/lib/errors';
import type { ApiDeps } from '../app.ts';
import { RAW_IMAGE_TYPES } from '../upload/receive-upload.ts';
import { classifyUpload, roundScore } from './classify-upload.ts';
import { ErrorBody } from './schemas.ts';

const ThreeKeys = Type.Object(
  { success: Type.Boolean(), prediction: Type.Union([Type.String(), Type.Null()]), score: Type.Union([Type.Number(), Type.Null()]) },
  { additionalProperties: false },
);
const ThreeKeysError = Type.Object(
  {
    success: Type.Literal(false),
    prediction: Type.Null(),
    score: Type.Null(),
    error: Type.Optional(Type.Object({ code: Type.String(), message: Type.String() })),
  },
  { description: 'The original answer to a bad request; `error` is added only for checks the original did not make' },
);
/** Errors the original answered with exactly three keys; we keep them bare so old clients see the same body. */
const ORIGINAL_400 = new Set(['NO_FILE_PART', 'NO_FILE_SELECTED', 'EXTENSION_NOT_ALLOWED']);

const Prediction = Type.Object({ label: Type.String(), score: Type.Number() });
const V1Result = Type.Object({
  success: Type.Literal(true),
  prediction: Type.String({ description: 'top-1 class' }),
  score: Type.Number({ description: 'top-1 probability, rounded to 4 decimals' }),
  predictions: Type.Array(Prediction, { description: 'top-k, best first, unrounded' }),
  model: Type.Object({ name: Type.String(), version: Type.String() }),
  image: Type.String({ description: 'stored upload name, `<md5>.<ext>`' }),
  timings: Type.Object({
    uploadMs: Type.Number({ description: 'receiving, checking and storing the upload, in the api' }),
    queueMs: Type.Number(),
    preprocessMs: Type.Number(),
    inferenceMs: Type.Number(),
    totalMs: Type.Number({ description: 'from request arrival to answer, in the api' }),
    overheadMs: Type.Number({ description: 'totalMs minus queue, preprocess and inference: what the serving layer adds (upload included)' }),
  }),
  worker: Type.String(),
});
const V1Query = Type.Object({
  model: Type.Optional(Type.String({ description: 'model name (default: the service default)' })),
  top_k: Type.Optional(Type.Integer({ minimum: 1, maximum: 1000, default: 5 })),
});

export async function predictRoutes(app: FastifyInstance, deps: ApiDeps): Promise<void> {
  // The original answered 405 to GET /predict; Fastify alone would say 404.
  for (const url of ['/predict', '/v1/predict']) {
    app.get(url, { schema: { hide: true } }, async (_request, reply) =>
      reply.status(405).header('allow', 'POST').send({ success: false, error: { code: 'METHOD_NOT_ALLOWED', message: `use POST ${url}` } }),
    );
  }
  app.post(
    '/predict',
    {
      schema: {
        summary: 'Classify an image (original contract: exactly three keys)',
        consumes: ['multipart/form-data', ...Object.keys(RAW_IMAGE_TYPES)],
        response: { 200: ThreeKeys, 400: ThreeKeysError, 413: ThreeKeysError, 415: ThreeKeysError, 404: ThreeKeysError, 503: ThreeKeysError, 504: ThreeKeysError, 500: ThreeKeysError },
      },
    },
    async (request, reply) => {
      try {
        const { result } = await classifyUpload(request, deps, { topK: 1 });
        const top = result.predictions[0]!;
        return { success: true, prediction: top.label, score: roundScore(top.score) };
      } catch (err) {
        return sendThreeKeyError(err, request, reply);
      }
    },
  );

  app.post<{ Querystring: { model?: string; top_k?: number } }>(
    '/v1/predict',
    {
      schema: {
        summary: 'Classify an image: top-k, model, stored image name and timings',
        consumes: ['multipart/form-data', ...Object.keys(RAW_IMAGE_TYPES)],
        querystring: V1Query,
        response: { 200: V1Result, '4xx': ErrorBody, '5xx': ErrorBody },
      },
    },
    async (request) => {
      const { upload, uploadMs, result, totalMs } = await classifyUpload(request, deps, { model: request.query.model, topK: request.query.top_k });
      const top = result.predictions[0]!;
      const t = result.timings;
      return {
        success: true,
        prediction: top.label,
        score: roundScore(top.score),
        predictions: result.predictions,
        model: { name: result.model, version: result.modelVersion },
        image: upload.name,
        timings: { uploadMs, ...t, totalMs, overheadMs: Math.max(0, totalMs - t.queueMs - t.preprocessMs - t.inferenceMs) },
        worker: result.worker,
      };
    },
  );
}

function sendThreeKeyError(err: unknown, request: FastifyRequest, reply: FastifyReply) {
  if (!isAppError(err)) throw err;
  if (err.retryAfterS) reply.header('retry-after', String(err.retryAfterS));
  if (err.status >= 500) request.log.warn({ code: err.code, detail: err.detail }, 'prediction failed');
  const body = { success: false, prediction: null, score: null };
  if (ORIGINAL_400.has(err.code)) return reply.status(400).send(body);
  return reply.status(err.status).send({ ...body, error: { code: err.code, message: err.message } });
}
