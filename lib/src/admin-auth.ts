/**
 * Who may read the admin surface (review page, reading feedback, metrics, on the api and on each
 * worker's metrics port). With ADMIN_TOKEN set, a request needs `Authorization: Bearer <token>`
 * (programs, Prometheus) or HTTP Basic with the token as password (a browser asks for it); without
 * one, only clients on this host are answered.
 */
import { createHash, timingSafeEqual } from 'node:crypto';
import type { ErrorCode } from './errors.ts';

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

/**
 * A check for admin requests: given the Authorization header and the socket's peer address (never a
 * header's word for it: only the socket cannot lie), the error code to refuse with, or undefined.
 */
export function adminCheck(token: string | undefined) {
  const expected = token === undefined ? undefined : digest(token);
  return (authorization: string | undefined, remoteAddress: string | undefined): ErrorCode | undefined => {
    if (expected === undefined) return isLoopback(remoteAddress) ? undefined : 'ADMIN_LOOPBACK_ONLY';
    const given = presentedToken(authorization);
    // Digests have equal length, so the comparison takes the same time whatever was sent.
    return given !== undefined && timingSafeEqual(digest(given), expected) ? undefined : 'ADMIN_TOKEN_REQUIRED';
  };
}

/** The WWW-Authenticate header of a 401 ADMIN_TOKEN_REQUIRED, so a browser asks for the token. */
export const ADMIN_REALM = 'Basic realm="image classifier admin", charset="UTF-8"';
