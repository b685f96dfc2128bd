/**
 * The one module that imports OpenTelemetry: a tracer provider that batches spans and sends them
 * over OTLP/HTTP (JSON) to `<endpoint>/v1/traces`. Parents are passed explicitly (a `traceparent`
 * string or a span), so no global context manager is installed and nothing is patched.
 */
import {
  defaultTextMapGetter,
  diag,
  DiagLogLevel,
  defaultTextMapSetter,
  ROOT_CONTEXT,
  SpanKind as OtelKind,
  SpanStatusCode,
  trace,
  type Context,
  type Span as OtelSpan,
} from '@opentelemetry/api';
import { W3CTraceContextPropagator } from '@opentelemetry/core';
import { OTLPTraceExporter } from '@opentelemetry/exporter-trace-otlp-http';
import { resourceFromAttributes } from '@opentelemetry/resources';
import { BatchSpanProcessor, ParentBasedSampler, TraceIdRatioBasedSampler, TracerProvider } from '@opentelemetry/sdk-trace';
import type { Logger } from '../logger.ts';
import type { Span, SpanKind, SpanOptions, Tracing } from './tracing.ts';

/** Spans buffered while the collector is slow or away; more are dropped (the SDK counts them). */
const MAX_QUEUED_SPANS = 2048;
/** A batch is sent at least this often: traces show up in the collector within about a second. */
const EXPORT_EVERY_MS = 1000;
const EXPORT_TIMEOUT_MS = 10_000;

const KINDS: Record<SpanKind, OtelKind> = {
  server: OtelKind.SERVER,
  producer: OtelKind.PRODUCER,
  consumer: OtelKind.CONSUMER,
  internal: OtelKind.INTERNAL,
};

/** A span of this module: the SDK's span, and what the rest of the code reads of it. */
class SdkSpan implements Span {
  private carried?: string;

  constructor(
    readonly span: OtelSpan,
    private readonly propagator: W3CTraceContextPropagator,
  ) {}

  get traceparent(): string {
    if (this.carried === undefined) {
      const carrier: Record<string, string> = {};
      this.propagator.inject(trace.setSpan(ROOT_CONTEXT, this.span), carrier, defaultTextMapSetter);
      this.carried = carrier.traceparent ?? '';
    }
    return this.carried;
  }

  get traceId(): string {
    return this.span.spanContext().traceId;
  }

  setAttributes(attributes: Record<string, string | number | boolean | undefined>): void {
    for (const [k, v] of Object.entries(attributes)) if (v !== undefined) this.span.setAttribute(k, v);
  }

  fail(message: string): void {
    this.span.setStatus({ code: SpanStatusCode.ERROR, message });
  }

  end(endMs?: number): void {
    this.span.end(endMs);
  }
}

/**
 * The SDK reports its problems (an export the collector refused or never answered) through its
 * diagnostic logger, which is silent by default: they go to the process's log instead, one line
 * for each new message rather than one per failed batch.
 */
function reportSdkProblems(log: Logger): void {
  // The SDK's error handler hands errors over as JSON text, stack included: keep the message.
  const describe = (a: unknown): string => {
    if (a instanceof Error) return a.message;
    if (typeof a !== 'string') return JSON.stringify(a);
    if (!a.startsWith('{')) return a;
    try {
      return String((JSON.parse(a) as { message?: unknown }).message ?? a);
    } catch {
      return a; // not JSON after all: the text itself
    }
  };
  let last = '';
  const report = (message: string, ...args: unknown[]) => {
    const text = [message, ...args].map(describe).join(' ');
    if (text === last) return;
    last = text;
    log.warn({ otel: text.slice(0, 500) }, 'tracing: the OpenTelemetry SDK reports a problem; spans may be lost');
  };
  const quiet = () => undefined;
  diag.setLogger({ error: report, warn: report, info: quiet, debug: quiet, verbose: quiet }, { logLevel: DiagLogLevel.WARN, suppressOverrideMessage: true });
}

export function otelTracing(opts: { endpoint: string; serviceName: string; sampleRatio: number; log: Logger }): Tracing {
  reportSdkProblems(opts.log);
  const exporter = new OTLPTraceExporter({ url: `${opts.endpoint}/v1/traces`, timeoutMillis: EXPORT_TIMEOUT_MS });
  const provider = new TracerProvider({
    resource: resourceFromAttributes({ 'service.name': opts.serviceName }),
    sampler: new ParentBasedSampler({ root: new TraceIdRatioBasedSampler(opts.sampleRatio) }),
    spanProcessors: [
      new BatchSpanProcessor({ exporter, maxQueueSize: MAX_QUEUED_SPANS, scheduledDelayMillis: EXPORT_EVERY_MS, exportTimeoutMillis: EXPORT_TIMEOUT_MS }),
    ],
  });
  const tracer = provider.getTracer('icls');
  const propagator = new W3CTraceContextPropagator();

  const parentContext = (parent: SpanOptions['parent']): Context => {
    if (parent instanceof SdkSpan) return trace.setSpan(ROOT_CONTEXT, parent.span);
    if (typeof parent === 'string' && parent) return propagator.extract(ROOT_CONTEXT, { traceparent: parent }, defaultTextMapGetter);
    return ROOT_CONTEXT;
  };

  let stopped: Promise<void> | undefined;
  return {
    enabled: true,
    startSpan(name, o = {}) {
      const span = tracer.startSpan(name, { kind: KINDS[o.kind ?? 'internal'], startTime: o.startMs }, parentContext(o.parent));
      const wrapped = new SdkSpan(span, propagator);
      if (o.attributes) wrapped.setAttributes(o.attributes);
      return wrapped;
    },
    shutdown(timeoutMs = 3000) {
      stopped ??= Promise.race([
        provider.shutdown(),
        new Promise<void>((resolve) => setTimeout(resolve, timeoutMs).unref()),
      ]);
      return stopped;
    },
  };
}
