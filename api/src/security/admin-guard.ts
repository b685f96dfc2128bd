/**
 * The admin surface (review page, reading feedback, metrics) is kept apart from the public one, as
 * Triton and TorchServe keep management and metrics apart from inference; who may read it is decided
 * in @icls/lib/admin-auth, shared with the workers' metrics port.
 */
import type { FastifyRequest } from 'fastify';
import { adminCheck } from '@icls/lib/admin-auth';
import { AppError } from '@icls/lib/errors';

/** An onRequest hook for admin routes. */
export function adminGuard(token: string | undefined) {
  const check = adminCheck(token);
  return async (request: FastifyRequest): Promise<void> => {
    const refusal = check(request.headers.authorization, request.socket.remoteAddress);
    if (refusal) throw new AppError(refusal);
  };
}
