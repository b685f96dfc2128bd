/** Sizes as people read them in messages and pages. */

/** `20971520` → `20 MB`, `26529792` → `25.3 MB` (MB of 1,048,576 bytes, as browsers and file managers count). */
export function formatMegabytes(bytes: number): string {
  const mb = bytes / (1024 * 1024);
  if (mb < 0.1) return `${Math.max(1, Math.round(bytes / 1024))} KB`;
  return `${Number.isInteger(mb) ? mb : mb.toFixed(1)} MB`;
}
