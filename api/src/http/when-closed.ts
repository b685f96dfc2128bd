import type { FastifyReply } from 'fastify';
import { socketAnswerOf, type SocketAnswer } from './socket-answer.ts';

/**
 * How a request's response ended: sent whole; cut by Node's HTTP parser and answered on the socket
 * (client-errors.ts), with what the client was told; or abandoned by the client (499 CLIENT_CLOSED).
 */
export type Closed =
  | { how: 'sent'; status: number; code: string | undefined }
  | ({ how: 'cut' } & SocketAnswer)
  | { how: 'abandoned'; status: 499; code: 'CLIENT_CLOSED' };

/**
 * Calls `done` once, when the response closes ('finish' first means sent whole). 'close' comes once
 * for every response, where Fastify's onResponse never runs for one that was not sent.
 */
export function whenClosed(reply: FastifyReply, done: (closed: Closed) => void): void {
  const res = reply.raw;
  let sent = false;
  res.once('finish', () => (sent = true));
  res.once('close', () => {
    if (sent) return done({ how: 'sent', status: reply.statusCode, code: reply.errorCode });
    const answer = socketAnswerOf(res);
    done(answer ? { how: 'cut', ...answer } : { how: 'abandoned', status: 499, code: 'CLIENT_CLOSED' });
  });
}
