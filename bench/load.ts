/**
 * The two load shapes of the bench.
 *
 * Closed loop: N clients, each sends its next request when the previous one answered. It finds the
 * peak throughput, but it hides queueing: when the system slows down, the clients slow down with it.
 *
 * Open loop: requests arrive on a schedule (Poisson or fixed interval) whatever is outstanding, as
 * independent users do. Latency is counted from the moment a request was DUE, not when the client
 * got round to sending it, so a stalled system (or client) cannot hide its queue ("coordinated
 * omission"). Both shapes are bounded: the sending window ends after `durationMs`, and every request
 * is destroyed by the client after `timeoutMs`.
 */
import type { DistinctUploads } from './distinct-upload.ts';
import type { RequestSender } from './http-client.ts';
import type { BenchImage } from './images.ts';
import { seededRandom } from './stats.ts';

/** The timing split /v1/predict returns. */
export interface ServerTimings {
  /** Request arrival → upload received, hashed and checked (absent on answers of older servers). */
  uploadMs?: number;
  queueMs: number;
  preprocessMs: number;
  inferenceMs: number;
  totalMs: number;
  overheadMs: number;
}

/** One request's outcome. */
export interface Sample {
  /** ms from the step start when the request was due (closed loop: when it was sent). */
  dueMs: number;
  /** How late the client sent it after it was due (client saturation shows here). */
  sendLagMs: number;
  /** Due → last byte of the answer. */
  latencyMs: number;
  /** ms from the step start when the answer was complete. */
  endMs: number;
  /** HTTP status; 0 when there was no HTTP answer. */
  status: number;
  /** Error code from the body (QUEUE_FULL, DEADLINE_EXCEEDED…) or the network error. */
  error?: string;
  retryAfter?: string;
  image: number;
  timings?: ServerTimings;
  worker?: string;
  /** The service answered from its result cache (`"cached": true`). */
  cached?: boolean;
}

export interface LoadTarget {
  client: RequestSender;
  images: readonly BenchImage[];
  /** e.g. `/v1/predict` (timings) or `/predict` (the original contract). */
  path: string;
  /** Client-side bound per request (the server's deadline plus a grace). */
  timeoutMs: number;
  /** Makes every upload a distinct file (same pixels), so the result cache never answers; unset: the same bytes each time. */
  distinct?: DistinctUploads;
  /** Polled by the loops: true ends the step early (Ctrl-C). */
  aborted?: () => boolean;
}

/** After a request got no HTTP answer at all, a closed-loop client pauses this long: a dead target must not be hammered in a hot loop. */
const NO_ANSWER_PAUSE_MS = 100;

export interface LoadRun {
  samples: Sample[];
  /** The sending window. */
  durationMs: number;
  /** Window plus the time the last answers took to arrive. */
  wallMs: number;
  /** Open loop only: arrivals not sent because `maxOutstanding` requests were already in flight. */
  droppedByClient: number;
}

/** Sends one prediction and parses what came back. */
async function predictOnce(target: LoadTarget, imageIndex: number, dueAt: number, stepStart: number): Promise<Sample> {
  const img = target.images[imageIndex]!;
  const sentAt = performance.now();
  const body = target.distinct ? target.distinct.multipart(img) : img.upload.body;
  const r = await target.client.request('POST', target.path, {
    body,
    headers: { 'content-type': img.upload.contentType },
    timeoutMs: target.timeoutMs,
  });
  const end = performance.now();
  const sample: Sample = {
    dueMs: dueAt - stepStart,
    sendLagMs: sentAt - dueAt,
    latencyMs: end - dueAt,
    endMs: end - stepStart,
    status: r.status,
    image: imageIndex,
  };
  if (r.status === 0) {
    sample.error = r.error;
    return sample;
  }
  const retryAfter = r.headers['retry-after'];
  if (typeof retryAfter === 'string') sample.retryAfter = retryAfter;
  let answer: { success?: boolean; timings?: ServerTimings; worker?: string; cached?: boolean; error?: { code?: string } };
  try {
    answer = JSON.parse(r.body) as typeof answer;
  } catch {
    sample.error = `non-JSON answer: ${r.body.slice(0, 80)}`;
    return sample;
  }
  if (r.status === 200 && answer.timings) sample.timings = answer.timings;
  if (answer.worker) sample.worker = answer.worker;
  if (answer.cached) sample.cached = true;
  if (r.status !== 200) sample.error = answer.error?.code ?? `HTTP ${r.status}`;
  else if (answer.success !== true) sample.error = 'success: false';
  return sample;
}

