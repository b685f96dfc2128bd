/**
 * URL-encoded forms (`application/x-www-form-urlencoded`), parsed with Node's own parser: its object
 * has no prototype, so no field name can reach Object.prototype. Held to the multipart form's rules:
 * at most `maxFields` fields, no field named after a built-in property (`__proto__`, `constructor`,
 * `toString`…: multipart refused them, URL-encoded took them), and a field sent twice counts once, its
 * first value (it became a list, which the report's schema refused as "report must be a string").
 */
import { parse } from 'node:querystring';
import { AppError } from '@icls/lib/errors';

export function parseBoundedForm(text: string, maxFields: number, maxFieldBytes: number): Record<string, unknown> {
  let fields = 0;
  for (const pair of text.split('&')) if (pair !== '' && ++fields > maxFields) throw new AppError('TOO_MANY_PARTS', `a form has at most ${maxFields} fields`);
  const form = parseQuery(text);
  for (const name in form) {
    if (name in Object.prototype) throw new AppError('MALFORMED_BODY', `a form field may not be named ${JSON.stringify(name.slice(0, 40))}, after a built-in property`);
    // The multipart form's bound on a field, refused as there: a long field was taken (a label silently cut).
    const value = form[name];
    if (typeof value === 'string' && Buffer.byteLength(value) > maxFieldBytes) throw new AppError('BAD_PARAMETER', `the form field "${name.slice(0, 40)}" is too long`);
  }
  return form;
}

/**
 * A query string, as Fastify's router hands it over: a parameter given twice counts once, its first
 * value, as in forms (`?model=a&model=b` was refused as "model must be a name of at most 128 characters").
 * The URL's length bounds it (MAX_HEADER_BYTES).
 */
export function parseQuery(text: string): Record<string, unknown> {
  const query: Record<string, unknown> = parse(text, '&', '=', { maxKeys: 0 });
  for (const name in query) if (Array.isArray(query[name])) query[name] = (query[name] as string[])[0];
  return query;
}
