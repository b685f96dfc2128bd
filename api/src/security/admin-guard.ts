/**
 * The admin surface (review page, reading feedback, metrics) is kept apart from the public one, as
 * Triton and TorchServe keep management and metrics apart from inference. With ADMIN_TOKEN set, a
 * request needs `Authorization: Bearer <token>` (programs, Prometheus) or HTTP Basic with the token
 * as password (a browser asks for it); without one, only clients on this host are answered.
 */
import { createHash, timingSafeEqual } from 'node:crypto';
import type { FastifyRequest } from 'fastify';
import { AppError } from '@icls/lib/errors';

const digest = (s: string) => createHash('sha256').update(s).digest();

/** The token a request carries, from a Bearer or a Basic (any user, token as password) header. */
function presentedToken(header: string | undefined): string | undefined {
  if (!header) return undefined;
  const [scheme, value = ''] = header.split(/\s+/, 2);
  if (/^bearer$/i.test(scheme!)) return value;
  if (!/^basic$/i.test(scheme!)) return undefined;
  const decoded = Buffer.from(value, 'base64').toString('utf8');
  const colon = decoded.indexOf(':');
  return colon < 0 ? undefined : decoded.slice(colon + 1);
}

export function isLoopback(address: string | undefined): boolean {
  if (!address) return false;
  return address === '::1' || /^(::ffff:)?127\./.test(address);
}

/** An onRequest hook for admin routes. */
export function adminGuard(token: string | undefined) {
  const expected = token === undefined ? undefined : digest(token);
  return async (request: FastifyRequest): Promise<void> => {
    if (expected === undefined) {
      // Not request.ip: that could be a header's word if a proxy were trusted; the socket cannot lie.
      if (!isLoopback(request.socket.remoteAddress)) throw new AppError('ADMIN_LOOPBACK_ONLY');
      return;
    }
    const given = presentedToken(request.headers.authorization);
    // Digests have equal length, so the comparison takes the same time whatever was sent.
    if (given === undefined || !timingSafeEqual(digest(given), expected)) throw new AppError('ADMIN_TOKEN_REQUIRED');
  };
}