/** One prediction right now (image `imageIndex` of the target): for one-at-a-time measurements. */
export function sendPrediction(target: LoadTarget, imageIndex: number): Promise<Sample> {
  const now = performance.now();
  return predictOnce(target, imageIndex, now, now);
}

/**
 * Sends every image once, retrying for up to `graceMs` while the answer says "not serving this model
 * yet" (503 NOT_READY, 404 UNKNOWN_MODEL): /readyz can turn 200 a moment before the api's cached view
 * of the workers does. Any other failure throws, naming the image and the answer.
 */
export async function warmUpPass(target: LoadTarget, graceMs = 15_000): Promise<void> {
  const until = performance.now() + graceMs;
  for (let i = 0; i < target.images.length; i++) {
    for (;;) {
      const s = await sendPrediction(target, i);
      if (s.status === 200 && !s.error) break;
      const transient = (s.status === 503 && s.error === 'NOT_READY') || (s.status === 404 && s.error === 'UNKNOWN_MODEL');
      if (!transient || performance.now() > until) {
        throw new Error(`warm-up: ${target.images[i]!.name} → ${s.status || 'no answer'} ${s.error ?? ''}`.trim() + ' (the system does not classify)');
      }
      await new Promise((r) => setTimeout(r, 250));
    }
  }
}

/** Closed loop: `concurrency` clients back to back for `durationMs`. */
export async function runClosed(target: LoadTarget, opts: { concurrency: number; durationMs: number }): Promise<LoadRun> {
  const samples: Sample[] = [];
  let next = 0;
  const start = performance.now();
  const end = start + opts.durationMs;
  await Promise.all(
    Array.from({ length: opts.concurrency }, async () => {
      while (performance.now() < end && !target.aborted?.()) {
        const i = next++ % target.images.length;
        const s = await predictOnce(target, i, performance.now(), start);
        samples.push(s);
        if (s.status === 0) await new Promise((r) => setTimeout(r, NO_ANSWER_PAUSE_MS));
      }
    }),
  );
  return { samples, durationMs: opts.durationMs, wallMs: performance.now() - start, droppedByClient: 0 };
}

export interface OpenLoopOptions {
  /** Arrivals per second. */
  rate: number;
  durationMs: number;
  arrivals: 'poisson' | 'uniform';
  seed: number;
  /** Safety bound on requests in flight (memory, sockets); arrivals beyond it are counted, not sent. */
  maxOutstanding: number;
}

/** The arrival times (ms from the start) of an open-loop step: the same for a given seed and rate. */
export function arrivalSchedule(opts: Pick<OpenLoopOptions, 'rate' | 'durationMs' | 'arrivals' | 'seed'>): number[] {
  const times: number[] = [];
  const gapMs = 1000 / opts.rate;
  const random = seededRandom(opts.seed);
  let t = opts.arrivals === 'uniform' ? 0 : -Math.log(1 - random()) * gapMs;
  while (t < opts.durationMs) {
    times.push(t);
    t += opts.arrivals === 'uniform' ? gapMs : -Math.log(1 - random()) * gapMs;
  }
  return times;
}

/** Open loop: requests sent on schedule regardless of how many are still outstanding. */
export async function runOpen(target: LoadTarget, opts: OpenLoopOptions): Promise<LoadRun> {
  const schedule = arrivalSchedule(opts);
  const samples: Sample[] = [];
  const inFlight = new Set<Promise<void>>();
  let dropped = 0;
  let next = 0;
  const start = performance.now();
  for (let i = 0; i < schedule.length && !target.aborted?.(); ) {
    const now = performance.now() - start;
    // Fire everything that is due; after a late wake-up several arrivals go out together.
    while (i < schedule.length && schedule[i]! <= now) {
      const due = start + schedule[i]!;
      i++;
      if (inFlight.size >= opts.maxOutstanding) {
        dropped++;
        continue;
      }
      const p: Promise<void> = predictOnce(target, next++ % target.images.length, due, start).then((s) => {
        samples.push(s);
        inFlight.delete(p);
      });
      inFlight.add(p);
    }
    if (i < schedule.length) {
      const wait = schedule[i]! - (performance.now() - start);
      if (wait > 0) await new Promise((r) => setTimeout(r, wait));
    }
  }
  await Promise.all(inFlight);
  return { samples, durationMs: opts.durationMs, wallMs: performance.now() - start, droppedByClient: dropped };
}
