/**
 * The admin side of feedback: the review page with its filters, marking reports reviewed, and the
 * exports (CSV, JSONL, a dataset archive). All behind the admin guard; the one state-changing post
 * also needs the same-origin check.
 */
import { Readable } from 'node:stream';
import { Type } from '@sinclair/typebox';
import type { FastifyInstance, FastifyReply } from 'fastify';
import type { ApiDeps } from '../app.ts';
import { allReports, recentReports, type ReportFilter, type ReviewStatus } from '../feedback/report-query.ts';
import { csvLines, datasetTar, jsonLines } from '../feedback/report-export.ts';
import { adminGuard } from '../security/admin-guard.ts';
import { sameOriginOnly } from '../security/same-origin.ts';
import { filterQuery, renderReviewPage } from '../views/review-view.ts';
import { MODEL_NAME_MAX } from './request-params.ts';

/** Cards on a page of the review. */
const REVIEW_REPORTS = 200;
/** Pages reachable: the scan of the report log stops well before (SCAN_MAX_LINES). */
const REVIEW_PAGES_MAX = 10_000;

const FilterQuery = Type.Object({
  model: Type.Optional(Type.String({ maxLength: MODEL_NAME_MAX })),
  prediction: Type.Optional(Type.String({ maxLength: 200 })),
  status: Type.Optional(Type.Union([Type.Literal('reviewed'), Type.Literal('unreviewed'), Type.Literal('')])),
});
/** The review page's query: the filter and which page of REVIEW_REPORTS cards, newest first. */
const ReviewQuery = Type.Composite([FilterQuery, Type.Object({ page: Type.Optional(Type.Integer({ minimum: 1, maximum: REVIEW_PAGES_MAX })) })]);
type FilterParams = { model?: string; prediction?: string; status?: string };

const MarkBody = Type.Object({
  id: Type.String({ maxLength: 64 }),
  reviewed: Type.Union([Type.Literal('1'), Type.Literal('0')]),
  back: Type.Optional(Type.String({ maxLength: 1000 })),
});

function toFilter(q: FilterParams): ReportFilter {
  const status = q.status === 'reviewed' || q.status === 'unreviewed' ? (q.status as ReviewStatus) : undefined;
  return { model: q.model || undefined, prediction: q.prediction || undefined, status };
}

function download(reply: FastifyReply, type: string, file: string, body: AsyncIterable<string | Buffer>): FastifyReply {
  const day = new Date().toISOString().slice(0, 10);
  const dot = file.indexOf('.');
  return reply
    .type(type)
    .header('content-disposition', `attachment; filename="${file.slice(0, dot)}-${day}${file.slice(dot)}"`)
    .header('cache-control', 'no-store')
    .send(Readable.from(body));
}

export async function reviewRoutes(app: FastifyInstance, deps: ApiDeps, adminToken: string | undefined): Promise<void> {
  const admin = adminGuard(adminToken);
  const log = deps.reports.log;

  app.get<{ Querystring: FilterParams & { page?: number } }>(
    '/feedback/review',
    { schema: { hide: true, querystring: ReviewQuery }, config: { errorStyle: 'page' }, onRequest: admin },
    async (request, reply) => {
      const filter = toFilter(request.query);
      const page = { number: request.query.page ?? 1, size: REVIEW_REPORTS };
      const list = await recentReports(log, filter, page.size, (page.number - 1) * page.size);
      // Reports may name an image this api does not hold (swept since, or on another replica's own
      // volume: names are not checked against the uploads); its card says so instead of a broken picture.
      const images = [...new Set(list.reports.flatMap((r) => (r.image ? [r.image] : [])))];
      const held = await Promise.all(images.map((image) => deps.uploads.holds(image)));
      const absent = new Set(images.filter((_, i) => !held[i]));
      return reply.type('text/html; charset=utf-8').header('cache-control', 'no-store').send(renderReviewPage(list, filter, page, absent));
    },
  );

  app.post<{ Body: { id: string; reviewed: '1' | '0'; back?: string } }>(
    '/feedback/review/mark',
    { schema: { hide: true, body: MarkBody }, config: { errorStyle: 'page' }, onRequest: [admin, sameOriginOnly] },
    async (request, reply) => {
      // Back to the same filtered view and page, rebuilt from known parameters only (never an address the
      // form named): after the mark, and from the error page when it fails.
      const back = Object.fromEntries(new URLSearchParams(request.body.back ?? '')) as FilterParams & { page?: string };
      const page = Math.min(REVIEW_PAGES_MAX, Math.max(1, Math.trunc(Number(back.page)) || 1));
      request.reviewBack = `/feedback/review${filterQuery(toFilter(back), page)}`;
      await deps.reports.setReviewed(request.body.id, request.body.reviewed === '1');
      return reply.redirect(`${request.reviewBack}#report-${request.body.id}`, 303);
    },
  );

  const exportRoute = (path: string, type: string, name: string, body: (filter: ReportFilter) => AsyncIterable<string | Buffer>) =>
    app.get<{ Querystring: FilterParams }>(path, { schema: { hide: true, querystring: FilterQuery }, onRequest: admin }, async (request, reply) =>
      download(reply, type, name, body(toFilter(request.query))),
    );
  exportRoute('/feedback/export.csv', 'text/csv; charset=utf-8', 'reports.csv', (f) => csvLines(allReports(log, f)));
  exportRoute('/feedback/export.jsonl', 'application/x-ndjson; charset=utf-8', 'reports.jsonl', (f) => jsonLines(allReports(log, f)));
  exportRoute('/feedback/dataset.tar', 'application/x-tar', 'dataset.tar', (f) => datasetTar(allReports(log, f), (image) => deps.uploads.pathOf(image)));
}
