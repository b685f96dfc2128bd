/**
 * Small statistics helpers shared by the bench and the stress scenario.
 * Percentiles use the nearest-rank method: the reported value is one that was really observed,
 * which is what latency reports conventionally show (no interpolated "p99" nobody saw).
 */
import { mulberry32 } from '@icls/lib/seeded-random';

/** Sorts a copy ascending (numbers, not the default string sort). */
export function sortedCopy(values: readonly number[]): number[] {
  return [...values].sort((a, b) => a - b);
}

/** Nearest-rank percentile of an ascending array; NaN when empty. `p` is 0..100. */
export function percentileSorted(sorted: readonly number[], p: number): number {
  if (sorted.length === 0) return Number.NaN;
  const rank = Math.ceil((p / 100) * sorted.length);
  return sorted[Math.min(sorted.length - 1, Math.max(0, rank - 1))]!;
}

/** Median of unsorted values; NaN when empty. */
export function median(values: readonly number[]): number {
  return percentileSorted(sortedCopy(values), 50);
}

/** Arithmetic mean; NaN when empty. */
export function mean(values: readonly number[]): number {
  if (values.length === 0) return Number.NaN;
  let s = 0;
  for (const v of values) s += v;
  return s / values.length;
}

/** The latency summary printed in every table. */
export interface Distribution {
  count: number;
  mean: number;
  p50: number;
  p90: number;
  p99: number;
  max: number;
}

/** Summarises a set of values (NaNs everywhere when empty, so tables show "–"). */
export function distribution(values: readonly number[]): Distribution {
  const s = sortedCopy(values);
  return {
    count: s.length,
    mean: mean(s),
    p50: percentileSorted(s, 50),
    p90: percentileSorted(s, 90),
    p99: percentileSorted(s, 99),
    max: s.length ? s[s.length - 1]! : Number.NaN,
  };
}

/** A margin with its sign, a minus as such: "+7.44", "−10.60" (a floor above the measured p50 read "+-10.60"). */
export const signed = (v: number, text: (abs: number) => string): string => `${v < 0 ? '−' : '+'}${text(Math.abs(v))}`;

/** Formats a number for a table: "–" for NaN/undefined, fixed decimals otherwise. */
export function fmt(value: number | undefined | null, decimals = 1): string {
  if (value === undefined || value === null || !Number.isFinite(value)) return '–';
  return value.toFixed(decimals);
}

/** Seeded, so open-loop arrival schedules are the same on every run and two runs differ only by the system. */
export const seededRandom = mulberry32;

/** Renders rows as an aligned plain-text table (first row is the header). */
export function textTable(rows: string[][]): string {
  const widths: number[] = [];
  for (const row of rows) row.forEach((cell, i) => (widths[i] = Math.max(widths[i] ?? 0, cell.length)));
  const line = (row: string[]) => row.map((cell, i) => (i === 0 ? cell.padEnd(widths[i]!) : cell.padStart(widths[i]!))).join('  ');
  const [head, ...body] = rows;
  if (!head) return '';
  return [line(head), widths.map((w) => '-'.repeat(w)).join('  '), ...body.map(line)].join('\n');
}
