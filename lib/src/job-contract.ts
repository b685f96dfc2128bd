/**
 * The job contract between api and model workers: what travels through the queue, in one place
 * for both sides. Keep it JSON-serialisable, but for the image bytes (the Redis queue sends those as
 * a binary field of the stream entry, beside the job's JSON); Redis and the in-process queue carry
 * the same shapes.
 */
import type { ErrorCode } from './errors.ts';

/**
 * An empty file the api keeps in its UPLOAD_DIR (written at every start): a worker that sees it shares
 * the api's folder. A job's stored upload missing beside it was not stored after all (the api gave up on
 * it and told its client why: a full or read-only disk), not put where the worker does not look.
 */
export const UPLOAD_DIR_MARK = '.icls-upload-dir';

/**
 * A job whose image decodes to more than this (its header's estimate, decodedBytes) is heavy: it goes to
 * its model's heavy lane, of which each worker holds one job at a time, so a flood of huge images does
 * not hold up ordinary ones. 64 MiB: a 16-megapixel RGBA image; a 12-megapixel baseline JPEG photo
 * (36 MB) is not heavy. It is also the part of the default DECODE_MEMORY_BYTES above which a worker's
 * decodes take turns.
 */
export const HEAVY_IMAGE_BYTES = 64 * 1024 * 1024;

/**
 * The longest model name. Model names are folder names, and the api looks up no longer one (a query's
 * `model` past it is a 400), so the models command and the model configs refuse longer ones too.
 */
export const MODEL_NAME_MAX = 128;
/**
 * A model's name, which is also its folder's: lower-case letters, digits, ".", "_" and "-", starting with
 * a letter or digit, at most MODEL_NAME_MAX characters.
 */
export const MODEL_NAME_PATTERN = `^[a-z0-9][a-z0-9._-]{0,${MODEL_NAME_MAX - 1}}$`;
/** The rule in words, for messages. */
export const MODEL_NAME_RULE = `lower-case letters, digits, ".", "_" and "-", starting with a letter or digit, at most ${MODEL_NAME_MAX} characters`;
const MODEL_NAME = new RegExp(MODEL_NAME_PATTERN);

/** Whether a model can have this name (MODEL_NAME_PATTERN). */
export const isModelName = (name: string): boolean => MODEL_NAME.test(name);

/** A name as given, cut short for a message: a refused one may be any length. */
export const shownModelName = (name: string): string => (name.length > 140 ? `${name.slice(0, 130)}…` : name);

/**
 * Heavy jobs a model's queue holds at most: an eighth of its bound (QUEUE_MAX_WAITING), at least one.
 * A worker decodes them one at a time, a second or two each, so more would mostly wait out their
 * deadline, and a flood of them leaves the rest of the bound to ordinary images.
 */
export const heavyBound = (maxQueued: number): number => Math.max(1, Math.floor(maxQueued / 8));

/** One prediction request. */
export interface JobData {
  /** Unique per request; results are idempotent by this id. */
  id: string;
  /** Stored upload name (`<md5>.<ext>`), relative to UPLOAD_DIR. */
  image: string;
  /**
   * The image bytes, when they travel inside the job (uploads up to INLINE_IMAGE_BYTES, or every one
   * with IMAGE_TRANSPORT=bytes): the worker then reads no file. Without them it reads `image`.
   */
  imageData?: Buffer;
  /**
   * Set with `imageData` when the api also stores the upload in an UPLOAD_DIR the worker is meant to share
   * (IMAGE_TRANSPORT=path): the worker checks now and then that it sees the file, so a deployment whose
   * workers do not share it is told so before a job needs the file.
   */
  sharedFile?: boolean;
  model: string;
  /** Its image decodes to more than HEAVY_IMAGE_BYTES: it goes to the model's heavy lane. */
  heavy?: true;
  /** Epoch ms after which nobody waits for the answer: workers skip the job. */
  deadline: number;
  /** Epoch ms when the api enqueued it, to measure queue time. */
  enqueuedAt: number;
  /** How many classes to return. */
  topK: number;
  /** The api's id of the HTTP request, so both sides' logs name it. */
  requestId?: string;
  /** W3C trace context of the api's span waiting for this job, when tracing is on: the worker's spans join it. */
  traceparent?: string;
  /**
   * The result cache's key for this upload, model and top_k (`<md5>:<model>:<topK>`): the queue
   * answers from the cache when it holds an answer for it, and keeps this job's answer there.
   * Absent when the cache is off.
   */
  cacheKey?: string;
  /**
   * The model build `cacheKey` names (`<md5>:<model>@<build>:<topK>`, a build being the model's version and
   * a digest of its files, as heartbeats give it): this job's answer is kept in the cache only when that
   * build computed it (a worker of another build may take the job in a rolling upgrade, or one whose files
   * were replaced by hand). Absent when the queue does not say which builds are served.
   */
  cacheVersion?: string;
}

