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
    // RFC 9112 §3.2: two Host headers, or one that is not a host, are refused (Node keeps the first of two;
    // a proxy in front may have read the other).
    const raw = request.raw.rawHeaders;
    let hosts = 0;
    for (let i = 0; i < raw.length; i += 2) if (raw[i]!.length === 4 && raw[i]!.toLowerCase() === 'host') hosts++;
    if (hosts > 1) throw new AppError('BAD_REQUEST', 'a request must have one Host header, not several');
    if (request.headers.host !== undefined && /[\s,]/.test(request.headers.host)) throw new AppError('BAD_REQUEST', 'the Host header must name one host (and port)');
  });
}
