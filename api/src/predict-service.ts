/**
 * Turns a stored upload into a prediction: picks the model, builds the job, waits for the result.
 * Knows nothing of HTTP; throws AppErrors. Every wait on the queue is bounded by the request's own
 * deadline, armed when it arrived; while the queue is unreachable each call fails at once (503).
 */
import { readFile } from 'node:fs/promises';
import { withDeadline } from '@icls/lib/deadline';
import { pickDefaultModel } from '@icls/lib/default-model';
import { every } from '@icls/lib/every';
import { AppError, isAppError, queueFull, queueNoAnswer } from '@icls/lib/errors';
import { decodedBytes } from '@icls/lib/image-header';
import { HEAVY_IMAGE_BYTES, type JobData, type JobProducer, type JobResult, type WorkerView } from '@icls/lib/job-contract';
import { noTracing, type Span, type Tracing } from '@icls/lib/tracing/tracing';
import { RestartGrace } from './restart-grace.ts';
import type { HeldBytes, IncomingUpload, StoredUpload } from './upload/upload-store.ts';

/** What a prediction needs of an upload: its name and hash, and its bytes when they are in memory. */
export type UploadToPredict = Pick<IncomingUpload, 'name' | 'md5' | 'bytes' | 'held' | 'image'>;

export interface PredictOptions {
  model?: string;
  topK: number;
  /** Epoch ms when the request arrived: the deadline counts from here (unless `deadlineFrom`). */
  receivedAt: number;
  /**
   * `performance.now()` when the request arrived: totalMs counts from here, on the monotonic clock and
   * below the millisecond. Default: when `predict` was called.
   */
  startedAt?: number;
  /**
   * Epoch ms the deadline (REQUEST_TIMEOUT_MS) counts from: when the upload had been received, so a
   * slow uplink is not charged to the model (receiving has its own limit). Default: receivedAt.
   */
  deadlineFrom?: number;
  /** The job's id (the caller logs it), and the request's, which the worker logs too. */
  jobId: string;
  requestId?: string;
  /** The request's span: the job's span is its child, and the worker's spans join the job's. */
  span?: Span | null;
  /** The request's admission (see `admit`): given back when its job is queued. */
  admission?: Admission;
}

export interface PredictOutcome {
  result: JobResult;
  totalMs: number;
}

export interface PredictServiceConfig {
  defaultModel?: string;
  timeoutMs: number;
  imageTransport: 'path' | 'bytes';
  tracing?: Tracing;
  /** With `path`, uploads up to this size travel inside the job anyway (no second disk read). */
  inlineImageBytes: number;
  /**
   * With `path`, a lone request's upload (see JobProducer.lone) travels inside its job up to this size when
   * it is held in memory: it is answered without waiting for its file to be written and read back, while
   * under load the worker reads files, which costs Redis less memory and CPU.
   */
  inlineLoneImageBytes?: number;
  /** Jobs carry a result-cache key (the queue answers identical uploads from its cache). */
  resultCache: boolean;
  /**
   * Models whose worker died and is being restarted beside this api (`npm start`'s supervisor):
   * predictions for them are queued for the successor rather than refused while no worker beats.
   */
  restartingModels?: () => ReadonlySet<string>;
  /** WORKER_RESTART_GRACE_MS: see RestartGrace (0 or unset: none). */
  restartGraceMs?: number;
  /** How long an admission counts at most (default ADMISSION_HOLD_MS; tests shorten it). */
  admissionHoldMs?: number;
}

/** How long an admitted request's upload counts against its model's queue bound at most (see Admission). */
export const ADMISSION_HOLD_MS = 1000;

/**
 * A request let in before its upload is read: it counts against its model's queue bound until its
 * job is queued or the request ends, so a burst of arrivals cannot all be let in at once.
 */
export class Admission {
  /** For requests that name no model while none is served (predict then answers NOT_READY). */
  static readonly NONE = new Admission(new Map(), undefined);
  /**
   * Set when the default model's queue was full for a request whose form may still name another
   * model: it counts nothing, and the refusal applies once the form says no other model (`admitNamed`).
   */
  refusal?: AppError;
  private released = false;
  private readonly expiry?: NodeJS.Timeout;

  /**
   * Counts for `holdMs` at most: long enough for a burst's uploads to arrive, short enough that uploads
   * trickling in on purpose cannot hold the queue's places (64 of them, one byte every few seconds,
   * refused every other client for the 2 minutes REQUEST_RECEIVE_TIMEOUT_MS allows). An upload still
   * arriving after that is checked against the queue's bound when its job is queued, as any other.
   */
  constructor(
    private readonly counts: Map<string, number>,
    readonly model: string | undefined,
    holdMs = ADMISSION_HOLD_MS,
  ) {
    if (!model) {
      this.released = true;
      return;
    }
    counts.set(model, (counts.get(model) ?? 0) + 1);
    this.expiry = setTimeout(() => this.release(), holdMs);
    this.expiry.unref();
  }

