/**
 * The one place that turns an error into a response. Each route says how its errors look:
 * `/predict` keeps the original's three keys, the HTML pages show the page with the message (or,
 * for the upload errors the original flashed, redirect with a flash), everything else answers
 * `{success: false, error: {code, message}}`. Client errors are logged at info, refusals at warn,
 * internals at error, all sampled.
 */
import { STATUS_CODES } from 'node:http';
import type { FastifyReply, FastifyRequest } from 'fastify';
import { ADMIN_REALM } from '@icls/lib/admin-auth';
import { type AppError, type ErrorCode, ERRORS } from '@icls/lib/errors';
import { setFlash } from '../flash.ts';
import { renderErrorPage, renderPage, TO_REVIEW, type PageState } from '../views/page.ts';
import type { LogSampler } from './log-sampler.ts';
import { requestPath } from './request-path.ts';
import { toAppError } from './to-app-error.ts';

export type ErrorStyle = 'json' | 'three-keys' | 'page';

export interface RetryPage {
  /** The served models, the one the form had picked, the size limit. */
  state: PageState;
  /** The model the form named, kept in the address the browser is sent back to. */
  model?: string;
}

declare module 'fastify' {
  interface FastifyContextConfig {
    /** How this route's errors are answered (default: json). */
    errorStyle?: ErrorStyle;
  }
  interface FastifyRequest {
    /** A failed post of the upload form: what its page shows again besides the message. */
    retryPage: RetryPage | null;
    /** A failed post from the review page: the review's address it came from (its filters and page). */
    reviewBack: string | null;
  }
  interface FastifyReply {
    /** The error table's code this reply answers with (for metrics); unset on success. */
    errorCode?: ErrorCode;
  }
}

/** Errors the original answered with exactly three keys: old clients keep seeing the same body. */
const ORIGINAL_400 = new Set(['NO_FILE_PART', 'NO_FILE_SELECTED', 'EXTENSION_NOT_ALLOWED']);
/** Upload errors the original page answered with a flash and a redirect to `/`. */
const REDIRECT_CODES = new Set([...ORIGINAL_400, 'FILE_NAME_TOO_LONG', 'FILE_TOO_LARGE', 'NOT_AN_IMAGE', 'IMAGE_UNREADABLE', 'IMAGE_TOO_MANY_PIXELS']);
/** After these the connection cannot be trusted to carry another request (the body was not read to its end). */
const CLOSE_CONNECTION = new Set(['BODY_TIMEOUT', 'REQUEST_TIMEOUT', 'MALFORMED_BODY']);

/**
 * Failures of the service itself, logged at error level. Conditions we recognised (a full disk or
 * report store, a folder the workers do not share) say what and where, which is the whole story; a
 * stack trace would only bury it. Unexpected failures keep theirs, to find the bug.
 */
const KNOWN_CONDITIONS = new Set<ErrorCode>(['STORAGE_FULL', 'FEEDBACK_FULL', 'UPLOAD_NOT_SHARED']);
const UNEXPECTED_FAILURES = new Set<ErrorCode>(['INTERNAL', 'PREDICTION_FAILED']);
/** Codes whose detail is for the log only. */
const TABLE_ONLY = new Set<ErrorCode>(['INTERNAL', 'UPLOAD_NOT_SHARED', 'FEEDBACK_FULL', 'PREDICTION_FAILED']);

/**
 * Codes whose detail a web visitor cannot act on: a library's words (the image decoder), or the service's
 * own settings, folders and queue (REDIS_URL in Redis' refusal, UPLOAD_DIR, a worker that cannot load its
 * model). A page shows the table's words only, and when to try again; JSON keeps the detail, for operators
 * and programs.
 */
const TABLE_WORDS_ON_PAGES = new Set<ErrorCode>(['IMAGE_UNREADABLE', 'NOT_READY', 'DEADLINE_EXCEEDED', 'STORAGE_UNWRITABLE']);
/** Of those, the ones a retry may well cure (not a folder that stays unwritable until its operator acts). */
const TRY_AGAIN_SOON = new Set<ErrorCode>(['NOT_READY', 'DEADLINE_EXCEEDED']);
/** The service refusing for now (busy, not ready, out of time or room), not the upload: worth trying again later. */
const REFUSALS = new Set<ErrorCode>(['QUEUE_FULL', 'NOT_READY', 'STORAGE_UNWRITABLE', 'DEADLINE_EXCEEDED', 'STORAGE_FULL']);
/** The upload and report forms: after a failed post, the page with its form, to try again. */
const FORM_ROUTES = new Set(['/', '/feedback']);
/**
 * The review page, its marks and exports: their error pages (a bad filter) lead back to the review, not
 * to the classifier, whose link left the reviewer to find their way back. Not when the visitor is no admin.
 */
