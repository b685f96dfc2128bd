/**
 * URL-encoded forms (`application/x-www-form-urlencoded`), parsed with Node's own parser: its object
 * has no prototype, so no field name can reach Object.prototype. Held to the multipart form's bound on
 * fields, so no form of either kind carries more than `maxFields`.
 */
import { parse } from 'node:querystring';
import { AppError } from '@icls/lib/errors';

export function parseBoundedForm(text: string, maxFields: number): Record<string, unknown> {
  let fields = 0;
  for (const pair of text.split('&')) if (pair !== '' && ++fields > maxFields) throw new AppError('TOO_MANY_PARTS', `a form has at most ${maxFields} fields`);
  return parse(text, '&', '=', { maxKeys: 0 });
}