  /** Admissions of the same model not yet released, this one aside. */
  others(): number {
    return this.model ? this.counts.get(this.model)! - 1 : 0;
  }

  release(): void {
    if (this.released) return;
    this.released = true;
    clearTimeout(this.expiry);
    const model = this.model!;
    const left = this.counts.get(model)! - 1;
    if (left > 0) this.counts.set(model, left);
    else this.counts.delete(model);
  }
}

/** Workers come and go; a view this old is still trusted (a dead worker stops counting within ~2 s anyway). */
const VIEW_CACHE_MS = 250;
/** How often an api with a restart grace looks at the workers on its own, requests or not (see watchWorkers). */
const WATCH_WORKERS_MS = 1000;
/** A queue's refusal of writes, once looked up, is trusted this long. */
const REFUSAL_CACHE_MS = 1000;
/** When a named model is missing from the cache, a view this fresh is trusted. */
const FRESH_ENOUGH_MS = 100;
/** Pages and health checks have no prediction deadline: they wait for the queue this long at most. */
export const LOOKUP_TIMEOUT_MS = 1000;

/** Timings as answers give them: to 0.01 ms. */
export const toHundredths = (ms: number): number => Math.round(ms * 100) / 100;
/** Milliseconds since `start` (a `performance.now()`), to 0.01 ms. */
export const elapsedMs = (start: number): number => toHundredths(performance.now() - start);

/**
 * The result cache's key for a job: `<md5>:<model>@<build>:<topK>` when one build of the model is served
 * (a build: its version and a digest of its files, from the workers' heartbeats), so a model replaced
 * under the same name, even by hand under the same version, is never answered from the old one's answers.
 * While two builds are live (a rolling upgrade) nothing is cached or looked up; a queue that does not say
 * which builds it serves (embedded mode, whose cache dies with the process) keys by the name alone.
 */
export function cacheFields(md5: string, model: string, topK: number, versions: WorkerView['versions']): Pick<JobData, 'cacheKey' | 'cacheVersion'> {
  if (!versions) return { cacheKey: `${md5}:${model}:${topK}` };
  const live = versions.get(model);
  if (live?.size !== 1) return {};
  const [version] = live;
  return { cacheKey: `${md5}:${model}@${version}:${topK}`, cacheVersion: version };
}

/** The api cannot tell a worker that has not started from one that stopped for good (past the restart grace). */
const NO_WORKER_WHY = 'none has started yet, or every one has stopped';
export const NO_WORKER = `no model worker is running (${NO_WORKER_WHY})`;

/** What a client and /readyz are told while the queue refuses writes (see writeRefusal). */
export const writesRefused = (why: string): string => `the queue (Redis) refuses writes: ${why}`;

/**
 * Why the default model has no worker, as an operator can act on it: it failed to load, or workers run
 * but none holds it (a typo in DEFAULT_MODEL looks like a service that never finishes starting), or
 * no worker runs yet.
 */
export function defaultMissing(model: string, served: ReadonlyMap<string, number>, broken: ReadonlyMap<string, string>): string {
  const failed = broken.get(model);
  if (failed) return `the default model "${model}" failed to load: ${failed}`;
  if (served.size > 0) return `no worker holds the default model "${model}" (DEFAULT_MODEL); workers serve: ${[...served.keys()].sort().join(', ')}`;
  return `no worker holds the default model "${model}" (${NO_WORKER_WHY})`;
}

/**
 * One lookup of the queue shared by every request of the moment, bounded on its own and reused while
 * younger than the age asked; each caller waits for it no later than its own deadline. A failed one
 * is dropped, so the next caller looks again.
 */
class SharedLookup<T> {
  private last?: { at: number; value: Promise<T> };

  constructor(private readonly look: (deadline: number) => Promise<T>) {}

  get(deadline: number, maxAgeMs: number): Promise<T> {
    const now = Date.now();
    if (!this.last || now - this.last.at > maxAgeMs) {
      const value = this.look(now + LOOKUP_TIMEOUT_MS);
      this.last = { at: now, value };
      value.catch(() => {
        if (this.last?.value === value) this.last = undefined;
      });
    }
    return withDeadline(this.last.value, deadline, queueNoAnswer);
  }
}

