/**
 * Kept-alive connections wait up to 72 s for their next request (Fastify's keepAliveTimeout, longer than
 * the 60 s load balancers keep theirs, so the api never closes one a balancer is about to reuse). But
 * each counts against MAX_CONNECTIONS: one request on each of 1024 connections, then silence, and every
 * other client was refused for 72 s. So once the open connections come near the bound, the idle ones
 * (a request answered, none begun since) are closed to make room. A connection that has not sent its
 * first request yet is not touched: HEADERS_TIMEOUT_MS bounds those.
 */
import type { Server } from 'node:http';
import type { Socket } from 'node:net';

/** Reclaiming starts at this share of MAX_CONNECTIONS open. */
const PRESSURE_SHARE = 7 / 8;

export function reclaimIdleConnections(server: Server, maxConnections: number, onReclaimed: (count: number) => void = () => undefined): void {
  const threshold = Math.max(1, Math.floor(maxConnections * PRESSURE_SHARE));
  const idle = new Set<Socket>();
  let open = 0;
  server.on('connection', (socket: Socket) => {
    open++;
    socket.once('close', () => {
      open--;
      idle.delete(socket);
    });
    if (open < threshold || idle.size === 0) return;
    const reclaimed = idle.size;
    for (const s of idle) s.destroy();
    idle.clear();
    onReclaimed(reclaimed);
  });
  // Requests begun and not yet answered, per connection (pipelined ones are begun before the last is answered).
  const pending = new WeakMap<Socket, number>();
  server.on('request', (request, response) => {
    const socket = request.socket;
    idle.delete(socket);
    pending.set(socket, (pending.get(socket) ?? 0) + 1);
    response.once('close', () => {
      const left = (pending.get(socket) ?? 1) - 1;
      pending.set(socket, left);
      if (left === 0 && !socket.destroyed && response.shouldKeepAlive) idle.add(socket);
    });
  });
}
