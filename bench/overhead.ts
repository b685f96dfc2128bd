/**
 * The serving layer's own cost at one client: what a request costs beyond the model's preprocess and
 * inference. Target: ≤ 2 ms. Also the HTTP floor (GET /healthz round trips), below which no request
 * can go whatever the service does.
 *
 * Caveat shown in the output: queueMs spans two processes' wall clocks (whole milliseconds), so the
 * per-request overhead (total − queue − model) is as coarse; totalMs is the api's monotonic clock (0.01
 * ms), preprocess/inference the worker's, and the client-side numbers use performance.now() throughout.
 */
import type { DistinctUploads } from './distinct-upload.ts';
import type { HttpClient } from './http-client.ts';
import type { BenchImage } from './images.ts';
import type { ProcSampler } from './proc-stats.ts';
import { sendPrediction, warmUpPass, type Sample, type ServerTimings } from './load.ts';
import { distribution, fmt, median, textTable, type Distribution } from './stats.ts';

/** GET /healthz `count` times, one at a time, after a short warm-up. */
export async function measureHealthz(client: HttpClient, count: number): Promise<Distribution> {
  const times: number[] = [];
  for (let i = 0; i < count + 20; i++) {
    const t0 = performance.now();
    const r = await client.request('GET', '/healthz', { timeoutMs: 5000 });
    const dt = performance.now() - t0;
    if (r.status !== 200) throw new Error(`GET /healthz answered ${r.status || r.error} during the HTTP floor measurement`);
    if (i >= 20) times.push(dt);
  }
  return distribution(times);
}

export interface OverheadPerImage {
  image: string;
  uploadKiB: number;
  count: number;
  totalP50: number;
  modelP50: number;
  /** Arrival → upload received and checked: the part of the overhead that grows with the file. */
  uploadP50: number;
  queueP50: number;
  overheadP50: number;
  clientExtraP50: number;
}

export interface OverheadResult {
  requests: number;
  /** CPU per request of each process during the run (contention-proof, unlike wall-clock overhead). */
  cpuPerRequestMs?: { api?: number; workers?: number; redis?: number; client: number };
  failures: number;
  healthz: Distribution;
  /** median(totalMs) − median(preprocess + inference): the headline number. */
  medianTotalMinusMedianModel: number;
  /** median over requests of (totalMs − preprocess − inference) = queue + overhead per request. */
  medianPerRequestServing: number;
  queueP50: number;
  overheadP50: number;
  /** median over requests of (client latency − preprocess − inference): the client-visible cost. */
  clientVisibleServingP50: number;
  perImage: OverheadPerImage[];
}

type Timed = Sample & { timings: ServerTimings };

