/**
 * `POST /feedback` (the original's form field `report`, plus the result page's image, model and
 * label), `GET /feedback`, and `/v1/feedback` for programs. A report is stored once, however often
 * it is posted (double clicks, reloads): see ReportStore.
 */
import { Type } from '@sinclair/typebox';
import type { FastifyInstance, FastifyRequest } from 'fastify';
import { AppError } from '@icls/lib/errors';
import type { ApiDeps } from '../app.ts';
import { setReported } from '../flash.ts';
import type { KnownResult, ReportInput } from '../feedback/report-record.ts';
import { readingBody } from '../http/body-guard.ts';
import { resultUrl } from '../results/result-url.ts';
import { adminGuard } from '../security/admin-guard.ts';
import { sameOriginOnly } from '../security/same-origin.ts';
import { STORED_NAME } from '../upload/allowed-file.ts';
import { renderPage } from '../views/page.ts';
import { roundScore } from './classify-upload.ts';
import { emptyQueryValuesAbsent, FEEDBACK_LIMIT, MODEL_NAME_MAX, wholeNumberIn } from './request-params.ts';
import { ErrorBody } from './schemas.ts';

/** A photo attached to a report is over the body limit: the 413 says what to send instead. */
const IMAGE_NOT_SENT = 'a report names its image (-F image=<md5>.<ext>, the name /v1/predict answered), it does not carry it: the image is stored already';

const FIELDS = ['report', 'image', 'model', 'label'] as const;
type ReportFields = Partial<Record<(typeof FIELDS)[number], string>>;

