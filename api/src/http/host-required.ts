/**
 * An HTTP/1.1 request without a Host header is refused in the error table's words. Node refuses it
 * itself by default, before any hook runs, with a bare 400 and no body; the server is made with
 * `requireHostHeader: false` so the refusal comes from here, as every other one does.
 */
import type { FastifyInstance } from 'fastify';
import { AppError } from '@icls/lib/errors';

export function requireHost(app: FastifyInstance): void {
  app.addHook('onRequest', async (request) => {
    if (request.raw.httpVersion === '1.1' && !request.headers.host) {
      throw new AppError('BAD_REQUEST', 'an HTTP/1.1 request must have a Host header');
    }
  });
}
