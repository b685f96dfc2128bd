/**
 * A multipart body whose boundary is empty (`boundary=` or `boundary=""`) is refused before any route
 * reads it: the form parser took it and split the body on bare `--`, so an upload was classified and a
 * report could be stored (RFC 2046 wants 1 to 70 characters). Every multipart reader (the upload routes,
 * the report form) goes through here.
 */
import type { FastifyInstance } from 'fastify';
import { AppError } from '@icls/lib/errors';

const EMPTY_BOUNDARY = /^\s*multipart\/[^;]*;(?:.*;)?\s*boundary\s*=\s*(?:""|(?=;|$))/i;

export function refuseEmptyBoundary(app: FastifyInstance): void {
  app.addHook('onRequest', async (request) => {
    const type = request.headers['content-type'];
    if (type !== undefined && EMPTY_BOUNDARY.test(type)) throw new AppError('MALFORMED_BODY', 'its multipart boundary is empty (RFC 2046: 1 to 70 characters)');
  });
}
