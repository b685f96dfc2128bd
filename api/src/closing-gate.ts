/**
 * Refusals while the api closes. Once the listener closes (after the drain period), a request that
 * still arrives on a kept-alive connection gets 503 NOT_READY from the error table, with Retry-After
 * and `Connection: close`, instead of the framework's own bare 503.
 */
import type { FastifyInstance } from 'fastify';
import { AppError } from '@icls/lib/errors';

export function refuseWhileClosing(app: FastifyInstance): void {
  let closing = false;
  app.addHook('preClose', async () => {
    closing = true;
  });
  app.addHook('onRequest', async (_request, reply) => {
    if (!closing) return;
    reply.header('connection', 'close');
    throw new AppError('NOT_READY', 'the api is shutting down', { retryAfterS: 1 });
  });
}