/** A model no worker serves; one a worker reports it could not load says so, with the reason (a typo and a broken install looked alike). */
function unknownModel(model: string, served: ReadonlyMap<string, number>, broken: ReadonlyMap<string, string>): AppError {
  const servedText = `served: ${[...served.keys()].join(', ') || 'none'}`;
  const failed = broken.get(model);
  return new AppError('UNKNOWN_MODEL', failed ? `"${model}" is installed but failed to load: ${failed}; ${servedText}` : `"${model}"; ${servedText}`);
}

export class PredictService {
  private readonly views: SharedLookup<WorkerView>;
  private readonly refusals?: SharedLookup<string | undefined>;
  /** Per served model, admitted requests whose job is not queued yet (see `admit`). */
  private readonly incoming = new Map<string, number>();
  private readonly grace: RestartGrace;

  constructor(
    private readonly producer: JobProducer,
    private readonly config: PredictServiceConfig,
  ) {
    this.grace = new RestartGrace(config.restartGraceMs ?? 0);
    this.views = new SharedLookup((deadline) => producer.workerView(deadline));
    const writeRefusal = producer.writeRefusal?.bind(producer);
    if (writeRefusal) this.refusals = new SharedLookup(writeRefusal);
  }

  /** DEFAULT_MODEL as configured (the default actually used also depends on what is served). */
  get configuredDefault(): string | undefined {
    return this.config.defaultModel;
  }

  /** The request's deadline (epoch ms), counted from `from` (its arrival, or the end of its upload). */
  deadlineFor(from: number): number {
    return from + this.config.timeoutMs;
  }

  /** What live workers hold (at most `maxAgeMs` old), waiting no later than `deadline`. */
  workerView(deadline = Date.now() + LOOKUP_TIMEOUT_MS, maxAgeMs = VIEW_CACHE_MS): Promise<WorkerView> {
    return this.views.get(deadline, maxAgeMs);
  }

  /**
   * Models with at least one live worker, and how many workers hold each; a model whose worker is
   * being restarted, or whose last worker went within the restart grace, counts too (with 0 workers):
   * its jobs wait for the successor.
   */
  async servedModels(deadline?: number, maxAgeMs?: number): Promise<Map<string, number>> {
    return this.servedOrAwaited(await this.workerView(deadline, maxAgeMs));
  }

  /**
   * Keeps the restart grace current while no request comes: it counts from when the api last saw a
   * model served, and an api idle for longer than the grace used to refuse at once the first requests
   * after a worker died, where they should have been queued for its successor. One look at the
   * heartbeats a second (shared with requests' lookups). Returns a function that stops it.
   */
  watchWorkers(onError: (err: unknown) => void): () => void {
    if (!this.config.restartGraceMs) return () => undefined;
    return every(WATCH_WORKERS_MS, () => this.servedModels(undefined, WATCH_WORKERS_MS / 2), onError);
  }

  /** The models `view` serves, with those awaiting a restarted worker (0 workers): what requests can be queued for. */
  servedOrAwaited(view: WorkerView): Map<string, number> {
    const awaited = [...(this.config.restartingModels?.() ?? []), ...this.grace.missing(view)].filter((m) => !view.served.has(m));
    if (awaited.length === 0) return view.served;
    const withAwaited = new Map(view.served);
    for (const m of awaited) withAwaited.set(m, 0);
    return withAwaited;
  }

  /**
   * Why the queue refuses writes (out of memory, a read-only replica…), looked up at most once a
   * second; undefined while it takes them. Workers' heartbeats are writes: while they are refused,
   * live workers look gone, and that is what a client or an operator must be told.
   */
  async writeRefusal(deadline = Date.now() + LOOKUP_TIMEOUT_MS): Promise<string | undefined> {
    return this.refusals ? this.refusals.get(deadline, REFUSAL_CACHE_MS) : undefined;
  }

  /** NOT_READY for a model no live worker holds, saying so, unless a queue refusing writes is why. */
  private async noWorker(message: string, deadline: number): Promise<AppError> {
    const refusal = await this.writeRefusal(deadline);
    if (refusal) return new AppError('NOT_READY', writesRefused(refusal), { retryAfterS: 1 });
    return new AppError('NOT_READY', message, { retryAfterS: 2 });
  }

  /** The default model among those `view` says are present (served, or broken). */
  defaultIn(view: Pick<WorkerView, 'served' | 'broken'>): string | undefined {
    return pickDefaultModel(this.config.defaultModel, view.served.keys(), view.broken.keys());
  }

  async defaultModel(deadline?: number): Promise<string | undefined> {
    const view = await this.workerView(deadline);
    return this.defaultIn({ served: this.servedOrAwaited(view), broken: view.broken });
  }

