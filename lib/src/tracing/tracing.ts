/**
 * Tracing across the queue, as the rest of the code sees it: spans with a W3C `traceparent` that a
 * job carries from the api to the worker. Off unless OTEL_EXPORTER_OTLP_ENDPOINT is set; then the
 * OpenTelemetry SDK (otel-tracing.ts) is loaded, and only then, so a process without tracing neither
 * loads nor runs any of it: every call below is a check of `enabled` or a shared no-op.
 */
import type { Config } from '../config.ts';
import type { Logger } from '../logger.ts';

export type SpanKind = 'server' | 'producer' | 'consumer' | 'internal';
export type SpanAttributes = Record<string, string | number | boolean | undefined>;

export interface SpanOptions {
  /** The parent: a `traceparent` header value, or a span of this process. */
  parent?: string | Span;
  kind?: SpanKind;
  /** Epoch milliseconds (fractions allowed); default now. Spans of finished work are made after the fact. */
  startMs?: number;
  attributes?: SpanAttributes;
}

export interface Span {
  /** This span as a W3C `traceparent` value, to hand on (inside a job); undefined when tracing is off. */
  readonly traceparent: string | undefined;
  readonly traceId: string | undefined;
  setAttributes(attributes: SpanAttributes): void;
  /** Marks the span failed, with a message for whoever reads the trace. */
  fail(message: string): void;
  /** `endMs`: epoch milliseconds; default now. */
  end(endMs?: number): void;
}

export interface Tracing {
  readonly enabled: boolean;
  startSpan(name: string, opts?: SpanOptions): Span;
  /** Sends what is buffered, within `timeoutMs`; then nothing more is sent. */
  shutdown(timeoutMs?: number): Promise<void>;
}

const NO_SPAN: Span = {
  traceparent: undefined,
  traceId: undefined,
  setAttributes: () => undefined,
  fail: () => undefined,
  end: () => undefined,
};

export const noTracing: Tracing = {
  enabled: false,
  startSpan: () => NO_SPAN,
  shutdown: async () => undefined,
};

export type TracingConfig = Pick<Config, 'OTEL_EXPORTER_OTLP_ENDPOINT' | 'OTEL_SERVICE_NAME' | 'OTEL_TRACES_SAMPLER_ARG'>;

/**
 * Tracing for this process: off (no-op) without an endpoint. `service`: the default service name;
 * `log`: where failed exports are reported.
 */
export async function createTracing(config: TracingConfig, service: string, log: Logger): Promise<Tracing> {
  const endpoint = config.OTEL_EXPORTER_OTLP_ENDPOINT;
  if (!endpoint) return noTracing;
  const { otelTracing } = await import('./otel-tracing.ts');
  return otelTracing({ endpoint, serviceName: config.OTEL_SERVICE_NAME ?? service, sampleRatio: config.OTEL_TRACES_SAMPLER_ARG, log });
}
