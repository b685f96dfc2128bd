/** `POST /feedback` (the original's form field `report`), `GET /feedback`, and the review page. */
import { Type } from '@sinclair/typebox';
import type { FastifyInstance, FastifyRequest } from 'fastify';
import type { ApiDeps } from '../app.ts';
import { renderFeedbackReview, renderPage } from '../views/page.ts';
import { ErrorBody } from './schemas.ts';

async function reportField(request: FastifyRequest): Promise<string | undefined> {
  if (request.isMultipart()) {
    for await (const part of request.parts()) {
      if (part.type === 'file') part.file.resume();
      else if (part.fieldname === 'report' && typeof part.value === 'string') return part.value;
    }
    return undefined;
  }
  const body = request.body as Record<string, unknown> | undefined;
  return typeof body?.report === 'string' ? body.report : undefined;
}

export async function feedbackRoutes(app: FastifyInstance, deps: ApiDeps): Promise<void> {
  const html = (saved: boolean) => renderPage({ feedbackSaved: saved });

  app.get('/feedback', { schema: { hide: true } }, async (_request, reply) => reply.type('text/html; charset=utf-8').send(html(false)));

  app.post('/feedback', { schema: { hide: true } }, async (request, reply) => {
    const report = await reportField(request);
    if (report !== undefined && report !== '') await deps.feedback.append(report);
    return reply.type('text/html; charset=utf-8').send(html(report !== undefined && report !== ''));
  });

  app.get('/feedback/review', { schema: { hide: true } }, async (_request, reply) =>
    reply.type('text/html; charset=utf-8').send(renderFeedbackReview(await deps.feedback.recent(200))),
  );

  app.post<{ Body: { report: string } }>(
    '/v1/feedback',
    {
      schema: {
        summary: 'Report a wrong prediction (stored as one line of the feedback file)',
        body: Type.Object({ report: Type.String({ minLength: 1, maxLength: 4096 }) }),
        response: { 201: Type.Object({ success: Type.Literal(true), stored: Type.String() }), '4xx': ErrorBody },
      },
    },
    async (request, reply) => reply.status(201).send({ success: true, stored: await deps.feedback.append(request.body.report) }),
  );

  app.get<{ Querystring: { limit?: number } }>(
    '/v1/feedback',
    {
      schema: {
        summary: 'The latest reports, newest first',
        querystring: Type.Object({ limit: Type.Optional(Type.Integer({ minimum: 1, maximum: 10000, default: 100 })) }),
        response: { 200: Type.Object({ reports: Type.Array(Type.String()) }) },
      },
    },
    async (request) => ({ reports: await deps.feedback.recent(request.query.limit ?? 100) }),
  );
}