/** Runs the overhead measurement: `requests` predictions at concurrency 1, after one warm-up pass. */
export async function measureOverhead(
  target: { client: HttpClient; images: readonly BenchImage[]; path: string; timeoutMs: number; distinct?: DistinctUploads },
  requests: number,
  log: (msg: string) => void,
  sampler?: ProcSampler,
): Promise<OverheadResult> {
  const healthz = await measureHealthz(target.client, Math.min(requests, 500));
  log(`HTTP floor: GET /healthz p50 ${fmt(healthz.p50, 2)} ms`);
  // Warm-up pass: first requests pay for lazy queue set-up, ORT arena growth and JIT.
  await warmUpPass(target);
  const samples: Sample[] = [];
  let next = 0;
  sampler?.start();
  // Bounded by count; each request is bounded by the client timeout.
  while (samples.length < requests) {
    samples.push(await sendPrediction(target, next++ % target.images.length));
    if (samples.length % 50 === 0) log(`overhead: ${samples.length}/${requests} requests`);
  }
  const procs = sampler?.stop();
  const timed = samples.filter((s): s is Timed => s.status === 200 && s.timings !== undefined && !s.cached);
  if (timed.length === 0) {
    const codes = [...new Set(samples.map((s) => s.error ?? String(s.status)))].join(', ');
    throw new Error(`no successful /v1/predict answer in the overhead run (${codes})`);
  }
  const model = (s: Timed) => s.timings.preprocessMs + s.timings.inferenceMs;
  const perImage = target.images.map((img, i) => {
    const mine = timed.filter((s) => s.image === i);
    return {
      image: `${img.name} ${img.width}×${img.height}`,
      uploadKiB: img.bytes.length / 1024,
      count: mine.length,
      totalP50: median(mine.map((s) => s.timings.totalMs)),
      modelP50: median(mine.map(model)),
      uploadP50: median(mine.map((s) => s.timings.uploadMs ?? NaN)),
      queueP50: median(mine.map((s) => s.timings.queueMs)),
      overheadP50: median(mine.map((s) => s.timings.overheadMs)),
      clientExtraP50: median(mine.map((s) => s.latencyMs - s.timings.totalMs)),
    };
  });
  const perRequest = (cpuSeconds: number | undefined) => (cpuSeconds === undefined ? undefined : (cpuSeconds * 1000) / samples.length);
  return {
    requests: samples.length,
    cpuPerRequestMs: procs
      ? {
          api: perRequest(procs.api?.cpuSeconds),
          workers: perRequest(procs.workersTotal?.cpuSeconds),
          redis: perRequest(procs.redis?.cpuSeconds),
          client: perRequest(procs.client.cpuSeconds)!,
        }
      : undefined,
    failures: samples.length - timed.length,
    healthz,
    medianTotalMinusMedianModel: median(timed.map((s) => s.timings.totalMs)) - median(timed.map(model)),
    medianPerRequestServing: median(timed.map((s) => s.timings.totalMs - model(s))),
    queueP50: median(timed.map((s) => s.timings.queueMs)),
    overheadP50: median(timed.map((s) => s.timings.overheadMs)),
    clientVisibleServingP50: median(timed.map((s) => s.latencyMs - model(s))),
    perImage,
  };
}

/** The overhead report for the terminal. */
export function renderOverhead(r: OverheadResult, targetMs = 2): string {
  const f = (v: number) => fmt(v, 2);
  const rows = [
    ['image', 'upload KiB', 'n', 'server total p50', 'pre+inf p50', 'total − pre+inf', 'upload p50', 'queue p50', 'overhead p50', 'client extra p50'],
    ...r.perImage.map((p) => [p.image, fmt(p.uploadKiB, 0), String(p.count), f(p.totalP50), f(p.modelP50), f(p.totalP50 - p.modelP50), f(p.uploadP50), f(p.queueP50), f(p.overheadP50), f(p.clientExtraP50)]),
  ];
  const verdict = r.medianTotalMinusMedianModel <= targetMs ? 'MET' : 'NOT MET';
  return [
    '',
    `== Serving overhead at one client (${r.requests} requests, ${r.failures} failed) ==`,
    `HTTP floor, GET /healthz round trip:            p50 ${f(r.healthz.p50)} ms, p99 ${f(r.healthz.p99)} ms`,
    `median(total) − median(preprocess + inference): ${f(r.medianTotalMinusMedianModel)} ms   (target ≤ ${targetMs} ms: ${verdict})`,
    `  per request, median(total − pre − inf):       ${f(r.medianPerRequestServing)} ms`,
    `    of which queue (api enqueue → worker start) p50 ${f(r.queueP50)} ms`,
    `    and overhead (upload, store, result return) p50 ${f(r.overheadP50)} ms`,
    `  client-visible, median(latency − pre − inf):  ${f(r.clientVisibleServingP50)} ms`,
    '  (queue is whole milliseconds, two processes\' wall clocks; server total is to 0.01 ms, client numbers performance.now())',
    ...(r.cpuPerRequestMs
      ? [
          `CPU per request (core-ms): api ${f(r.cpuPerRequestMs.api ?? NaN)}, workers ${f(r.cpuPerRequestMs.workers ?? NaN)}, ` +
            `redis ${f(r.cpuPerRequestMs.redis ?? NaN)} (shared), client ${f(r.cpuPerRequestMs.client)}`,
          '  (CPU time does not grow when other work delays a request; wall-clock overhead does)',
        ]
      : []),
    '',
    textTable(rows),
  ].join('\n');
}
