/**
 * The bodies an upload route reads itself. Fastify parses forms, JSON and text before a route runs,
 * within the 64 KiB every other body gets: so a photo sent with curl's `--data-binary` default type
 * (`application/x-www-form-urlencoded`) was answered 413 BODY_TOO_LARGE, which says nothing of what
 * was wrong, unless it was under 64 KiB (then 400 NO_FILE_PART). In an upload route's scope those
 * types are handed to the route unread, and the route answers NO_FILE_PART, naming the type it got,
 * whatever the size.
 */
import type { FastifyInstance } from 'fastify';

const NOT_AN_UPLOAD = ['application/x-www-form-urlencoded', 'application/json', 'text/plain'];

export function uploadBodiesOnly(scope: FastifyInstance): void {
  scope.removeContentTypeParser(NOT_AN_UPLOAD);
  scope.addContentTypeParser(NOT_AN_UPLOAD, (_request, payload, done) => done(null, payload));
}