export interface Prediction {
  label: string;
  score: number;
}

/** A finished prediction. */
export interface JobResult {
  id: string;
  model: string;
  modelVersion: string;
  /**
   * The model's build (its version and a digest of its files) when the worker names one: what the
   * result cache checks against `JobData.cacheVersion`. Absent from older workers' answers.
   */
  modelBuild?: string;
  predictions: Prediction[];
  timings: { queueMs: number; preprocessMs: number; inferenceMs: number };
  /** The worker that computed it (for a cached answer: the one that computed it first). */
  worker: string;
  /** True when the answer came from the result cache (no model ran for this request). */
  cached?: boolean;
}

/**
 * Why a job failed, when the failure is the image's or the request's fault (not retried).
 * `code` is an ErrorCode so the api can answer with the right status.
 */
export interface JobFailure {
  code: ErrorCode;
  detail: string;
}

/** Thrown by a job handler for a failure that retrying cannot fix (corrupt image, expired deadline). */
export class JobRejectedError extends Error {
  override name = 'JobRejectedError';
  constructor(readonly failure: JobFailure) {
    super(`${failure.code}: ${failure.detail}`);
  }
}

/** A model a worker was meant to serve but could not load. */
export interface BrokenModel {
  name: string;
  /** Why, as the loader said it (for logs, `/v1/models` and `models list`). */
  reason: string;
}

/** What the live workers hold, as the api sees it. */
export interface WorkerView {
  /** Models with at least one live worker, and how many workers hold each. */
  served: Map<string, number>;
  /** Models some live worker failed to load, with the reason it gave. */
  broken: Map<string, string>;
  /**
   * Per served model, the builds its live workers hold (a build: the version and a digest of the model's
   * files; one, except in a rolling upgrade or while some workers still hold files replaced since they
   * loaded them). Absent when the queue does not know.
   */
  versions?: Map<string, ReadonlySet<string>>;
}

/** What a worker does with one job: the same function serves Redis and embedded mode. */
export type JobHandler = (job: JobData) => Promise<JobResult>;

/**
 * Jobs a handler holds that wait for a local resource (a worker's decode memory) rather than a core:
 * a consumer does not count them against its concurrency, up to as many again, so jobs behind them
 * (ordinary photos behind huge images taking turns) are still read and run.
 */
export interface ParkedJobs {
  count(): number;
  /** Called whenever count() may have changed. */
  onChange(listener: () => void): void;
}

/** The api's side of the queue. */
export interface JobProducer {
  /** Enqueues and waits for the result until the job's deadline; rejects with an AppError. */
  submit(job: JobData): Promise<JobResult>;
  /** What live workers hold; rejects (NOT_READY, or DEADLINE_EXCEEDED at `deadline`) when the queue cannot say. */
  workerView(deadline: number): Promise<WorkerView>;
  /**
   * False when the model's queue is full: the api then answers 503 before reading the upload, so
   * overload costs it almost nothing. `incoming` jobs are on their way (uploads this api is reading
   * for the model) and count as queued already. A true that turns stale is harmless (submit enforces
   * the bound). Rejects like workerView when the queue cannot say.
   */
  admits(model: string, deadline: number, incoming?: number): Promise<boolean>;
  /**
   * Why the backing store refuses writes (out of memory, a read-only replica…), or undefined when it takes
   * them. Workers' heartbeats are writes: while they are refused, workers look gone. Rejects like workerView.
   */
  writeRefusal?(deadline: number): Promise<string | undefined>;
  /**
   * True when a job for the model added now would likely be taken at once: this producer has none of its
   * jobs in flight, and the model's queue held at most one job when last seen (by an add or a length).
   * A guess from what this producer saw; absent: never.
   */
  lone?(model: string): boolean;
  /** True when the queue's backing store answers before `deadline`. */
  ping(deadline: number): Promise<boolean>;
  /** While the backing store cannot be used, why, when it said (e.g. Redis refused the password). */
  downReason?(): string | undefined;
  /**
   * Per model: jobs in its queue (queued + running) and of those, jobs a worker has taken but not yet
   * answered. One round trip for all of them, bounded by `deadline`; rejects like workerView.
   */
  queueStats(models: string[], deadline: number): Promise<Map<string, QueueStats>>;
  close(): Promise<void>;
}

/** What a model's queue holds now. */
export interface QueueStats {
  /** Jobs queued or running, in both lanes (the streams' lengths: answered jobs are deleted from them). */
  length: number;
  /** Jobs delivered to a worker and not yet answered. */
  pending: number;
}

/** The worker's side of the queue. */
export interface JobConsumer {
  start(): Promise<void>;
  /** Stops taking jobs and lets the running ones finish. Safe to call twice. */
  close(): Promise<void>;
}
