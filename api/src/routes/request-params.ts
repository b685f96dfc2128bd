/**
 * One rule for the prediction parameters, wherever they come from: the query string wins, then the
 * form field of the same name, then the default. An empty value counts as not given. The same
 * ranges build the OpenAPI schemas and the messages of a 400.
 */
import { Type } from '@sinclair/typebox';
import type { FastifyReply, FastifyRequest } from 'fastify';
import { AppError } from '@icls/lib/errors';
import { MODEL_NAME_MAX } from '@icls/lib/job-contract';

export const TOP_K = { min: 1, max: 1000, default: 5 } as const;
export const FEEDBACK_LIMIT = { min: 1, max: 1000, default: 100 } as const;
export { MODEL_NAME_MAX };

const RULES: Record<string, string> = {
  top_k: `top_k must be a whole number from ${TOP_K.min} to ${TOP_K.max}`,
  limit: `limit must be a whole number from ${FEEDBACK_LIMIT.min} to ${FEEDBACK_LIMIT.max}`,
  model: `model must be a name of at most ${MODEL_NAME_MAX} characters`,
  report: 'report must be a string with some text',
  image: 'image must be a stored upload\'s name, <md5>.<ext> in lower case, as /v1/predict answers it in "image"',
};

export const PredictQuery = Type.Object({
  model: Type.Optional(Type.String({ maxLength: MODEL_NAME_MAX, description: 'model name; empty or absent: the service default' })),
  top_k: Type.Optional(Type.Integer({ minimum: TOP_K.min, maximum: TOP_K.max, description: `classes to return (default ${TOP_K.default})` })),
});

export interface PredictParams {
  model?: string;
  topK: number;
}

type PreValidation = (request: FastifyRequest, reply: FastifyReply, done: (err?: Error) => void) => void;

/**
 * A route's `preValidation` hook: a query parameter given empty (`?top_k=`) is taken as not given, as the
 * rule above says, before the schema sees it (the schema's integer refused the empty string). And the
 * route's whole-number parameters (`wholeNumbers`: only those it reads; /predict ignores top_k, and so
 * does not refuse a bad one) are written in digits: the validator would read `0x10`, `1e2`, `+3` or
 * ` 3` as numbers, as Number() does.
 */
export function emptyQueryValuesAbsent(...wholeNumbers: ('top_k' | 'limit')[]): PreValidation {
  const checked = new Set<string>(wholeNumbers);
  return (request, _reply, done) => {
    // Synchronous, on every prediction: no promise, no entries array.
    const query = request.query as Record<string, unknown>;
    for (const name in query) {
      const value = query[name];
      if (value === '') delete query[name];
      else if (checked.has(name) && typeof value === 'string' && !/^\d{1,15}$/.test(value)) {
        // Over 15 digits, as written ("got Infinity" named no value the client sent).
        done(new AppError('BAD_PARAMETER', `${RULES[name]}, got ${JSON.stringify(value.length > 20 ? `${value.slice(0, 20)}…` : value)}`));
        return;
      }
    }
    done();
  };
}

/**
 * A number the query's schema let through, checked again: the validator turns "Infinity" and "1e400"
 * into Infinity and then skips its range check (a 500 further on, or a feedback listing unbounded).
 */
export function wholeNumberIn(value: number | undefined, range: { min: number; max: number }, name: 'top_k' | 'limit'): number | undefined {
  if (value === undefined || (Number.isSafeInteger(value) && value >= range.min && value <= range.max)) return value;
  throw new AppError('BAD_PARAMETER', `${RULES[name]}, got ${value}`);
}

/** The query's values (checked by its schema, and here again) and the form's fields (checked here, by the same rule). */
export function predictParams(query: { model?: string; top_k?: number }, fields: Record<string, string>): PredictParams {
  const model = query.model || fields.model || undefined;
  if (model !== undefined && model.length > MODEL_NAME_MAX) throw new AppError('BAD_PARAMETER', RULES.model);
  let topK: number = wholeNumberIn(query.top_k, TOP_K, 'top_k') ?? TOP_K.default;
  if (query.top_k === undefined && fields.top_k) {
    topK = /^\s*\d+\s*$/.test(fields.top_k) ? Number(fields.top_k) : NaN;
    if (!(topK >= TOP_K.min && topK <= TOP_K.max)) throw new AppError('BAD_PARAMETER', `${RULES.top_k}, got "${fields.top_k.slice(0, 20)}"`);
  }
  return { model, topK };
}

export interface ValidationIssue {
  instancePath?: string;
  message?: string;
  keyword?: string;
  params?: { allowedValue?: unknown; allowedValues?: unknown[] };
}

/** The keywords of a value that must be one of a fixed set: each choice fails alone, then the set. */
const CHOICE_KEYWORDS = new Set(['const', 'enum', 'anyOf']);

/**
 * A schema failure in words, one clause per parameter: its rule when we have one; for a parameter
 * with a fixed set of values, the values allowed (the validator says "must be equal to constant" per
 * value, then "must match a schema in anyOf"); else the validator's own words.
 */
export function describeValidation(issues: ValidationIssue[], context = 'request'): string {
  const byPath = new Map<string, ValidationIssue[]>();
  for (const issue of issues) byPath.set(issue.instancePath ?? '', [...(byPath.get(issue.instancePath ?? '') ?? []), issue]);
  return [...byPath]
    .map(([path, group]) => {
      const name = path.replace(/^\//, '');
      if (RULES[name]) return RULES[name];
      const where = `${context}${path ? ` ${name}` : ''}`;
      const choices = group.flatMap((i) => (i.keyword === 'const' ? [i.params?.allowedValue] : i.keyword === 'enum' ? (i.params?.allowedValues ?? []) : []));
      if (choices.length > 0 && group.every((i) => CHOICE_KEYWORDS.has(i.keyword ?? ''))) {
        return `${where} must be one of ${choices.map((c) => JSON.stringify(c)).join(', ')}`;
      }
      return group.map((i) => `${where} ${i.message ?? 'is not valid'}`).join('; ');
    })
    .join('; ');
}
