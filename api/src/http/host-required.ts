/**
 * An HTTP/1.1 request without a Host header is refused in the error table's words. Node refuses it
 * itself by default, before any hook runs, with a bare 400 and no body; the server is made with
 * `requireHostHeader: false` so the refusal comes from here, as every other one does.
 */
import type { FastifyInstance } from 'fastify';
import { AppError } from '@icls/lib/errors';

/**
 * A host name (letters, digits, `.`, `-`, `_`, `~`: what DNS, /etc/hosts and container names use), an
 * IPv4 address or a bracketed IPv6 one, and a port. Stricter than RFC 3986's reg-name, which also allows
 * quotes, `;`, `$` and more: the address is echoed into /docs' copyable shell examples, where
 * `Host: x';id;'` closed the quotes and ran a command.
 */
const HOST = /^(?:\[[0-9A-Fa-f:.]+\]|[A-Za-z0-9._~-]+)(?::[0-9]{1,5})?$/;

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
    if (request.headers.host !== undefined && !HOST.test(request.headers.host)) throw new AppError('BAD_REQUEST', 'the Host header must name one host (and port)');
  });
}
