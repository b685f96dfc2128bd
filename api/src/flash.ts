/**
 * Flash messages across the original's 302-to-`/` redirects, carried in a short-lived cookie.
 * The cookie holds only the message text we chose, so it needs no signing secret.
 */
import type { FastifyReply, FastifyRequest } from 'fastify';

const COOKIE = 'flash';
/** A report just stored from a result page: that page thanks the user once (see setReported). */
const REPORTED = 'reported';

/** The value of the request's cookie `name`, as sent (still encoded), or undefined. */
function cookieValue(request: FastifyRequest, name: string): string | undefined {
  const raw = (request.headers.cookie ?? '')
    .split(';')
    .map((c) => c.trim())
    .find((c) => c.startsWith(`${name}=`));
  return raw?.slice(name.length + 1);
}

export function setFlash(reply: FastifyReply, message: string): void {
  reply.header('set-cookie', `${COOKIE}=${encodeURIComponent(message)}; Path=/; HttpOnly; SameSite=Lax; Max-Age=60`);
}

/** Reads the pending messages and clears the cookie. */
export function takeFlashes(request: FastifyRequest, reply: FastifyReply): string[] {
  const raw = cookieValue(request, COOKIE);
  if (raw === undefined) return [];
  reply.header('set-cookie', `${COOKIE}=; Path=/; HttpOnly; SameSite=Lax; Max-Age=0`);
  try {
    return [decodeURIComponent(raw)];
  } catch {
    return []; // a cookie we did not write: ignore it
  }
}

/**
 * Marks the report just stored for the result of `image` by `model`, for the page the post redirects
 * to. The thanks was asked for by the address (`?reported=1`), so anyone the link was sent to was
 * thanked for a report they never made, and had no form to make one. The cookie is sent only to that
 * result's address (`image` is a stored name, `<md5>.<ext>`: nothing to escape in a path).
 */
export function setReported(reply: FastifyReply, image: string, model: string): void {
  reply.header('set-cookie', `${REPORTED}=${encodeURIComponent(model)}; Path=/result/${image}; HttpOnly; SameSite=Lax; Max-Age=60`);
}

/** Whether this browser just reported the result of `image` by `model`; the mark is used up. */
export function takeReported(request: FastifyRequest, reply: FastifyReply, image: string, model: string): boolean {
  // Another model's result of the same image keeps its mark for its own page.
  if (cookieValue(request, REPORTED) !== encodeURIComponent(model)) return false;
  reply.header('set-cookie', `${REPORTED}=; Path=/result/${image}; HttpOnly; SameSite=Lax; Max-Age=0`);
  return true;
}