/** A UTF-16 half with no other half: JSON's "\ud800" escapes can carry one; no UTF-8 file can. */
const LONE_SURROGATE = /[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/g;

/**
 * Text as it will be stored: the report files are UTF-8, where a lone surrogate becomes U+FFFD, so it is
 * made U+FFFD here, before the report's id and the answer are computed (the answer echoed "\ud800" for
 * a report stored with "\ufffd").
 */
const storable = (text: string): string => text.replace(LONE_SURROGATE, '\ufffd');

async function reportFields(request: FastifyRequest): Promise<ReportFields> {
  const fields: ReportFields = {};
  if (request.isMultipart()) {
    for await (const part of request.parts()) {
      if (part.type === 'file') {
        part.file.resume();
        // Attaching the picture as `image` (curl -F image=@photo.png) was dropped without a word.
        if (part.fieldname === 'image') throw new AppError('BAD_PARAMETER', 'the form\'s "image" is a file: send the name /v1/predict answered for it instead (-F image=<md5>.<ext>), the image is stored already');
        const field = FIELDS.find((f) => f === part.fieldname);
        if (field) throw new AppError('BAD_PARAMETER', `the form's "${field}" is a file: send it as a text field (-F "${field}=…")`);
        continue;
      }
      const name = FIELDS.find((f) => f === part.fieldname);
      if (!name || typeof part.value !== 'string') continue;
      if (part.valueTruncated) throw name === 'report' ? new AppError('REPORT_TOO_LONG') : new AppError('BAD_PARAMETER', `the form field "${name}" is too long`);
      fields[name] ??= storable(part.value);
    }
    return fields;
  }
  const body = (request.body ?? {}) as Record<string, unknown>;
  // A field sent twice (`report=a&report=b`) arrives as its first value: the form parser keeps that one (bounded-form.ts).
  // A JSON key twice arrives as its last: JSON.parse keeps that one, as JSON parsers do (the README says both).
  for (const name of FIELDS) if (typeof body[name] === 'string') fields[name] = storable(body[name]);
  return fields;
}

/**
 * A JSON body's fields are strings, made storable: the validator turns `"report": 5` or `true` into "5" and "true"
 * (it coerces types, which the query string needs) and a report of a bare number was stored. A null
 * optional field is taken as not given.
 */
function stringsOnly(body: unknown): void {
  if (typeof body !== 'object' || body === null || Array.isArray(body)) return; // the schema says what is wrong
  const fields = body as Record<string, unknown>;
  for (const name of FIELDS) {
    const value = fields[name];
    if (typeof value === 'string') fields[name] = storable(value);
    if (value === undefined || typeof value === 'string') continue;
    if (value === null && name !== 'report') {
      delete fields[name];
      continue;
    }
    const kind = value === null ? 'null' : Array.isArray(value) ? 'an array' : typeof value === 'object' ? 'an object' : `the ${typeof value} ${JSON.stringify(value)}`;
    throw new AppError('BAD_PARAMETER', `${name} must be a string${name === 'report' ? ' with some text' : ''}, got ${kind}`);
  }
}

export async function feedbackRoutes(app: FastifyInstance, deps: ApiDeps, adminToken: string | undefined): Promise<void> {
  const admin = adminGuard(adminToken);

  /** What the service itself remembers of the reported prediction: trusted over the report's text. */
  const knownResult = (image: string | undefined, model: string | undefined): KnownResult | undefined => {
    const shown = image && model ? (deps.results.get(image, model) ?? deps.answers.get(image, model)) : undefined;
    const top = shown?.predictions[0];
    return shown && top ? { prediction: top.label, score: roundScore(top.score), modelVersion: shown.modelVersion } : undefined;
  };
  /**
   * A report naming an image but no model (`model` is optional) recorded no prediction, although this api
   * had just answered it: the model is the one that answered that image here, when only one did. Its id
   * stays that of the report as sent, so a replica that remembers nothing finds the same report.
   */
  const answeringModel = (image: string | undefined): string | undefined => {
    if (!image) return undefined;
    const models = new Set([...deps.results.modelsFor(image), ...deps.answers.modelsFor(image)]);
    return models.size === 1 ? [...models][0] : undefined;
  };
  const store = (input: ReportInput) => {
    if (input.model) return deps.reports.add(input, knownResult(input.image, input.model));
    const model = answeringModel(input.image);
    const known = knownResult(input.image, model);
    return deps.reports.add(input, known && { ...known, model });
  };

  app.get('/feedback', { schema: { hide: true } }, async (_request, reply) => reply.type('text/html; charset=utf-8').send(renderPage({})));

  app.post('/feedback', { schema: { hide: true }, config: { errorStyle: 'page', tooLargeHint: IMAGE_NOT_SENT }, onRequest: sameOriginOnly }, async (request, reply) => {
    const { report, image, model, label } = await readingBody(request, () => reportFields(request));
    // As the original: without a report nothing is written, and the page answers 200.
    if (!report) return reply.type('text/html; charset=utf-8').send(renderPage({}));
    await store({ report, image, model, label });
    // From a result page: back to that result's address, which thanks the user (once: a cookie says so,
    // not the address, which anyone may be sent); a reload posts nothing.
    // Only to a result this service showed: any other image and model (a forged form, `model=../../x`)
    // led to a result page that answered 404 after the report was stored.
    if (image && STORED_NAME.test(image) && model && model.length <= MODEL_NAME_MAX && knownResult(image, model)) {
      setReported(reply, image, model);
      return reply.redirect(`${resultUrl(image, model)}#report-saved`, 303);
    }
    return reply.type('text/html; charset=utf-8').send(renderPage({ feedbackSaved: true }));
  });

  app.post<{ Body: ReportInput }>(
    '/v1/feedback',
    {
      schema: {
        summary: 'Report a wrong prediction (stored once as a structured record and one line of the feedback file, at most 4096 bytes as stored)',
        body: Type.Object({
          // Some text: a report of spaces only says nothing (the original's form route still stores what it gets).
          report: Type.String({ minLength: 1, pattern: '\\S', description: "the original's report text, e.g. {'filename': '<md5>.<ext>', 'prediction': '<class>', 'score': 0.93 }" }),
          // Refused when it is no stored name: it used to be dropped without a word, and the report stored without its image.
          image: Type.Optional(Type.String({ maxLength: 64, pattern: `^$|${STORED_NAME.source}`, description: 'stored upload name `<md5>.<ext>`, as /v1/predict answers it (empty: none)' })),
          model: Type.Optional(Type.String({ maxLength: MODEL_NAME_MAX })),
          label: Type.Optional(Type.String({ maxLength: 1000, description: 'what the image really shows (kept to 200 characters)' })),
        }),
        response: {
          201: Type.Object({
            success: Type.Literal(true),
            stored: Type.String({ description: 'the line as stored in the feedback file' }),
            id: Type.String(),
            duplicate: Type.Boolean({ description: 'true when the same report was stored before: nothing was written again' }),
          }),
          '4xx': ErrorBody,
        },
      },
      // An API for programs, but it parses forms too: a form on another site must not forge reports.
      onRequest: sameOriginOnly,
      config: { tooLargeHint: IMAGE_NOT_SENT },
      // A multipart form (curl -F report=…) is read into the body the schema checks; it was refused as
      // "body must be object".
      preValidation: async (request) => {
        if (request.isMultipart()) request.body = (await readingBody(request, () => reportFields(request))) as ReportInput;
        else stringsOnly(request.body);
      },
    },
    async (request, reply) => {
      const { record, created } = await store(request.body);
      return reply.status(201).send({ success: true, stored: record.report, id: record.id, duplicate: !created });
    },
  );

  app.get<{ Querystring: { limit?: number } }>(
    '/v1/feedback',
    {
      schema: {
        summary: 'The latest lines of the feedback file, newest first (admin: ADMIN_TOKEN, or a client on this host)',
        querystring: Type.Object({
          limit: Type.Optional(Type.Integer({ minimum: FEEDBACK_LIMIT.min, maximum: FEEDBACK_LIMIT.max, default: FEEDBACK_LIMIT.default })),
        }),
        response: { 200: Type.Object({ reports: Type.Array(Type.String()) }), '4xx': ErrorBody },
      },
      onRequest: admin,
      preValidation: emptyQueryValuesAbsent('limit'),
    },
    async (request) => ({ reports: await deps.feedback.recent(wholeNumberIn(request.query.limit, FEEDBACK_LIMIT, 'limit') ?? FEEDBACK_LIMIT.default) }),
  );
}
