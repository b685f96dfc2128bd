/**
 * Flash messages across the original's 302-to-`/` redirects, carried in a short-lived cookie.
 * The cookie holds only the message text we chose, so it needs no signing secret.
 */
import type { FastifyReply, FastifyRequest } from 'fastify';

const COOKIE = 'flash';

export function setFlash(reply: FastifyReply, message: string): void {
  reply.header('set-cookie', `${COOKIE}=${encodeURIComponent(message)}; Path=/; HttpOnly; SameSite=Lax; Max-Age=60`);
}

/** Reads the pending messages and clears the cookie. */
export function takeFlashes(request: FastifyRequest, reply: FastifyReply): string[] {
  const header = request.headers.cookie ?? '';
  const raw = header
    .split(';')
    .map((c) => c.trim())
    .find((c) => c.startsWith(`${COOKIE}=`));
  if (!raw) return [];
  reply.header('set-cookie', `${COOKIE}=; Path=/; HttpOnly; SameSite=Lax; Max-Age=0`);
  try {
    return [decodeURIComponent(raw.slice(COOKIE.length + 1))];
  } catch {
    return []; // a cookie we did not write: ignore it
  }
}
