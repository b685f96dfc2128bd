/** Liveness, readiness, and the models that live workers hold (or failed to load). */
import { Type } from '@sinclair/typebox';
import type { FastifyInstance } from 'fastify';
import { defaultMissing, LOOKUP_TIMEOUT_MS, NO_WORKER, writesRefused } from '../predict-service.ts';
import type { ApiDeps } from '../app.ts';
import { QUEUE_NO_ANSWER, queueUnusableReason } from '@icls/lib/errors';

const Models = Type.Object({
  default: Type.Union([Type.String(), Type.Null()]),
  models: Type.Array(
    Type.Object({
      name: Type.String(),
      workers: Type.Integer(),
      versions: Type.Array(Type.String(), {
        description:
          "the builds the live workers hold: the model's config version and a digest of its files (`1+3f2a9c04b1d7`); two while some workers hold files replaced since",
      }),
    }),
  ),
  broken: Type.Array(
    Type.Object({ name: Type.String(), reason: Type.String() }),
    { description: 'models some live worker was meant to serve but could not load, with the reason it gave (other workers may serve them)' },
  ),
});
const Readiness = {
  status: Type.String(),
  queue: Type.Boolean(),
  defaultModel: Type.Union([Type.String(), Type.Null()]),
  workers: Type.Integer(),
};

export async function healthRoutes(app: FastifyInstance, deps: ApiDeps): Promise<void> {
  app.get('/healthz', { schema: { summary: 'Liveness: the process answers', response: { 200: Type.Object({ status: Type.Literal('ok') }) } } }, async () => ({
    status: 'ok' as const,
  }));

  app.get(
    '/readyz',
    {
      schema: {
        summary: 'Readiness: the queue answers, a worker holds the default model, or is being restarted, and UPLOAD_DIR can be written (answers at once while Redis is away)',
        response: {
          200: Type.Object({ ...Readiness, reason: Type.Optional(Type.String({ description: 'set while no live worker holds the default model but one is awaited (WORKER_RESTART_GRACE_MS): its requests are queued meanwhile; or while FEEDBACK_DIR cannot be written: reports are refused, predictions go on' })) }),
          503: Type.Object({ ...Readiness, code: Type.Literal('NOT_READY'), reason: Type.String() }),
        },
      },
    },
    async (_request, reply) => {
      const deadline = Date.now() + LOOKUP_TIMEOUT_MS;
      // Nothing is written here while the folders' last writes went through (see WritableDir.problem).
      const storage = Promise.all([deps.writableDirs.UPLOAD_DIR.problem(), deps.writableDirs.FEEDBACK_DIR.problem()]);
      // Looked at during shutdown too: `queue` says whether Redis answers, not whether this api is leaving.
      const queue = await deps.producer.ping(deadline);
      const view = queue ? await deps.predictor.workerView(deadline).catch(() => undefined) : undefined;
      // Ready while the default model's requests can be queued: also while its restarted worker is awaited,
      // or every api replica would leave the load balancer at once over a worker restart.
      const served = view ? deps.predictor.servedOrAwaited(view) : new Map<string, number>();
      const defaultModel = deps.predictor.defaultIn({ served, broken: view?.broken ?? new Map() }) ?? null;
      const workers = defaultModel ? (served.get(defaultModel) ?? 0) : 0;
      const body = { status: 'ready', queue, defaultModel, workers };
      const notReady = (reason: string) =>
        reply.status(503).header('retry-after', '1').send({ ...body, status: 'not ready', code: 'NOT_READY' as const, reason });
      const [uploadsBroken, feedbackBroken] = await storage;
      if (deps.shuttingDown()) return notReady('shutting down');
      if (!queue) {
        const why = deps.producer.downReason?.();
        // Worded as the requests refused meanwhile are told.
        return notReady(why ? queueUnusableReason(why) : QUEUE_NO_ANSWER);
      }
      if (!view) return notReady('the queue (Redis) did not say which workers are alive');
      if (!workers) {
        // Workers' heartbeats are writes: a Redis refusing writes makes live workers look gone, and refuses the jobs too.
        let refusal: string | undefined;
        try {
          refusal = await deps.predictor.writeRefusal(deadline);
        } catch (err) {
          return notReady((err as Error).message);
        }
        if (refusal) return notReady(writesRefused(refusal));
      }
      if (!defaultModel || !served.has(defaultModel)) {
        return notReady(defaultModel ? defaultMissing(defaultModel, served, view.broken) : NO_WORKER);
      }
      // Every upload is refused while UPLOAD_DIR cannot be written: another replica may serve them.
      if (uploadsBroken) return notReady(`${uploadsBroken}: uploads are refused`);
      // Reports alone are refused: predictions go on, so the api stays in the load balancer, and says so.
      const reasons = [
        workers ? undefined : `no live worker holds the default model "${defaultModel}" right now: its requests are queued for the worker being restarted`,
        feedbackBroken && `${feedbackBroken}: reports are refused`,
      ].filter((r) => r !== undefined);
      return reasons.length ? { ...body, reason: reasons.join('; ') } : body;
    },
  );

  app.get('/v1/models', { schema: { summary: 'Models held by live workers, and models they could not load', response: { 200: Models } } }, async () => {
    const view = await deps.predictor.workerView();
    const { served, broken, versions } = view;
    return {
      default: deps.predictor.defaultIn(view) ?? null,
      models: [...served].sort(([a], [b]) => a.localeCompare(b)).map(([name, workers]) => ({ name, workers, versions: [...(versions?.get(name) ?? [])].sort() })),
      broken: [...broken].sort(([a], [b]) => a.localeCompare(b)).map(([name, reason]) => ({ name, reason })),
    };
  });
}
