/** `GET /metrics`: the process's registry in Prometheus's text format (admin: token or loopback). */
import type { FastifyInstance, onRequestHookHandler } from 'fastify';
import { exposition, type MetricsRegistry } from '@icls/lib/metrics/prometheus';

export function metricsRoute(app: FastifyInstance, registry: MetricsRegistry, guard: onRequestHookHandler): void {
  app.get('/metrics', { schema: { hide: true }, onRequest: guard }, async (_request, reply) => {
    const { contentType, text } = await exposition(registry);
    return reply.type(contentType).send(text);
  });
}
