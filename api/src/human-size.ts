/** Sizes as people read them in messages and pages. */

/**
 * `20971520` → `20 MB`, `26529792` → `25.3 MB`, `200000` → `195 KB` (KB and MB of 1,024 and 1,048,576 bytes,
 * as browsers and file managers count). Under 1 MB in KB: "0.2 MB" said the same of 200,000 and 240,512 bytes.
 */
export function formatMegabytes(bytes: number): string {
  const mb = bytes / (1024 * 1024);
  if (mb < 1) return `${Math.max(1, Math.round(bytes / 1024))} KB`;
  return `${Number.isInteger(mb) ? mb : mb.toFixed(1)} MB`;
}
