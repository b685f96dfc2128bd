/** Recognises an image format by its first bytes (magic numbers), whatever the file is called. */
export type ImageKind = 'png' | 'jpeg' | 'gif' | 'webp';

export function sniffImage(head: Uint8Array): ImageKind | undefined {
  const at = (i: number, ...bytes: number[]) => bytes.every((b, k) => head[i + k] === b);
  if (at(0, 0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a)) return 'png';
  if (at(0, 0xff, 0xd8, 0xff)) return 'jpeg';
  if (at(0, 0x47, 0x49, 0x46, 0x38) && (head[4] === 0x37 || head[4] === 0x39) && head[5] === 0x61) return 'gif';
  if (at(0, 0x52, 0x49, 0x46, 0x46) && at(8, 0x57, 0x45, 0x42, 0x50)) return 'webp';
  return undefined;
}

/** How many leading bytes sniffImage needs. */
export const SIGNATURE_BYTES = 12;
