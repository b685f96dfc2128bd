/**
 * File-name rules kept from the original service: the text after the last "." decides, any case.
 * webp is accepted too (a real image format the original did not know).
 */
export const ALLOWED_EXTENSIONS = ['png', 'jpg', 'jpeg', 'gif', 'webp'] as const;
export type AllowedExtension = (typeof ALLOWED_EXTENSIONS)[number];

/** The lower-cased extension of a client file name, or undefined when it is not an allowed image type. */
export function allowedExtension(filename: string): AllowedExtension | undefined {
  const dot = filename.lastIndexOf('.');
  if (dot < 0) return undefined;
  const ext = filename.slice(dot + 1).toLowerCase();
  return (ALLOWED_EXTENSIONS as readonly string[]).includes(ext) ? (ext as AllowedExtension) : undefined;
}

export const allowedFile = (filename: string): boolean => allowedExtension(filename) !== undefined;

/** A stored upload's name: lowercase hex MD5 of the bytes, a dot, the extension. Nothing else is ever served. */
export const STORED_NAME = /^[0-9a-f]{32}\.(png|jpg|jpeg|gif|webp)$/;
