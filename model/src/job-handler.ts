/**
 * What a worker does with one job, whichever queue delivered it: skip it if nobody waits any more,
 * load the image, classify it. Faults of the image or the request are rejected (never retried);
 * anything else is thrown so the queue can count it.
 */
import { readFile, stat } from 'node:fs/promises';
import { basename, join } from 'node:path';
import { ImageDecodeError, ImageTooLargeError } from './image/image.ts';
import { JobRejectedError, UPLOAD_DIR_MARK, type JobData, type JobHandler, type JobResult } from '@icls/lib/job-contract';
import type { Classifier } from './classifier.ts';
import { InferenceTimeoutError } from './engine/inference-pool.ts';
import type { StageMarks } from './telemetry/job-telemetry.ts';

export interface JobHandlerDeps {
  classifiers: Map<string, Classifier>;
  /** Each model's build (version + digest of its files), named in its answers for the result cache. */
  builds?: ReadonlyMap<string, string>;
  uploadDir: string;
  workerId: string;
  /** Told the stage times of each classified job (metrics and spans). */
  onStages?: (job: JobData, marks: StageMarks) => void;
  /** Told when a job's image came inside it but its stored file is not in UPLOAD_DIR (see spotCheckShared). */
  onUnshared?: (job: JobData, detail: string) => void;
}

/** What the operator does about it, in the api's log (the failure's detail) and the worker's. */
const SHARE_FIX = "give the workers the api's UPLOAD_DIR (a shared folder or volume), or set IMAGE_TRANSPORT=bytes on the api";
/** A job whose image came inside it has its stored file looked for at most this often… */
const SPOT_CHECK_EVERY_MS = 60_000;
/** …this long after it arrived: the api stores the file while the job runs, and answers once it is stored. */
const SPOT_CHECK_AFTER_MS = 2000;

export function createJobHandler(deps: JobHandlerDeps): JobHandler {
  let lastSpotCheck = Number.NEGATIVE_INFINITY;
  /**
   * Images up to a size (all of a lone request's) travel inside their job, so a worker that does not see
   * the api's UPLOAD_DIR would answer them and fail only the others: at light load, nothing would say so.
   */
  const spotCheckShared = (job: JobData): void => {
    const now = Date.now();
    if (!job.sharedFile || !deps.onUnshared || now - lastSpotCheck < SPOT_CHECK_EVERY_MS) return;
    lastSpotCheck = now;
    const path = storedPath(deps.uploadDir, job.image);
    setTimeout(() => {
      stat(path).then(
        () => undefined,
        async (err: NodeJS.ErrnoException) => {
          // With the api's mark there, the folder is shared and the api did not store this upload (its disk
          // full or read-only: its own answer and log say so); "share the folder" would send the operator
          // the wrong way. A mark the worker cannot see at all (missing, not its to read) says unshared.
          if (await stat(join(deps.uploadDir, UPLOAD_DIR_MARK)).then(() => true, () => false)) return;
          deps.onUnshared!(job, `stored image ${basename(path)}, sent inside its job, is not in the worker's UPLOAD_DIR ${SPOT_CHECK_AFTER_MS / 1000} s later (${err.code ?? 'error'}); ${SHARE_FIX}`);
        },
      );
    }, SPOT_CHECK_AFTER_MS).unref();
  };
  return async (job: JobData): Promise<JobResult> => {
    const startedAt = Date.now();
    if (startedAt > job.deadline) {
      throw new JobRejectedError({ code: 'DEADLINE_EXCEEDED', detail: 'the job expired before a worker took it' });
    }
    const classifier = deps.classifiers.get(job.model);
    if (!classifier) throw new JobRejectedError({ code: 'UNKNOWN_MODEL', detail: `this worker does not hold "${job.model}"` });
    const start = performance.now();
    if (job.imageData) spotCheckShared(job);
    const image = job.imageData ?? (await readStoredImage(deps.uploadDir, job.image));
    let result;
    try {
      result = await classifier.classify(image, job.topK, { deadline: job.deadline });
    } catch (err) {
      if (err instanceof InferenceTimeoutError) throw new JobRejectedError({ code: 'DEADLINE_EXCEEDED', detail: err.message });
      if (err instanceof ImageTooLargeError) throw new JobRejectedError({ code: 'IMAGE_TOO_MANY_PIXELS', detail: err.message });
      if (err instanceof ImageDecodeError) throw new JobRejectedError({ code: 'IMAGE_UNREADABLE', detail: err.message });
      throw err;
    }
    deps.onStages?.(job, { start, ...result.marks });
    return {
      id: job.id,
      model: classifier.name,
      modelVersion: classifier.entry.config.version,
      ...(deps.builds?.has(job.model) ? { modelBuild: deps.builds.get(job.model) } : {}),
      predictions: result.predictions,
      timings: { queueMs: Math.max(0, startedAt - job.enqueuedAt), preprocessMs: result.preprocessMs, inferenceMs: result.inferenceMs },
      worker: deps.workerId,
    };
  };
}

/** Only a bare stored name is valid; basename() keeps a forged job from reading outside the folder. */
const storedPath = (uploadDir: string, name: string): string => join(uploadDir, basename(name));

async function readStoredImage(uploadDir: string, name: string): Promise<Buffer> {
  const path = storedPath(uploadDir, name);
  try {
    return await readFile(path);
  } catch (err) {
    // The deployment's fault, not the client's: the api stored the upload where this worker does not look.
    throw new JobRejectedError({
      code: 'UPLOAD_NOT_SHARED',
      detail: `stored image ${basename(path)} cannot be read by the worker (${(err as NodeJS.ErrnoException).code ?? 'error'}); ${SHARE_FIX}`,
    });
  }
}