const REVIEW_ROUTES = /^\/feedback\/(review|export\.|dataset\.)/;
const ADMIN_REFUSALS = new Set<ErrorCode>(['ADMIN_TOKEN_REQUIRED', 'ADMIN_LOOPBACK_ONLY']);
/** Paths of the APIs for programs: their errors stay JSON whatever a browser asks for. */
const API_PATH = /^\/(v1\/|predict|openapi\.json|metrics|healthz|readyz|docs\/(json|yaml))/;

/**
 * The style of a request's errors: its route's, /predict's three keys, or, for a GET of a route that
 * declares none and is not an API (an unknown path, a missing image), what its Accept header prefers
 * (`byAccept`: the answer then varies with Accept).
 */
function errorStyleOf(request: FastifyRequest): { style: ErrorStyle; byAccept: boolean } {
  const declared = request.routeOptions.config?.errorStyle ?? (isOriginalPredict(request) ? 'three-keys' : undefined);
  if (declared) return { style: declared, byAccept: false };
  if ((request.method !== 'GET' && request.method !== 'HEAD') || API_PATH.test(request.url)) return { style: 'json', byAccept: false };
  return { style: prefersHtml(request.headers.accept ?? '') ? 'page' : 'json', byAccept: true };
}

/** A browser's Accept: HTML accepted (`q` above 0) at least as much as JSON, and named first on a tie. */
function prefersHtml(accept: string): boolean {
  const ranges = accept.split(',').map((range) => {
    const [type = '', ...params] = range.split(';').map((p) => p.trim().toLowerCase());
    const q = params.find((p) => p.startsWith('q='));
    return { type, q: q === undefined ? 1 : Number(q.slice(2)) || 0 };
  });
  const html = ranges.findIndex((r) => r.type === 'text/html' && r.q > 0);
  if (html < 0) return false;
  const json = ranges.findIndex((r) => r.type === 'application/json' && r.q > 0);
  return json < 0 || ranges[html]!.q > ranges[json]!.q || (ranges[html]!.q === ranges[json]!.q && html < json);
}

export function errorHandler(sampler: LogSampler) {
  return (err: unknown, request: FastifyRequest, reply: FastifyReply): FastifyReply => {
    const clientGone = request.raw.aborted || request.raw.socket?.destroyed === true;
    const known = toAppError(err, clientGone);
    logError(sampler, request, known, err);
    return sendError(request, reply, known);
  };
}

function logError(sampler: LogSampler, request: FastifyRequest, known: AppError, original: unknown): void {
  const fields = {
    code: known.code,
    status: known.status,
    method: request.method,
    route: request.routeOptions.url ?? 'unmatched',
    requestId: request.id,
    jobId: request.jobId ?? undefined,
  };
  // A full disk or an upload folder the workers do not share is for the operator to fix: logged like a
  // failure, with what failed.
  if (KNOWN_CONDITIONS.has(known.code)) sampler.write('error', known.code, { ...fields, detail: known.detail, cause: causeOf(known) }, 'request failed');
  else if (UNEXPECTED_FAILURES.has(known.code)) sampler.write('error', known.code, { ...fields, err: original }, 'request failed');
  else if (known.status >= 500) sampler.write('warn', known.code, { ...fields, detail: known.detail }, 'request refused');
  else sampler.write('info', known.code, { ...fields, detail: known.detail }, 'client error');
}

/** The message of what the error wraps (the system call that found the disk full, with its path), if anything. */
function causeOf(err: AppError): string | undefined {
  return err.cause instanceof Error ? err.cause.message : undefined;
}

/** Sends `err` in the style of the request's route. */
export function sendError(request: FastifyRequest, reply: FastifyReply, err: AppError): FastifyReply {
  reply.errorCode = err.code;
  if (err.retryAfterS) reply.header('retry-after', String(err.retryAfterS));
  if (err.code === 'ADMIN_TOKEN_REQUIRED') reply.header('www-authenticate', ADMIN_REALM);
  // Any other body not all in is read and dropped after the answer, within a bound (refused-body.ts).
  if (CLOSE_CONNECTION.has(err.code)) reply.header('connection', 'close');
  const message = clientMessage(err);
  const { style, byAccept } = errorStyleOf(request);
  // A cache between must not hand a browser's page to a program, or a program's JSON to a browser.
  if (byAccept) {
    const prior = reply.getHeader('vary');
    reply.header('vary', prior ? `${String(prior)}, Accept` : 'Accept');
  }
  if (style === 'page') {
    const refusedForm = isRefusedFormNavigation(request, err);
    if ((REDIRECT_CODES.has(err.code) && request.method === 'POST') || refusedForm) {
      setFlash(reply, pageMessage(err, message));
      const model = request.retryPage?.model;
      return reply.redirect(model ? `/?model=${encodeURIComponent(model)}` : '/', refusedForm ? 303 : 302);
    }
    return reply.status(err.status).type(HTML).send(errorPage(request, err, message));
  }
  if (style === 'three-keys' && ORIGINAL_400.has(err.code)) return reply.status(400).send({ success: false, prediction: null, score: null });
  return reply.status(err.status).send(jsonErrorBody(err.code, message, style === 'three-keys'));
}