  /**
   * Refuses at once (503) when the queue of the model the request will most likely use is full, so
   * the api does not read, hash and store uploads it cannot serve. A named model no worker holds is
   * refused here too (404): only served names ever reach the queue's admission state, so client
   * input cannot grow it. The admission counts as a queued job until `predict` queues the job (or
   * the caller releases it: always release it, once the request is over).
   */
  async admit(modelHint: string | undefined, opts: { bodyMayName?: boolean } = {}): Promise<Admission> {
    const deadline = this.deadlineFor(Date.now());
    if (modelHint) await this.requireServed(modelHint, deadline);
    const model = modelHint ?? (await this.defaultUnlessNoneServed(deadline));
    if (!model) return Admission.NONE;
    // Counted before the check, so requests arriving together see each other: under overload, only as
    // many uploads are read as the queue has room for, and the rest are refused before being read.
    const admission = new Admission(this.incoming, model, this.config.admissionHoldMs);
    try {
      if (await this.producer.admits(model, deadline, admission.others())) return admission;
    } catch (err) {
      admission.release();
      throw err;
    }
    admission.release();
    const full = queueFull(model);
    // `bodyMayName`: no model in the query, and a form to come that may name one. Refusing it for the
    // default model's queue would refuse requests for a model with room (the page's form sends its
    // model after the file), so the upload is read and the refusal waits for the form (`admitNamed`).
    // Unless no other model is served: then the form can only name this one (or none served), and
    // reading, hashing and storing every upload only to refuse it was most of an overloaded api's work
    // (its 503s came after the whole upload, seconds late behind the uploads it read).
    if (!opts.bodyMayName || !(await this.othersServed(model, deadline))) throw full;
    admission.refusal = full;
    return admission;
  }

  /** True when a model other than `model` is served (or awaited). */
  private async othersServed(model: string, deadline: number): Promise<boolean> {
    const served = await this.servedModels(deadline);
    return served.size > (served.has(model) ? 1 : 0);
  }

  /**
   * The admission for the model the form named (`named`; undefined: the default): an admission that
   * holds a refusal (see `admit`) is refused now when the form named no other model, and that other
   * model is admitted now when it did (refused in turn when its own queue is full).
   */
  async admitNamed(admission: Admission, named: string | undefined): Promise<Admission> {
    if (!admission.refusal) return admission;
    if (!named || named === admission.model) throw admission.refusal;
    return this.admit(named);
  }

  /**
   * The default model. With no model in the query, a form field may still name one, so the upload is
   * read even when the default model has no worker; but when no model at all has one (or is awaited),
   * nothing the body says can be served: refused before it is read, with the reason predict would give.
   */
  private async defaultUnlessNoneServed(deadline: number): Promise<string | undefined> {
    const { view, served } = await this.servedView(deadline, (s) => s.size === 0);
    const model = this.defaultIn({ served, broken: view.broken });
    if (served.size === 0) throw await this.noWorker(model ? defaultMissing(model, served, view.broken) : NO_WORKER, deadline);
    return model;
  }

  private async requireServed(model: string, deadline: number): Promise<void> {
    const { view, served } = await this.servedView(deadline, (s) => !s.has(model));
    if (!served.has(model)) throw await this.namedMissing(model, served, view.broken, deadline);
  }

  /**
   * A named model no worker holds: 404 while workers run (it is not among what they serve), but 503 when
   * none runs at all: the api cannot tell a typo from a model whose worker is not up, and a client
   * retries a 503, not a 404.
   */
  private async namedMissing(model: string, served: ReadonlyMap<string, number>, broken: ReadonlyMap<string, string>, deadline: number): Promise<AppError> {
    if (served.size === 0 && broken.size === 0) return this.noWorker(`no worker holds model "${model}" (${NO_WORKER_WHY})`, deadline);
    return unknownModel(model, served, broken);
  }

  /**
   * The worker view and what it serves or awaits; looked up again, fresher, when `stale(served)` says
   * the cached one may have missed a worker that just started, before anything is refused for it.
   */
  private async servedView(deadline: number, stale: (served: Map<string, number>) => boolean): Promise<{ view: WorkerView; served: Map<string, number> }> {
    let view = await this.workerView(deadline);
    let served = this.servedOrAwaited(view);
    if (stale(served)) {
      view = await this.workerView(deadline, FRESH_ENOUGH_MS);
      served = this.servedOrAwaited(view);
    }
    return { view, served };
  }

