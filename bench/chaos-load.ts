/**
 * The chaos run's clients: `concurrency` loops, each sending its next POST /v1/predict when the last
 * is answered, and optionally arrivals at a fixed rate that wait for nothing, until `requests` were sent. A share of them carries a corrupt image. Every request is
 * recorded with what it got and when, for the report to judge.
 */
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { Rng } from '@icls/lib/seeded-random';
import { DistinctUploads } from './distinct-upload.ts';
import { multipartBody, type HttpClient, type MultipartBody } from './http-client.ts';
import { FIXTURE_IMAGES, type BenchImage } from './images.ts';

export interface ChaosSample {
  /** Order of sending. */
  i: number;
  kind: 'good' | 'corrupt';
  /** Epoch ms when it was sent. */
  sentAt: number;
  ms: number;
  /** 0: no HTTP answer (see `error`). */
  status: number;
  code?: string;
  worker?: string;
  retryAfter?: number;
  error?: string;
}

/** The broken fixtures: one the api refuses by its bytes (415), one only a worker finds damaged (400). */
export async function corruptUploads(): Promise<MultipartBody[]> {
  return Promise.all(
    ['corrupt.jpg', 'truncated.jpg'].map(async (name) =>
      multipartBody({}, { field: 'file', filename: name, contentType: 'image/jpeg', data: await readFile(join(FIXTURE_IMAGES, name)) }),
    ),
  );
}

export interface LoadPlan {
  client: HttpClient;
  requests: number;
  concurrency: number;
  corruptShare: number;
  honorRetryAfter: boolean;
  images: readonly BenchImage[];
  corrupt: readonly MultipartBody[];
  rng: Rng;
  /** No answer within this is "unanswered" (the service's deadline plus a wide margin). */
  clientTimeoutMs: number;
  /** Requests per second sent besides the looping clients, each without waiting for the others (0: none). */
  arrivalsPerS: number;
  /** Told after each request is sent (the fault injector counts them). */
  onSent: (sent: number) => void;
}

/** Arrivals in flight at most: beyond it an arrival is skipped (the service is stalled; the closed loop shows it). */
const MAX_ARRIVALS_IN_FLIGHT = 64;

export async function driveLoad(plan: LoadPlan): Promise<ChaosSample[]> {
  const samples: ChaosSample[] = [];
  // Every good upload is a distinct file with the same pixels, as in the bench: the result cache would
  // otherwise answer most of them without a worker, and the faults would touch few jobs.
  const distinct = new DistinctUploads();
  let next = 0;
  const send = async (i: number): Promise<ChaosSample> => {
    const corrupt = plan.rng() < plan.corruptShare;
    const img = corrupt ? undefined : plan.images[Math.floor(plan.rng() * plan.images.length)]!;
    const upload = img ? img.upload : plan.corrupt[i % plan.corrupt.length]!;
    const body = img ? distinct.multipart(img) : upload.body;
    const sentAt = Date.now();
    plan.onSent(i + 1);
    const r = await plan.client.request('POST', '/v1/predict', {
      body,
      headers: { 'content-type': upload.contentType },
      timeoutMs: plan.clientTimeoutMs,
    });
    const sample: ChaosSample = { i, kind: corrupt ? 'corrupt' : 'good', sentAt, ms: Date.now() - sentAt, status: r.status, error: r.error };
    try {
      const body = JSON.parse(r.body) as { error?: { code?: string }; worker?: string };
      sample.code = body.error?.code;
      sample.worker = body.worker;
    } catch {
      // not JSON (no answer, or a proxy's page): the status says enough
    }
    const retryAfter = Number(r.headers['retry-after']);
    if (Number.isFinite(retryAfter) && retryAfter > 0) sample.retryAfter = retryAfter;
    samples.push(sample);
    return sample;
  };
  const client = async () => {
    while (next < plan.requests) {
      const sample = await send(next++);
      if (plan.honorRetryAfter && sample.status === 503 && sample.retryAfter) await new Promise((res) => setTimeout(res, sample.retryAfter! * 1000));
    }
  };
  // New users arriving whatever the others wait for: while every looping client waits on a stalled
  // job, nothing else reaches the service, and what it answers a newcomer then goes unseen.
  const arrivals = async () => {
    const inFlight = new Set<Promise<unknown>>();
    const gapMs = 1000 / plan.arrivalsPerS;
    while (next < plan.requests) {
      if (inFlight.size < MAX_ARRIVALS_IN_FLIGHT) {
        const sending = send(next++).finally(() => inFlight.delete(sending));
        inFlight.add(sending);
      }
      await new Promise((res) => setTimeout(res, gapMs));
    }
    await Promise.all(inFlight);
  };
  await Promise.all([...Array.from({ length: plan.concurrency }, client), ...(plan.arrivalsPerS > 0 ? [arrivals()] : [])]);
  return samples.sort((a, b) => a.i - b.i);
}
