/**
 * Reads a multipart request the way the original did (field `file`), in its order of checks:
 * no `file` part → empty file name → extension → then ours: size, content, pixels.
 * Other form fields (e.g. `model`) are collected too.
 */
import type { FastifyRequest } from 'fastify';
import { AppError } from '@icls/lib/errors';
import type { Readable } from 'node:stream';
import { allowedExtension, type AllowedExtension } from './allowed-file.ts';
import type { IncomingUpload, UploadStore } from './upload-store.ts';

export interface ReceivedUpload {
  /** Received and checked; the caller persists it (or discards it). */
  upload: IncomingUpload;
  fields: Record<string, string>;
}

/** Image types a program may send as the raw request body, and the extension they are stored with. */
export const RAW_IMAGE_TYPES: Record<string, AllowedExtension> = {
  'image/png': 'png',
  'image/jpeg': 'jpg',
  'image/gif': 'gif',
  'image/webp': 'webp',
};

/** The image types a raw body may have, as a message lists them: `image/png, image/jpeg, image/gif or image/webp`. */
export const RAW_IMAGE_TYPES_TEXT = ((types) => `${types.slice(0, -1).join(', ')} or ${types.at(-1)}`)(Object.keys(RAW_IMAGE_TYPES));

/** What a request that is neither a form nor an image is told (its media type named, cut short). */
function notAnUpload(mediaType: string): string {
  const got = mediaType ? `this request's body is ${mediaType.slice(0, 60)}` : 'this request has no Content-Type';
  return `${got}: send the image as multipart/form-data field "file" (curl -F file=@photo.jpg), or as the body with Content-Type ${Object.keys(RAW_IMAGE_TYPES).join(', ')}`;
}

/** `fields` receives the form's fields as they come, so a caller still knows them when the file is refused. */
export async function receiveUpload(request: FastifyRequest, store: UploadStore, fields: Record<string, string> = {}): Promise<ReceivedUpload> {
  // Programs may skip multipart: the body is the image, its type in Content-Type (curl --data-binary).
  const mediaType = (request.headers['content-type'] ?? '').split(';')[0]!.trim().toLowerCase();
  const rawExt = RAW_IMAGE_TYPES[mediaType];
  if (rawExt) return { upload: await store.receive(request.body as Readable, rawExt, () => false), fields: {} };
  if (!request.isMultipart()) throw new AppError('NO_FILE_PART', notAnUpload(mediaType));
  // The parser's own errors (no boundary, too many parts, a cut body) reach the error handler, which
  // maps them onto the error table.
  const got: ReadParts = { fields, otherFiles: [] };
  try {
    await readParts(request, store, got);
  } catch (err) {
    // A part after the file failed the form: the received file is not stored.
    if (got.upload) await store.discard(got.upload);
    throw err;
  }
  if (!got.upload) throw new AppError('NO_FILE_PART', noFilePart(got));
  return { upload: got.upload, fields: got.fields };
}

/** Why a form had no `file` part, when it shows: `file` sent as text (curl -F file=abc, or -F "file=<photo.jpg"), or the image under another name. */
function noFilePart(got: ReadParts): string | undefined {
  if (got.fileAsText) return 'the form\'s "file" is a text field, not a file: send the image as a file part (curl -F file=@photo.jpg)';
  if (got.otherFiles.length > 0) return `the form has no file part named "file" (it has: ${got.otherFiles.join(', ')}): name the image's part "file"`;
  return undefined;
}

/**
 * Real file names are at most 255 bytes (Linux, macOS) or 255 UTF-16 units (Windows). A longer one was
 * cut by the form parser at its header limit (80 KiB), so its extension was lost and it was refused as
 * "has no extension", which sent the user looking at the wrong thing.
 */
export const FILE_NAME_MAX = 1024;

/** What a refused file name is told, beyond the allowed types: the name, and what it lacks. */
function refusedName(filename: string, mimeType: string): string {
  const dot = filename.lastIndexOf('.');
  const shown = `the file name "${filename.slice(0, 60)}${filename.length > 60 ? '…' : ''}"`;
  const what = dot > 0 ? `${shown} ends in "${filename.slice(dot, dot + 12)}"` : `${shown} has no extension`;
  // Python's requests names a part sent as bytes after its field ("file"); fetch names a Blob "blob".
  return /^image\//i.test(mimeType) ? `${what} (the part says ${mimeType.slice(0, 40)}): give it a name such as photo.png` : what;
}

interface ReadParts {
  upload?: IncomingUpload;
  fields: Record<string, string>;
  /** Names of file parts other than `file` (at most a few), to say what the form had instead. */
  otherFiles: string[];
  /** A text field named `file` came. */
  fileAsText?: boolean;
}

/** The form's parts: fields into `got.fields`, the `file` part received into the store as `got.upload`. */
async function readParts(request: FastifyRequest, store: UploadStore, got: ReadParts): Promise<void> {
  const { fields } = got;
  for await (const part of request.parts()) {
    // The parser leaves it undefined for a part whose Content-Disposition has no name (a 500 here, before).
    const fieldname = part.fieldname as string | undefined;
    if (part.type === 'field') {
      if (fieldname === undefined) continue; // a value without a name is no parameter
      if (fieldname === 'file') {
        got.fileAsText = true; // a file part named "file" may still come
        continue;
      }
      if (part.valueTruncated) throw new AppError('BAD_PARAMETER', `the form field "${fieldname.slice(0, 40)}" is too long`);
      // A field sent twice counts once, its first value, as everywhere (top_k=2 then top_k=3 gave 3 classes).
      if (typeof part.value === 'string' && !Object.hasOwn(fields, fieldname)) fields[fieldname] = part.value;
      continue;
    }
    if (fieldname !== 'file' || got.upload) {
      if (fieldname !== 'file' && got.otherFiles.length < 3) got.otherFiles.push(fieldname === undefined ? 'a file part without a name' : `"${fieldname.slice(0, 40)}"`);
      part.file.resume(); // not ours: let it flow past
      continue;
    }
    if (!part.filename) {
      part.file.resume();
      throw new AppError('NO_FILE_SELECTED');
    }
    if (part.filename.length > FILE_NAME_MAX) {
      part.file.resume();
      throw new AppError('FILE_NAME_TOO_LONG', `"${part.filename.slice(0, 40)}…" has over ${FILE_NAME_MAX} characters`);
    }
    const ext = allowedExtension(part.filename);
    if (!ext) {
      part.file.resume();
      throw new AppError('EXTENSION_NOT_ALLOWED', refusedName(part.filename, part.mimetype));
    }
    got.upload = await store.receive(part.file, ext, () => part.file.truncated);
  }
}
