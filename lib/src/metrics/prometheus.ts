/**
 * The one module that imports prom-client. Every process (api, model worker, embedded) keeps one
 * registry with the default process metrics (CPU, memory, event-loop lag, GC) and its own metrics,
 * named `icls_*` in base units (seconds, bytes), counters ending in `_total`.
 */
import { collectDefaultMetrics, Counter, Gauge, Histogram, Registry } from 'prom-client';

export { Counter, Gauge, Histogram };
export type MetricsRegistry = Registry;

/** The prefix of the service's own metrics; the default process metrics keep their standard names. */
export const PREFIX = 'icls_';

/** Latency buckets (seconds) from 1 ms to 10 s (REQUEST_TIMEOUT_MS's default): every stage fits. */
export const SECONDS_BUCKETS = [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10];

/**
 * prom-client's default set has gauges named `nodejs_active_*_total`; Prometheus's linter (`promtool
 * check metrics`) refuses `_total` on anything but a counter. The same numbers stay, by type, in
 * `nodejs_active_handles`, `nodejs_active_requests` and `nodejs_active_resources`.
 */
const MISNAMED_DEFAULTS = ['nodejs_active_handles_total', 'nodejs_active_requests_total', 'nodejs_active_resources_total'];

/** A registry with the process metrics of this process. */
export function createRegistry(): MetricsRegistry {
  const registry = new Registry();
  collectDefaultMetrics({ register: registry });
  for (const name of MISNAMED_DEFAULTS) registry.removeSingleMetric(name);
  return registry;
}

/** The registry in Prometheus's text format, with its content type. */
export async function exposition(registry: MetricsRegistry): Promise<{ contentType: string; text: string }> {
  return { contentType: registry.contentType, text: await registry.metrics() };
}
