/** Liveness, readiness, and the models that live workers hold. */
import { Type } from '@sinclair/typebox';
import type { FastifyInstance } from 'fastify';
import type { ApiDeps } from '../app.ts';

const Models = Type.Object({
  default: Type.Union([Type.String(), Type.Null()]),
  models: Type.Array(Type.Object({ name: Type.String(), workers: Type.Integer() })),
});

export async function healthRoutes(app: FastifyInstance, deps: ApiDeps): Promise<void> {
  app.get('/healthz', { schema: { summary: 'Liveness: the process answers', response: { 200: Type.Object({ status: Type.Literal('ok') }) } } }, async () => ({
    status: 'ok' as const,
  }));

  app.get(
    '/readyz',
    {
      schema: {
        summary: 'Readiness: the queue answers and a worker holds the default model',
        response: {
          200: Type.Object({ status: Type.String(), queue: Type.Boolean(), defaultModel: Type.Union([Type.String(), Type.Null()]), workers: Type.Integer() }),
          503: Type.Object({ status: Type.String(), queue: Type.Boolean(), defaultModel: Type.Union([Type.String(), Type.Null()]), workers: Type.Integer(), reason: Type.String() }),
        },
      },
    },
    async (_request, reply) => {
      const queue = !deps.shuttingDown() && (await deps.producer.ping());
      const served = queue ? await deps.producer.servedModels().catch(() => new Map<string, number>()) : new Map<string, number>();
      const defaultModel = (await deps.predictor.defaultModel().catch(() => undefined)) ?? null;
      const workers = defaultModel ? (served.get(defaultModel) ?? 0) : 0;
      const body = { status: 'ready', queue, defaultModel, workers };
      if (deps.shuttingDown()) return reply.status(503).send({ ...body, status: 'not ready', reason: 'shutting down' });
      if (!queue) return reply.status(503).send({ ...body, status: 'not ready', reason: 'the queue (Redis) does not answer' });
      if (!workers) return reply.status(503).send({ ...body, status: 'not ready', reason: 'no worker holds the default model yet' });
      return body;
    },
  );

  app.get('/v1/models', { schema: { summary: 'Models held by live workers', response: { 200: Models } } }, async () => {
    const served = await deps.predictor.servedModels();
    return {
      default: (await deps.predictor.defaultModel()) ?? null,
      models: [...served].sort(([a], [b]) => a.localeCompare(b)).map(([name, workers]) => ({ name, workers })),
    };
  });
}
