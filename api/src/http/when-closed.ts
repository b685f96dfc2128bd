import type { ServerResponse } from 'node:http';

/**
 * Calls `done` once, when the response closes: sent whole ('finish' came first) or abandoned (the
 * client went away first). 'close' comes once for every response, where Fastify's onResponse never
 * runs for an abandoned one.
 */
export function whenClosed(res: ServerResponse, done: (sent: boolean) => void): void {
  let sent = false;
  res.once('finish', () => (sent = true));
  res.once('close', () => done(sent));
}
