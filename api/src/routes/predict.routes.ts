/**
 * `POST /predict`: the original's three-key JSON, kept exactly.
 * `POST /v1/predict`: the richer answer for programs (top-k, model, stored image, timings).
 */
import { Type } from '@sinclair/typebox';
import type { FastifyContextConfig, FastifyInstance } from 'fastify';
import { AppError } from '@icls/lib/errors';
import type { ApiDeps } from '../app.ts';
import { toHundredths } from '../predict-service.ts';
import { RAW_IMAGE_TYPES } from '../upload/receive-upload.ts';
import type { JobResult } from '@icls/lib/job-contract';
import { shownResult } from '../results/result-for.ts';
import { classifyUpload, roundScore } from './classify-upload.ts';
import { emptyQueryValuesAbsent, PredictQuery } from './request-params.ts';
import { ErrorBody } from './schemas.ts';
import { uploadBodiesOnly } from '../http/upload-bodies.ts';

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

const Prediction = Type.Object({ label: Type.String(), score: Type.Number() });
const V1Result = Type.Object({
  success: Type.Literal(true),
  prediction: Type.String({ description: 'top-1 class' }),
  score: Type.Number({ description: 'top-1 probability, rounded to 4 decimals' }),
  predictions: Type.Array(Prediction, { description: 'top-k, best first, unrounded' }),
  model: Type.Object({ name: Type.String(), version: Type.String() }),
  image: Type.String({ description: 'stored upload name, `<md5>.<ext>`' }),
  cached: Type.Boolean({ description: 'true when answered from the result cache: the same upload, model and top_k were classified within RESULT_CACHE_TTL_S (no model ran; model timings are 0)' }),
  timings: Type.Object({
    uploadMs: Type.Number({ description: 'receiving and checking the upload, in the api (it is stored while the model works), to 0.01 ms' }),
    queueMs: Type.Number({ description: 'from the job queued by the api to a worker starting it, whole ms (two processes\' wall clocks)' }),
    preprocessMs: Type.Number(),
    inferenceMs: Type.Number(),
    totalMs: Type.Number({ description: 'from request arrival to answer, in the api, to 0.01 ms' }),
    overheadMs: Type.Number({ description: 'totalMs minus queue, preprocess and inference: what the serving layer adds (upload included)' }),
  }),
  worker: Type.String(),
});

/** Kept for a report on this answer (POST /v1/feedback naming the image and model): its top class only. */
function rememberAnswer(deps: ApiDeps, image: string, result: JobResult, totalMs: number): void {
  deps.answers.remember({ ...shownResult(image, result, totalMs), predictions: result.predictions.slice(0, 1) });
}

/** Says whether the answer came from the result cache; /predict's body keeps its three keys, so a header tells. */
export const CACHE_HEADER = 'x-cache';

export async function predictRoutes(app: FastifyInstance, deps: ApiDeps): Promise<void> {
  uploadBodiesOnly(app);
  // The original answered 405 to GET /predict; Fastify alone would say 404. /predict's keeps its three keys.
  for (const url of ['/predict', '/v1/predict']) {
    const config: FastifyContextConfig = url === '/predict' ? { errorStyle: 'three-keys', methodNotAllowed: true } : { methodNotAllowed: true };
    app.get(url, { schema: { hide: true }, config }, async (_request, reply) => {
      reply.header('allow', 'POST');
      throw new AppError('METHOD_NOT_ALLOWED', `use POST ${url}`);
    });
  }
  app.post<{ Querystring: { model?: string } }>(
    '/predict',
    {
      schema: {
        summary: 'Classify an image (original contract: exactly three keys)',
        consumes: ['multipart/form-data', ...Object.keys(RAW_IMAGE_TYPES)],
        // A model may be named as for /v1/predict (query or form field); the answer is always the top class.
        querystring: Type.Pick(PredictQuery, ['model']),
        response: { 200: ThreeKeys, '4xx': ThreeKeysError, '5xx': ThreeKeysError },
      },
      config: { upload: true, errorStyle: 'three-keys' },
      preValidation: emptyQueryValuesAbsent(),
    },
    async (request, reply) => {
      const { upload, result, totalMs } = await classifyUpload(request, deps, { query: { model: request.query.model }, topK: 1 });
      rememberAnswer(deps, upload.name, result, totalMs);
      reply.header(CACHE_HEADER, result.cached ? 'HIT' : 'MISS');
      const top = result.predictions[0]!;
      return { success: true, prediction: top.label, score: roundScore(top.score) };
    },
  );

  app.post<{ Querystring: { model?: string; top_k?: number } }>(
    '/v1/predict',
    {
      schema: {
        summary: 'Classify an image: top-k, model, stored image name and timings',
        consumes: ['multipart/form-data', ...Object.keys(RAW_IMAGE_TYPES)],
        querystring: PredictQuery,
        response: { 200: V1Result, '4xx': ErrorBody, '5xx': ErrorBody },
      },
      config: { upload: true },
      preValidation: emptyQueryValuesAbsent('top_k'),
    },
    async (request, reply) => {
      const { upload, uploadMs, result, totalMs } = await classifyUpload(request, deps, { query: request.query });
      rememberAnswer(deps, upload.name, result, totalMs);
      reply.header(CACHE_HEADER, result.cached ? 'HIT' : 'MISS');
      const top = result.predictions[0]!;
      const t = result.timings;
      return {
        success: true,
        prediction: top.label,
        score: roundScore(top.score),
        predictions: result.predictions,
        model: { name: result.model, version: result.modelVersion },
        image: upload.name,
        cached: result.cached === true,
        timings: { uploadMs, ...t, totalMs, overheadMs: Math.max(0, toHundredths(totalMs - t.queueMs - t.preprocessMs - t.inferenceMs)) },
        worker: result.worker,
      };
    },
  );
}
