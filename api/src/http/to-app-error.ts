/**
 * Maps whatever a request can throw (Fastify's FST_* errors, the multipart parser's, Node's HTTP
 * parser's, schema validation) onto the one error table, so every refusal has a code, a status and a
 * message a user can act on. Anything not recognised stays an internal error (500, logged).
 */
import { AppError, type ErrorCode, isAppError } from '@icls/lib/errors';
import { isNoRoom } from '@icls/lib/fs-errors';
import { describeValidation, type ValidationIssue } from '../routes/request-params.ts';
import { RAW_IMAGE_TYPES_TEXT } from '../upload/receive-upload.ts';

const BY_CODE: Record<string, ErrorCode> = {
  FST_REQ_FILE_TOO_LARGE: 'FILE_TOO_LARGE',
  FST_PARTS_LIMIT: 'TOO_MANY_PARTS',
  FST_FILES_LIMIT: 'TOO_MANY_PARTS',
  FST_FIELDS_LIMIT: 'TOO_MANY_PARTS',
  FST_PROTO_VIOLATION: 'MALFORMED_BODY',
  FST_INVALID_JSON_FIELD_ERROR: 'MALFORMED_BODY',
  FST_INVALID_MULTIPART_CONTENT_TYPE: 'NO_FILE_PART',
  FST_MP_PREMATURE_CLOSE: 'MALFORMED_BODY',
  FST_ERR_CTP_BODY_TOO_LARGE: 'BODY_TOO_LARGE',
  FST_ERR_CTP_INVALID_MEDIA_TYPE: 'UNSUPPORTED_CONTENT_TYPE',
  FST_ERR_CTP_INVALID_CONTENT_LENGTH: 'MALFORMED_BODY',
  FST_ERR_CTP_EMPTY_JSON_BODY: 'MALFORMED_BODY',
  FST_ERR_CTP_INVALID_JSON_BODY: 'MALFORMED_BODY',
  FST_ERR_BAD_URL: 'BAD_REQUEST',
  FST_ERR_MAX_PARAM_LENGTH: 'URI_TOO_LONG',
  ERR_HTTP_REQUEST_TIMEOUT: 'REQUEST_TIMEOUT',
  HPE_HEADER_OVERFLOW: 'HEADERS_TOO_LARGE',
};

/**
 * Node's parser errors about the body; every other one is about the request line or the headers. A chunk
 * longer than its declared size is HPE_STRICT "Expected LF after chunk data" (Node 20), a code also used
 * for the headers: its reason tells.
 */
const BODY_PARSER_ERRORS = new Set(['HPE_INVALID_CHUNK_SIZE', 'HPE_CHUNK_EXTENSIONS_OVERFLOW']);
const isBodyParserError = (e: FrameworkError): boolean => BODY_PARSER_ERRORS.has(e.code ?? '') || /\bchunk/i.test(e.reason ?? '');

/** What exactly was wrong, where the code alone does not say it. */
const DETAILS: Record<string, string> = {
  FST_FILES_LIMIT: 'send one file per request',
  FST_MP_PREMATURE_CLOSE: 'the form ended before its last part',
  FST_PROTO_VIOLATION: 'a form field may not be named __proto__, constructor or after another built-in property',
  FST_ERR_CTP_EMPTY_JSON_BODY: 'the body is empty, and its Content-Type says JSON',
  FST_ERR_CTP_INVALID_JSON_BODY: 'it is not valid JSON (or it has a __proto__ or constructor.prototype key, which is refused)',
  FST_ERR_CTP_INVALID_MEDIA_TYPE: `uploads take multipart/form-data or an ${RAW_IMAGE_TYPES_TEXT} body; reports take JSON or a form`,
  // Fastify's default maxParamLength: the names in paths (a stored image's, a model's) are far shorter.
  FST_ERR_MAX_PARAM_LENGTH: 'a name in the path (such as a stored image\'s) may be at most 100 characters',
  // Fastify says the same for %ZZ and for %C0%AE (well-formed escapes, bytes that are not UTF-8).
  FST_ERR_BAD_URL: 'its path cannot be decoded: a % not followed by two hexadecimal digits (write % as %25), or escapes that are not UTF-8',
};

/** Messages the multipart parser (busboy) throws for a body that is not valid multipart. */
const MALFORMED_MULTIPART = /multipart|terminated early|malformed/i;
const LONG_BOUNDARY = /^The needle cannot have a length bigger than/;

interface FrameworkError {
  statusCode?: number;
  code?: string;
  message?: string;
  /** Node's HTTP parser: what exactly it found wrong. */
  reason?: string;
  validation?: ValidationIssue[];
  validationContext?: string;
}

/**
 * `clientGone`: the connection is already closed, so a failing body read is the client's abort,
 * not a bug.
 */
export function toAppError(err: unknown, clientGone = false): AppError {
  if (isAppError(err)) return err;
  const e = (err ?? {}) as FrameworkError;
  if (e.validation) return new AppError('BAD_PARAMETER', describeValidation(e.validation, e.validationContext));
  if (clientGone) return new AppError('CLIENT_CLOSED', undefined, { cause: err });
  // The disk (or quota) of UPLOAD_DIR or FEEDBACK_DIR is full: nothing the client did wrong.
  if (isNoRoom(err)) return new AppError('STORAGE_FULL', undefined, { cause: err });
  const code = e.code ? BY_CODE[e.code] : undefined;
  if (code) return new AppError(code, DETAILS[e.code!], { cause: err });
  if (e.code?.startsWith('HPE_')) {
    if (isBodyParserError(e)) return new AppError('MALFORMED_BODY', `its chunked encoding is not valid (${e.code}${e.reason ? `: ${e.reason}` : ''})`, { cause: err });
    return new AppError('BAD_REQUEST', `the request line or headers are not HTTP/1.1 as this server reads it (${e.code})`, { cause: err });
  }
  // The form parser's search cannot take a boundary over 256 characters (RFC 2046 allows 70): it threw as a 500.
  if (!e.code && e.message && LONG_BOUNDARY.test(e.message)) return new AppError('MALFORMED_BODY', 'its multipart boundary is longer than 256 characters (RFC 2046 allows 70)', { cause: err });
  if (!e.code && e.message && MALFORMED_MULTIPART.test(e.message)) return new AppError('MALFORMED_BODY', e.message, { cause: err });
  if (err instanceof SyntaxError && e.statusCode === 400) return new AppError('MALFORMED_BODY', 'the JSON is not valid', { cause: err });
  if (e.statusCode === 413) return new AppError('BODY_TOO_LARGE', undefined, { cause: err });
  if (e.statusCode === 415) return new AppError('UNSUPPORTED_CONTENT_TYPE', undefined, { cause: err });
  if (e.statusCode && e.statusCode >= 400 && e.statusCode < 500) return new AppError('BAD_REQUEST', e.message, { cause: err });
  return new AppError('INTERNAL', undefined, { cause: err });
}
