/**
 * The steps every upload route takes, in one place so none can skip one: refuse at once when the
 * model's queue is full or the named model is not served (before the upload is read; for a form that
 * may name its model after the file, a full default queue only once the form is read), receive and
 * store the upload (cut if it stalls), then predict.
 */
import { randomUUID } from 'node:crypto';
import type { FastifyRequest } from 'fastify';
import type { ApiDeps } from '../app.ts';
import { readingBody } from '../http/body-guard.ts';
import { continueBody } from '../http/expect-continue.ts';
import { elapsedMs, type PredictOutcome } from '../predict-service.ts';
import { receiveUpload } from '../upload/receive-upload.ts';
import type { StoredUpload } from '../upload/upload-store.ts';
import { predictParams } from './request-params.ts';

export interface ClassifiedUpload extends PredictOutcome {
  upload: StoredUpload;
  /** From the request's arrival to the upload received and checked (it is stored beside the prediction). */
  uploadMs: number;
}

export interface ClassifyOptions {
  /** Query parameters (checked by the route's schema); they win over form fields. */
  query?: { model?: string; top_k?: number };
  /** A route that always answers this many classes (the original's /predict: 1). */
  topK?: number;
  /** Filled with the form's fields as they are read: what the form had named, even when its file is refused. */
  fields?: Record<string, string>;
}

export async function classifyUpload(request: FastifyRequest, deps: ApiDeps, opts: ClassifyOptions = {}): Promise<ClassifiedUpload> {
  const receivedAt = Date.now();
  const startedAt = performance.now();
  const query = opts.query ?? {};
  // With no model in the query, a multipart form may name one after the file (see admitNamed).
  let admission = await deps.predictor.admit(query.model || undefined, { bodyMayName: !query.model && request.isMultipart() });
  // Given back when the job is queued (predict), or here when the request ends before that.
  try {
    // Admitted: a client waiting to be told (Expect: 100-continue) now sends the upload.
    continueBody(request);
    const uploadSpan = deps.tracing.startSpan('receive upload', { parent: request.span ?? undefined });
    const { upload, fields } = await readingBody(request, () => receiveUpload(request, deps.uploads, opts.fields)).finally(() => uploadSpan.end());
    const received = Date.now();
    const uploadMs = elapsedMs(startedAt);
    deps.metrics.uploadSize.observe(upload.bytes);
    let params: ReturnType<typeof predictParams>;
    try {
      params = predictParams(query, fields);
      admission = await deps.predictor.admitNamed(admission, params.model);
    } catch (err) {
      await deps.uploads.discard(upload);
      throw err;
    }
    const topK = opts.topK ?? params.topK;
    const jobId = randomUUID();
    request.jobId = jobId;
    // The file is written while the model works (the job carries the bytes, or waits for the file).
    const persisted = deps.uploads.persist(upload);
    // The prediction's deadline starts now that the upload is in: receiving it has its own limit
    // (REQUEST_RECEIVE_TIMEOUT_MS), so a photo on a slow uplink is not refused with a 504.
    const predicted = deps.predictor.predict(upload, persisted, {
      model: params.model,
      topK,
      receivedAt,
      startedAt,
      deadlineFrom: received,
      jobId,
      requestId: request.id,
      span: request.span,
      admission,
    });
    const [stored, outcome] = await Promise.all([persisted, predicted]);
    request.log.debug({ jobId, model: outcome.result.model, worker: outcome.result.worker, totalMs: outcome.totalMs }, 'prediction answered');
    return { upload: stored, uploadMs, ...outcome };
  } finally {
    admission.release();
  }
}

/** Scores as the original printed them: 4 decimals. */
export const roundScore = (x: number): number => Math.round(x * 10_000) / 10_000;
