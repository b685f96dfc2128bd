/** Small helpers every view uses: escaping, sizes and times as people read them. */
export { formatMegabytes } from '../human-size.ts';

/** Every value that came from a user, a model or a file goes through this before it reaches HTML. */
export function esc(value: unknown): string {
  return String(value).replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
}

/** Milliseconds as a short reading: `4.1 ms`, `23 ms`, `1.2 s`. */
export function formatMs(ms: number): string {
  if (ms >= 1000) return `${(ms / 1000).toFixed(1)} s`;
  return ms < 10 ? `${ms.toFixed(1)} ms` : `${Math.round(ms)} ms`;
}

/** A score as a percentage with one decimal: `95.5%`. */
export const percent = (score: number): string => `${(score * 100).toFixed(1)}%`;
