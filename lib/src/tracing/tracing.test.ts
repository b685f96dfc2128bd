import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { startOtlpReceiver, type OtlpReceiver } from '../../../tests/helpers/otlp-receiver.ts';
import { createLogger } from '../logger.ts';
import { createTracing, noTracing, type Tracing } from './tracing.ts';

const config = (endpoint: string, ratio = 1) => ({ OTEL_EXPORTER_OTLP_ENDPOINT: endpoint, OTEL_SERVICE_NAME: undefined, OTEL_TRACES_SAMPLER_ARG: ratio });
const log = createLogger('silent', 'test');
const TRACE = '4bf92f3577b34da6a3ce929d0e0e4736';
const PARENT = '00f067aa0ba902b7';

describe('tracing', () => {
  let receiver: OtlpReceiver;
  let tracing: Tracing;
  before(async () => {
    receiver = await startOtlpReceiver();
    tracing = await createTracing(config(receiver.endpoint), 'icls-test', log);
  });
  after(async () => {
    await tracing.shutdown();
    await receiver.close();
  });

  it('is off, a shared no-op, without an endpoint', async () => {
    const off = await createTracing({ OTEL_EXPORTER_OTLP_ENDPOINT: undefined, OTEL_SERVICE_NAME: undefined, OTEL_TRACES_SAMPLER_ARG: 1 }, 'x', log);
    assert.equal(off, noTracing);
    assert.equal(off.startSpan('a').traceparent, undefined);
  });

  it('continues a traceparent, hands on its own, and exports the spans with their parents on shutdown', async () => {
    const server = tracing.startSpan('server', { parent: `00-${TRACE}-${PARENT}-01`, kind: 'server', attributes: { 'request.id': 'r1' } });
    assert.equal(server.traceId, TRACE);
    const [version, trace, spanId, flags] = server.traceparent!.split('-');
    assert.deepEqual([version, trace, flags], ['00', TRACE, '01']);
    // A span made after the fact in another process, from the traceparent a job carried.
    const t0 = Date.now() - 50;
    const job = tracing.startSpan('job', { parent: server.traceparent, kind: 'consumer', startMs: t0 });
    tracing.startSpan('stage', { parent: job, startMs: t0 + 10 }).end(t0 + 20);
    job.fail('IMAGE_UNREADABLE');
    job.end(t0 + 30);
    server.end();
    await tracing.shutdown();
    const byName = new Map(receiver.spans.filter((s) => s.traceId === TRACE).map((s) => [s.name, s]));
    assert.equal(byName.get('server')?.parentSpanId, PARENT);
    assert.equal(byName.get('server')?.spanId, spanId);
    assert.equal(byName.get('server')?.attributes['request.id'], 'r1');
    assert.equal(byName.get('server')?.service, 'icls-test');
    assert.equal(byName.get('job')?.parentSpanId, spanId);
    assert.equal(byName.get('stage')?.parentSpanId, byName.get('job')?.spanId);
    assert.deepEqual(byName.get('job')?.status, { code: 2, message: 'IMAGE_UNREADABLE' });
  });

  it('follows a parent that was not sampled: nothing is recorded, and the decision is handed on', async () => {
    const quiet = await createTracing(config(receiver.endpoint), 'icls-test', log);
    const span = quiet.startSpan('unsampled', { parent: `00-${'a'.repeat(32)}-${PARENT}-00` });
    assert.match(span.traceparent!, /-00$/);
    span.end();
    await quiet.shutdown();
    assert.ok(!receiver.spans.some((s) => s.name === 'unsampled'));
  });
});
