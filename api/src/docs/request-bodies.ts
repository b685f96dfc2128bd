/**
 * The request bodies the OpenAPI document cannot learn from the route schemas. Upload routes read their
 * body themselves (a multipart stream, or the raw image), so they declare no `body` schema for Fastify to
 * validate, and the generated document had no request body at all: Swagger UI's "Try it out" had no file
 * input and generated clients no file parameter. The report route takes forms as well as JSON, and the
 * document listed JSON only. Added to the document, never to validation.
 */
import { RAW_IMAGE_TYPES } from '../upload/receive-upload.ts';
import { MODEL_NAME_MAX, TOP_K } from '../routes/request-params.ts';

interface Schema {
  type?: string;
  format?: string;
  description?: string;
  properties?: Record<string, Schema>;
  required?: string[];
  [key: string]: unknown;
}
interface MediaType {
  schema: Schema;
}
interface Operation {
  requestBody?: { required?: boolean; description?: string; content: Record<string, MediaType> };
}
interface OpenApiDoc {
  paths?: Record<string, Record<string, Operation>>;
}

const file: Schema = { type: 'string', format: 'binary', description: 'the image: PNG, JPEG, GIF or WebP; its file name must end in .png, .jpg, .jpeg, .gif or .webp' };
const model: Schema = { type: 'string', maxLength: MODEL_NAME_MAX, description: 'model name (the query parameter wins when both are given); absent: the service default' };
const topK: Schema = { type: 'integer', minimum: TOP_K.min, maximum: TOP_K.max, description: `classes to return (default ${TOP_K.default}; the query parameter wins)` };

function uploadBody(withTopK: boolean): NonNullable<Operation['requestBody']> {
  const form: Schema = { type: 'object', required: ['file'], properties: { file, model, ...(withTopK ? { top_k: topK } : {}) } };
  const raw = Object.fromEntries(Object.keys(RAW_IMAGE_TYPES).map((type) => [type, { schema: { type: 'string', format: 'binary', description: 'the image itself as the body' } }]));
  return {
    required: true,
    description: 'A form with the image in field `file` (as the original), or the image itself as the body with its type in Content-Type',
    content: { 'multipart/form-data': { schema: form }, ...raw },
  };
}

/** Adds the upload routes' bodies, and the report route's form bodies, to the generated document. */
export function withRequestBodies<T extends object>(doc: T): T {
  const post = (path: string): Operation | undefined => (doc as OpenApiDoc).paths?.[path]?.post;
  const predict = post('/predict');
  if (predict) predict.requestBody = uploadBody(false);
  const v1 = post('/v1/predict');
  if (v1) v1.requestBody = uploadBody(true);
  const feedback = post('/v1/feedback');
  const json = feedback?.requestBody?.content['application/json'];
  if (feedback?.requestBody && json) {
    feedback.requestBody.content['application/x-www-form-urlencoded'] = json;
    feedback.requestBody.content['multipart/form-data'] = json;
  }
  return doc;
}
