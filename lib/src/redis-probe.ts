/**
 * Asks "does a Redis answer here?" with one PING over a raw socket, without a client library,
 * so embedded mode can decide at start-up with a short timeout and no reconnect loop.
 */
import { createConnection } from 'node:net';

export function redisAnswers(redisUrl: string, timeoutMs = 300): Promise<boolean> {
  const u = new URL(redisUrl);
  return new Promise((resolve) => {
    const socket = createConnection({ host: u.hostname || '127.0.0.1', port: u.port ? Number(u.port) : 6379 });
    const done = (ok: boolean) => {
      socket.destroy();
      resolve(ok);
    };
    socket.setTimeout(timeoutMs, () => done(false));
    socket.once('error', () => done(false));
    socket.once('connect', () => socket.write('PING\r\n'));
    // +PONG, or -NOAUTH from a Redis that wants a password: either way a Redis answered.
    socket.once('data', (d) => done(d.toString().startsWith('+PONG') || d.toString().startsWith('-NOAUTH')));
  });
}
