/**
 * Kept-alive connections wait up to 72 s for their next request (Fastify's keepAliveTimeout, longer than
 * the 60 s load balancers keep theirs, so the api never closes one a balancer is about to reuse). But
 * each counts against MAX_CONNECTIONS: one request on each of 1024 connections, then silence, and every
 * other client was refused for 72 s. So near the bound, idle connections (a request answered, none begun
 * since, not a byte of the next one arrived) are closed to make room: those already idle when a new
 * connection comes or one is refused, and, while the bound is near, each as soon as it turns idle.
 *
 * Connections that never begin a request held the bound too: 1024 of them, silent or sending a byte now
 * and then, refused every other client, /healthz included, until HEADERS_TIMEOUT_MS (10 s) closed them.
 * Near the bound, a connection that has not begun its first request UNSTARTED_GRACE_MS after it opened
 * is closed as well: a real client's request line and headers come within a round trip, so the one
 * kept waiting is the one holding a place.
 */
import type { Server } from 'node:http';
import type { Socket } from 'node:net';

/** Reclaiming starts at this share of MAX_CONNECTIONS open. */
const PRESSURE_SHARE = 7 / 8;
/** Near the bound, a connection with no request begun this long after it opened is closed. */
export const UNSTARTED_GRACE_MS = 2000;

export function reclaimIdleConnections(server: Server, maxConnections: number, onReclaimed: (count: number) => void = () => undefined): void {
  const threshold = Math.max(1, Math.floor(maxConnections * PRESSURE_SHARE));
  /** Idle connections, with the bytes they had sent when they turned idle (more since: a request is arriving). */
  const idle = new Map<Socket, number>();
  /** Connections with no request begun yet, and when they opened: oldest first (a Map keeps insertion order). */
  const unstarted = new Map<Socket, number>();
  let open = 0;
  const reclaim = (): void => {
    let closed = 0;
    for (const [socket, bytesRead] of idle) {
      if (socket.bytesRead !== bytesRead) continue;
      idle.delete(socket);
      socket.destroy();
      closed++;
    }
    const openedBefore = Date.now() - UNSTARTED_GRACE_MS;
    for (const [socket, openedAt] of unstarted) {
      // The rest opened later still.
      if (openedAt > openedBefore) break;
      unstarted.delete(socket);
      socket.destroy();
      closed++;
    }
    if (closed > 0) onReclaimed(closed);
  };
  server.on('connection', (socket: Socket) => {
    open++;
    unstarted.set(socket, Date.now());
    socket.once('close', () => {
      open--;
      idle.delete(socket);
      unstarted.delete(socket);
    });
    if (open >= threshold) reclaim();
  });
  // Node refuses a connection over the bound without a 'connection' event: make room for the next one.
  server.on('drop', reclaim);
  // Requests begun and not yet answered, per connection (pipelined ones are begun before the last is answered).
  const pending = new WeakMap<Socket, number>();
  server.on('request', (request, response) => {
    const socket = request.socket;
    idle.delete(socket);
    unstarted.delete(socket);
    pending.set(socket, (pending.get(socket) ?? 0) + 1);
    response.once('close', () => {
      const left = (pending.get(socket) ?? 1) - 1;
      pending.set(socket, left);
      if (left !== 0 || socket.destroyed || !response.shouldKeepAlive) return;
      if (open < threshold) {
        idle.set(socket, socket.bytesRead);
        return;
      }
      // Near the bound: no connection is kept waiting for a next request (what was written still goes out).
      socket.destroySoon();
      onReclaimed(1);
    });
  });
}