  /**
   * `persisted` is the upload being put in place meanwhile: a job whose image travels with it does
   * not wait for the disk; one the worker reads from UPLOAD_DIR is sent once the file is there.
   */
  async predict(upload: UploadToPredict, persisted: Promise<StoredUpload>, opts: PredictOptions): Promise<PredictOutcome> {
    const startedAt = opts.startedAt ?? performance.now();
    // Taken before the first wait: the upload lets go of its bytes once its file is written (see
    // IncomingUpload.held), which may be before the job is built (a worker view looked up in Redis).
    let held = upload.held;
    const deadline = this.deadlineFor(opts.deadlineFrom ?? opts.receivedAt);
    const { view, served } = await this.servedView(deadline, (s) => !!opts.model && !s.has(opts.model));
    const model = opts.model ?? this.defaultIn({ served, broken: view.broken });
    if (!model) throw await this.noWorker(NO_WORKER, deadline);
    if (!served.has(model)) {
      if (opts.model) throw await this.namedMissing(model, served, view.broken, deadline);
      throw await this.noWorker(defaultMissing(model, served, view.broken), deadline);
    }
    const span = (this.config.tracing ?? noTracing).startSpan('queue job', {
      kind: 'producer',
      parent: opts.span ?? undefined,
      attributes: { 'job.id': opts.jobId, model },
    });
    try {
      // Keyed by the versions of the same view that said the model is served.
      const cache = this.config.resultCache ? cacheFields(upload.md5, model, opts.topK, view.versions) : {};
      const imageData = await this.imageData(upload.bytes, held, persisted, model);
      // Not held for the wait: a job that carries them has them; otherwise the file has them.
      held = undefined;
      // From here the job counts in the queue itself.
      opts.admission?.release();
      const result = await this.producer.submit({
        id: opts.jobId,
        image: upload.name,
        imageData,
        ...(imageData && this.config.imageTransport === 'path' ? { sharedFile: true } : {}),
        model,
        ...(decodedBytes(upload.image) > HEAVY_IMAGE_BYTES ? { heavy: true } : {}),
        deadline,
        enqueuedAt: Date.now(),
        topK: opts.topK,
        ...cache,
        requestId: opts.requestId,
        traceparent: span.traceparent,
      }).catch(async (err: unknown) => {
        throw await this.whyUnanswered(err, model);
      });
      return { result, totalMs: elapsedMs(startedAt) };
    } catch (err) {
      span.fail((err as Error).message);
      throw err;
    } finally {
      span.end();
    }
  }

  /**
   * A job that timed out, when the reason can be named rather than suggesting a slow model: no worker
   * holds the model now (its last one died or stopped, maybe after taking the job, and none came back;
   * or one came back without it), or the queue itself does not answer now, so the job or its answer
   * could not get through. Looked up once the deadline has passed, so it costs nothing on the way.
   */
  private async whyUnanswered(err: unknown, model: string): Promise<unknown> {
    if (!isAppError(err) || err.code !== 'DEADLINE_EXCEEDED') return err;
    let view: WorkerView;
    try {
      view = await this.workerView(Date.now() + FRESH_ENOUGH_MS, FRESH_ENOUGH_MS);
    } catch (lookupErr) {
      if (!isAppError(lookupErr)) throw lookupErr;
      return new AppError('DEADLINE_EXCEEDED', `${lookupErr.detail ?? lookupErr.message}, so the job or its answer could not get through; try again in a moment`, { cause: err });
    }
    if (view.served.has(model)) return err;
    const failed = view.broken.get(model);
    if (failed) return new AppError('DEADLINE_EXCEEDED', `no worker took the job: the worker that came back could not load model "${model}": ${failed}`);
    return new AppError(
      'DEADLINE_EXCEEDED',
      `no worker took the job: model "${model}" has had no live worker since its last one stopped, and none came back within the deadline (its requests are queued for a restarted worker for WORKER_RESTART_GRACE_MS)`,
    );
  }

  /** The largest upload that travels inside a job for `model` now. */
  private inlineBound(model: string): number {
    const { inlineImageBytes, inlineLoneImageBytes = 0 } = this.config;
    return inlineLoneImageBytes > inlineImageBytes && this.producer.lone?.(model) ? inlineLoneImageBytes : inlineImageBytes;
  }

  /** The bytes to send inside the job, or undefined once the worker can read the stored file. */
  private async imageData(bytes: number, held: HeldBytes | undefined, persisted: Promise<StoredUpload>, model: string): Promise<Buffer | undefined> {
    if (this.config.imageTransport === 'bytes') return held?.buffer ?? readFile((await persisted).path);
    if (held && bytes <= this.inlineBound(model)) return held.buffer;
    await persisted;
    return undefined;
  }
}
