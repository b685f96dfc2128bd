/**
 * A routed request that Node's HTTP parser cut (the whole request not in within REQUEST_RECEIVE_TIMEOUT_MS)
 * is answered on the raw socket (client-errors.ts), so its response closes unsent: what the client was
 * told is kept here for the request's own count and span, which would otherwise call it a client that
 * left (499) beside the parser's count of the same request.
 */
import type { ServerResponse } from 'node:http';

export interface SocketAnswer {
  status: number;
  code: string;
}

const answers = new WeakMap<ServerResponse, SocketAnswer>();

export const answeredOnSocket = (res: ServerResponse, answer: SocketAnswer): void => void answers.set(res, answer);

/** What a response that closed unsent was answered on its socket, if it was. */
export const socketAnswerOf = (res: ServerResponse): SocketAnswer | undefined => answers.get(res);
