/** A request's path, its query left off: what the route checks outside Fastify's router compare. */
import type { FastifyRequest } from 'fastify';

export const requestPath = (request: Pick<FastifyRequest, 'url'>): string => request.url.split('?')[0]!;