const HTML = 'text/html; charset=utf-8';

/** These messages come from our table only: internals (paths, settings) never reach the client. */
const clientMessage = (err: AppError): string => (TABLE_ONLY.has(err.code) ? ERRORS[err.code].message : err.message);
// The original's own checks flash the original's words on the page; programs are told what was wrong with their form.
function pageMessage(err: AppError, message: string): string {
  if (!TABLE_WORDS_ON_PAGES.has(err.code) && !ORIGINAL_400.has(err.code)) return message;
  const words = ERRORS[err.code].message;
  return TRY_AGAIN_SOON.has(err.code) ? `${words}. Try again in a few seconds.` : words;
}


/**
 * A browser's own post of the upload form (a top-level navigation: no JavaScript) that the service
 * refused: the page shown in place with its 503 was the answer to a POST, so reloading it posted the
 * form again. Sent back to the page with a flash instead, so a reload only reloads. The page's own
 * fetch and programs keep the status and the page.
 */
const isRefusedFormNavigation = (request: FastifyRequest, err: AppError): boolean =>
  REFUSALS.has(err.code) && request.method === 'POST' && request.routeOptions.url === '/' && isNavigation(request);

/**
 * `Sec-Fetch-Mode: navigate`. Browsers send the Sec-Fetch headers to https and localhost only: over plain
 * http to another host, a navigation is told by asking for HTML first (`Accept: text/html,…`), which the
 * page's own upload (XMLHttpRequest, which accepts anything) and programs such as curl (the same) do not.
 */
function isNavigation(request: FastifyRequest): boolean {
  const mode = request.headers['sec-fetch-mode'];
  return mode === undefined ? /^text\/html\b/i.test(request.headers.accept ?? '') : mode === 'navigate';
}

/**
 * `/predict` with a method no route of it answers (PUT, DELETE, OPTIONS…): Fastify routes it to the
 * not-found handler, whose 405 took the JSON style, without the three keys every `/predict` answer has.
 */
const isOriginalPredict = (request: FastifyRequest): boolean => request.is404 && requestPath(request) === '/predict';

/** A failed post shows the form again, to retry; a page that cannot be shown says so, with a way back. */
function errorPage(request: FastifyRequest, err: AppError, message: string): string {
  const shown = pageMessage(err, message);
  const form = request.method === 'POST' && FORM_ROUTES.has(request.routeOptions.url ?? '');
  if (form) return renderPage({ ...request.retryPage?.state, error: shown });
  const review = REVIEW_ROUTES.test(request.routeOptions.url ?? '') && !ADMIN_REFUSALS.has(err.code);
  return renderErrorPage(err.status, shown, review ? { ...TO_REVIEW, href: request.reviewBack ?? TO_REVIEW.href } : undefined);
}

/**
 * `err` as a whole HTTP/1.1 response, for what Node's HTTP parser refused or cut, which client-errors.ts
 * answers on the socket, outside Fastify, then closes. Before routing: JSON. A routed request (the whole
 * request not in within REQUEST_RECEIVE_TIMEOUT_MS) is answered in its route's style (the page for the
 * page's forms, three keys for /predict), with the headers its reply had gathered (the security headers).
 */
export function rawErrorResponse(err: AppError, routed?: { request: FastifyRequest; reply: FastifyReply }): string {
  const message = clientMessage(err);
  const style = routed ? errorStyleOf(routed.request).style : 'json';
  const [type, body] =
    routed && style === 'page'
      ? [HTML, errorPage(routed.request, err, message)]
      : ['application/json; charset=utf-8', JSON.stringify(jsonErrorBody(err.code, message, style === 'three-keys'))];
  const headers = { ...routed?.reply.getHeaders(), 'content-type': type, 'content-length': Buffer.byteLength(body), connection: 'close' };
  const lines = Object.entries(headers).flatMap(([name, value]) => (value === undefined ? [] : (Array.isArray(value) ? value : [value]).map((v) => `${name}: ${v}`)));
  return `HTTP/1.1 ${err.status} ${STATUS_CODES[err.status] ?? 'Error'}\r\n${lines.join('\r\n')}\r\n\r\n${body}`;
}

/** An error as JSON: `/predict`'s answers keep the original's three keys before `error`. */
function jsonErrorBody(code: ErrorCode, message: string, threeKeys: boolean) {
  return { success: false, ...(threeKeys ? { prediction: null, score: null } : {}), error: { code, message } };
}
