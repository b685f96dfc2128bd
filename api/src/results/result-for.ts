/** The result a result page shows: remembered, or predicted again from the stored image. */
import { randomUUID } from 'node:crypto';
import type { FastifyRequest } from 'fastify';
import { AppError } from '@icls/lib/errors';
import type { JobResult } from '@icls/lib/job-contract';
import type { ApiDeps } from '../app.ts';
import { STORED_NAME } from '../upload/allowed-file.ts';
import { RESULT_CLASSES, type ShownResult } from './recent-results.ts';

export function shownResult(image: string, result: JobResult, totalMs: number, uploadMs?: number): ShownResult {
  return {
    image,
    model: result.model,
    modelVersion: result.modelVersion,
    predictions: result.predictions,
    timings: { totalMs, ...(uploadMs === undefined ? {} : { uploadMs }), ...result.timings },
    ...(result.cached ? { cached: true } : {}),
  };
}

/** `request` ties a prediction made again to the page request that asked for it (logs, traces). */
export async function resultFor(deps: ApiDeps, image: string, model: string, request: FastifyRequest): Promise<ShownResult> {
  const gone = () => new AppError('NOT_FOUND', 'no such image: it was never uploaded here, or it has been cleaned up');
  const remembered = deps.results.get(image, model);
  // Viewed again: marked as used (the upload sweeper removes the least recently used first); a result
  // whose image was removed meanwhile is not shown with a broken image.
  if (remembered) {
    if (!(await deps.uploads.refresh(image))) throw gone();
    return remembered;
  }
  const upload = STORED_NAME.test(image) ? await deps.uploads.find(image) : undefined;
  if (!upload || !(await deps.uploads.refresh(upload.name))) throw gone();
  const admission = await deps.predictor.admit(model);
  const jobId = randomUUID();
  request.jobId = jobId;
  // Already in place: the job names the stored file (or carries its bytes with IMAGE_TRANSPORT=bytes).
  const { result, totalMs } = await deps.predictor
    .predict(upload, Promise.resolve(upload), {
      model,
      topK: RESULT_CLASSES,
      receivedAt: Date.now(),
      jobId,
      requestId: request.id,
      span: request.span,
      admission,
    })
    .finally(() => admission.release());
  const shown = shownResult(upload.name, result, totalMs);
  deps.results.remember(shown);
  return shown;
}
