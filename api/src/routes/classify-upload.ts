/**
 * The steps every upload route takes, in one place so none can skip one: refuse at once when the
 * model's queue is full (before the upload is read), receive and store the upload, then predict.
 */
import type { FastifyRequest } from 'fastify';
import { AppError } from '@icls/lib/errors';
import type { ApiDeps } from '../app.ts';
import type { PredictOutcome } from '../predict-service.ts';
import { receiveUpload } from '../upload/receive-upload.ts';
import type { StoredUpload } from '../upload/upload-store.ts';

export interface ClassifiedUpload extends PredictOutcome {
  upload: StoredUpload;
  /** From the request's arrival to the upload stored and checked. */
  uploadMs: number;
}

/**
 * `model` and `topK` given here win; otherwise the form fields `model` and `top_k` decide, then the
 * defaults (the service's default model, 5 classes).
 */
export async function classifyUpload(
  request: FastifyRequest,
  deps: ApiDeps,
  opts: { model?: string; topK?: number } = {},
): Promise<ClassifiedUpload> {
  const receivedAt = Date.now();
  await deps.predictor.rejectIfFull(opts.model);
  const { upload, fields } = await receiveUpload(request, deps.uploads);
  const uploadMs = Date.now() - receivedAt;
  const model = opts.model ?? (fields.model || undefined);
  const topK = opts.topK ?? (fields.top_k ? Number(fields.top_k) : 5);
  if (!Number.isInteger(topK) || topK < 1) throw new AppError('BAD_REQUEST', 'top_k must be a whole number ≥ 1');
  return { upload, uploadMs, ...(await deps.predictor.predict(upload, { model, topK, receivedAt })) };
}

/** Scores as the original printed them: 4 decimals. */
export const roundScore = (x: number): number => Math.round(x * 10_000) / 10_000;
