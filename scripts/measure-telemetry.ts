/**
 * What metrics and tracing cost per request, in CPU time of the process that records them:
 * - the api's bookkeeping of one answered request (counter, histogram, refusals);
 * - a worker's bookkeeping of one job (counts and stage histograms), with tracing off and on (spans
 *   made and batched for a local OTLP receiver that answers at once);
 * - one scrape of a worker's registry (text exposition), and the api's with a cached queue read.
 * Each is timed over many repetitions (median of 7 runs); the numbers are per call.
 *
 *   node --conditions=source --import tsx scripts/measure-telemetry.ts
 */
import { createServer } from 'node:http';
import { JobTelemetry } from '@icls/model/telemetry/job-telemetry';
import { WorkerMetrics } from '@icls/model/telemetry/worker-metrics';
import type { JobData, JobResult } from '@icls/lib/job-contract';
import { createLogger } from '@icls/lib/logger';
import { createRegistry, exposition } from '@icls/lib/metrics/prometheus';
import { createTracing, noTracing, type Tracing } from '@icls/lib/tracing/tracing';
import { ApiMetrics } from '@icls/api/metrics/api-metrics';
import { MemoryBudget } from '@icls/api/upload/memory-budget';

const RUNS = 7;

async function perCall(label: string, calls: number, run: () => unknown): Promise<void> {
  const samples: number[] = [];
  for (let r = 0; r < RUNS; r++) {
    const t0 = process.cpuUsage();
    for (let i = 0; i < calls; i++) await run();
    const used = process.cpuUsage(t0);
    samples.push(((used.user + used.system) / calls) * 1000); // ns per call
  }
  samples.sort((a, b) => a - b);
  const median = samples[Math.floor(RUNS / 2)]!;
  console.log(`${label.padEnd(62)} ${(median / 1000).toFixed(2).padStart(8)} µs CPU per call (runs ${(samples[0]! / 1000).toFixed(2)}–${(samples.at(-1)! / 1000).toFixed(2)})`);
}

const job = (i: number): JobData => ({ id: `job-${i}`, image: 'x.png', model: 'm', deadline: Date.now() + 10_000, enqueuedAt: Date.now() - 2, topK: 5, requestId: `req-${i}`, traceparent: `00-${'1'.repeat(32)}-${'2'.repeat(16)}-01` });
const result = (id: string): JobResult => ({ id, model: 'm', modelVersion: '1', predictions: [], timings: { queueMs: 1, preprocessMs: 1, inferenceMs: 1 }, worker: 'w' });

async function jobTelemetry(tracing: Tracing) {
  const registry = createRegistry();
  const metrics = new WorkerMetrics(registry);
  metrics.modelLoaded('m', 0.1);
  const telemetry = new JobTelemetry(metrics, tracing, 'worker-1', ['m']);
  const handler = telemetry.wrap(async (j) => {
    const t = performance.now();
    telemetry.stagesDone(j, { start: t, decoded: t + 1, preprocessed: t + 2, inferred: t + 3 });
    return result(j.id);
  });
  const bare = async (j: JobData) => result(j.id);
  return { handler, bare, registry };
}

async function main(): Promise<void> {
  const sink = createServer((req, res) => req.resume().on('end', () => res.end('{}')));
  await new Promise<void>((resolve) => sink.listen(0, '127.0.0.1', resolve));
  const endpoint = `http://127.0.0.1:${(sink.address() as { port: number }).port}`;

  const apiRegistry = createRegistry();
  const api = new ApiMetrics(apiRegistry, new MemoryBudget(64 << 20));
  const routes = ['/predict', '/v1/predict', '/', '/healthz'];
  let n = 0;
  await perCall('api: one answered request (counters + latency histogram)', 100_000, () => {
    n++;
    api.answered({ method: 'POST', route: routes[n % 4]!, status: n % 10 ? 200 : 503, errorCode: n % 10 ? undefined : 'QUEUE_FULL' }, 0.012);
  });

  const off = await jobTelemetry(noTracing);
  let j = 0;
  await perCall('worker: a trivial job handler, nothing recorded (baseline)', 50_000, () => off.bare(job(j++)));
  await perCall('worker: the same, with job metrics, tracing off', 50_000, () => off.handler(job(j++)));
  const tracing = await createTracing({ OTEL_EXPORTER_OTLP_ENDPOINT: endpoint, OTEL_SERVICE_NAME: 'measure', OTEL_TRACES_SAMPLER_ARG: 1 }, 'measure', createLogger('warn', 'measure'));
  const on = await jobTelemetry(tracing);
  // Fewer calls: 4 spans per job, and the batch exporter drops what it cannot queue (2,048 spans).
  await perCall('worker: the same, with job metrics and 4 spans (tracing on)', 400, () => on.handler(job(j++)));
  await tracing.shutdown();

  await perCall('scrape: a worker\'s registry as text (process metrics included)', 200, () => exposition(off.registry));
  await perCall('scrape: the api\'s registry as text (4 routes, no queue reads)', 200, () => exposition(apiRegistry));
  sink.close();
}

main().catch((err: unknown) => {
  console.error(err);
  process.exit(1);
});
