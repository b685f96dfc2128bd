/** `POST /feedback` (the original's form field `report`), `GET /feedback`, the review page, and `/v1/feedback`. */
import { Type } from '@sinclair/typebox';
import type { FastifyInstance, FastifyRequest } from 'fastify';
import { AppError } from '@icls/lib/errors';
import type { ApiDeps } from '../app.ts';
import { readingBody } from '../http/body-guard.ts';
import { adminGuard } from '../security/admin-guard.ts';
import { sameOriginOnly } from '../security/same-origin.ts';
import { renderFeedbackReview, renderPage } from '../views/page.ts';
import { FEEDBACK_LIMIT } from './request-params.ts';
import { ErrorBody } from './schemas.ts';

/** Reports the review page shows. */
const REVIEW_REPORTS = 200;

async function reportField(request: FastifyRequest): Promise<string | undefined> {
  if (request.isMultipart()) {
    for await (const part of request.parts()) {
      if (part.type === 'file') part.file.resume();
      else if (part.fieldname === 'report' && typeof part.value === 'string') {
        if (part.valueTruncated) throw new AppError('REPORT_TOO_LONG');
        return part.value;
      }
    }
    return undefined;
  }
  const body = request.body as Record<string, unknown> | undefined;
  return typeof body?.report === 'string' ? body.report : undefined;
}

export async function feedbackRoutes(app: FastifyInstance, deps: ApiDeps, adminToken: string | undefined): Promise<void> {
  const html = (saved: boolean) => renderPage({ feedbackSaved: saved });
  const admin = adminGuard(adminToken);

  app.get('/feedback', { schema: { hide: true } }, async (_request, reply) => reply.type('text/html; charset=utf-8').send(html(false)));

  app.post('/feedback', { schema: { hide: true }, config: { errorStyle: 'page' }, onRequest: sameOriginOnly }, async (request, reply) => {
    const report = await readingBody(request, () => reportField(request));
    if (report !== undefined && report !== '') await deps.feedback.append(report);
    return reply.type('text/html; charset=utf-8').send(html(report !== undefined && report !== ''));
  });

  app.get('/feedback/review', { schema: { hide: true }, config: { errorStyle: 'page' }, onRequest: admin }, async (_request, reply) =>
    reply.type('text/html; charset=utf-8').send(renderFeedbackReview(await deps.feedback.recent(REVIEW_REPORTS))),
  );

  app.post<{ Body: { report: string } }>(
    '/v1/feedback',
    {
      schema: {
        summary: 'Report a wrong prediction (stored as one line of the feedback file, at most 4096 bytes as stored)',
        body: Type.Object({ report: Type.String({ minLength: 1 }) }),
        response: { 201: Type.Object({ success: Type.Literal(true), stored: Type.String() }), '4xx': ErrorBody },
      },
    },
    async (request, reply) => reply.status(201).send({ success: true, stored: await deps.feedback.append(request.body.report) }),
  );

  app.get<{ Querystring: { limit?: number } }>(
    '/v1/feedback',
    {
      schema: {
        summary: 'The latest reports, newest first (admin: ADMIN_TOKEN, or a client on this host)',
        querystring: Type.Object({
          limit: Type.Optional(Type.Integer({ minimum: FEEDBACK_LIMIT.min, maximum: FEEDBACK_LIMIT.max, default: FEEDBACK_LIMIT.default })),
        }),
        response: { 200: Type.Object({ reports: Type.Array(Type.String()) }), '4xx': ErrorBody },
      },
      onRequest: admin,
    },
    async (request) => ({ reports: await deps.feedback.recent(request.query.limit ?? FEEDBACK_LIMIT.default) }),
  );
}
