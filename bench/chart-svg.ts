/**
 * The bench chart, written by hand as SVG (no package): latency p50 and p99 against served
 * throughput, closed-loop and open-loop steps as separate series, the ceiling as a vertical line.
 * Latency is on a log scale because overload p99s are 100× the idle p50.
 */
import type { StepResult } from './steps.ts';

export interface ChartInput {
  title: string;
  steps: readonly StepResult[];
  ceilingImagesPerSecond?: number;
}

const W = 780;
const H = 440;
const M = { left: 72, right: 24, top: 44, bottom: 58 };
const PLOT_W = W - M.left - M.right;
const PLOT_H = H - M.top - M.bottom;
const COLORS = { closed: '#2456d6', open: '#d9480f', grid: '#e3e6ec', axis: '#555', ceiling: '#6b7280' };

const esc = (s: string) => s.replace(/[&<>"]/g, (c) => `&#${c.charCodeAt(0)};`);
const n = (v: number) => (Math.round(v * 10) / 10).toString();

/** Round "nice" upper bound for a linear axis. */
function niceMax(v: number): number {
  if (!(v > 0)) return 1;
  const p = 10 ** Math.floor(Math.log10(v));
  for (const m of [1, 1.2, 1.5, 2, 2.5, 3, 4, 5, 6, 8, 10]) if (m * p >= v) return m * p;
  return 10 * p;
}

function linearTicks(max: number): number[] {
  const raw = max / 6;
  const p = 10 ** Math.floor(Math.log10(raw));
  const step = [1, 2, 2.5, 5, 10].map((m) => m * p).find((s) => s >= raw) ?? 10 * p;
  const out: number[] = [];
  for (let t = 0; t <= max + 1e-9; t += step) out.push(Math.round(t * 1000) / 1000);
  return out;
}

const fmtMs = (v: number) => (v >= 1000 ? `${n(v / 1000)} s` : `${v} ms`);

/** Renders the chart. Steps without successful requests are left out. */
export function renderChart(input: ChartInput): string {
  const pts = input.steps.filter((s) => s.latencyOk.count > 0 && Number.isFinite(s.latencyOk.p50));
  const lat = pts.flatMap((s) => [s.latencyOk.p50, s.latencyOk.p99]).filter((v) => v > 0);
  const yMinDec = Math.floor(Math.log10(Math.max(0.1, Math.min(...lat, 1000))));
  const yMaxDec = Math.max(yMinDec + 1, Math.ceil(Math.log10(Math.max(...lat, 10))));
  const xMax = niceMax(Math.max(...pts.map((s) => s.throughput), input.ceilingImagesPerSecond ?? 0, 1) * 1.05);
  const x = (v: number) => M.left + (v / xMax) * PLOT_W;
  const y = (v: number) => M.top + PLOT_H - ((Math.log10(Math.max(v, 10 ** yMinDec)) - yMinDec) / (yMaxDec - yMinDec)) * PLOT_H;

  const out: string[] = [];
  out.push(
    `<svg xmlns="http://www.w3.org/2000/svg" width="${W}" height="${H}" viewBox="0 0 ${W} ${H}" font-family="system-ui, -apple-system, Segoe UI, sans-serif" font-size="12">`,
    `<rect width="${W}" height="${H}" fill="#fff"/>`,
    `<text x="${W / 2}" y="22" text-anchor="middle" font-size="15" font-weight="600">${esc(input.title)}</text>`,
  );
  // Grid and axes.
  for (let d = yMinDec; d <= yMaxDec; d++) {
    for (const m of [1, 2, 5]) {
      const v = m * 10 ** d;
      if (Math.log10(v) > yMaxDec + 1e-9) continue;
      const yy = y(v);
      out.push(`<line x1="${M.left}" x2="${M.left + PLOT_W}" y1="${n(yy)}" y2="${n(yy)}" stroke="${COLORS.grid}"${m === 1 ? '' : ' stroke-dasharray="2 3"'}/>`);
      out.push(`<text x="${M.left - 6}" y="${n(yy + 4)}" text-anchor="end" fill="${COLORS.axis}">${esc(fmtMs(Number(v.toPrecision(3))))}</text>`);
    }
  }
  for (const t of linearTicks(xMax)) {
    const xx = x(t);
    out.push(`<line x1="${n(xx)}" x2="${n(xx)}" y1="${M.top}" y2="${M.top + PLOT_H}" stroke="${COLORS.grid}"/>`);
    out.push(`<text x="${n(xx)}" y="${M.top + PLOT_H + 18}" text-anchor="middle" fill="${COLORS.axis}">${t}</text>`);
  }
  out.push(`<rect x="${M.left}" y="${M.top}" width="${PLOT_W}" height="${PLOT_H}" fill="none" stroke="${COLORS.axis}"/>`);
  out.push(`<text x="${M.left + PLOT_W / 2}" y="${H - 14}" text-anchor="middle" fill="${COLORS.axis}">served throughput (successful images/s)</text>`);
  out.push(`<text transform="translate(18 ${M.top + PLOT_H / 2}) rotate(-90)" text-anchor="middle" fill="${COLORS.axis}">latency (log scale)</text>`);

  if (input.ceilingImagesPerSecond) {
    const xx = n(x(input.ceilingImagesPerSecond));
    out.push(`<line x1="${xx}" x2="${xx}" y1="${M.top}" y2="${M.top + PLOT_H}" stroke="${COLORS.ceiling}" stroke-width="1.5" stroke-dasharray="6 4"/>`);
    out.push(`<text x="${Number(xx) - 4}" y="${M.top + 14}" text-anchor="end" fill="${COLORS.ceiling}">ceiling ${n(input.ceilingImagesPerSecond)}/s</text>`);
  }

  const marker = (kind: 'closed' | 'open', cx: number, cy: number, filled: boolean) => {
    const c = COLORS[kind];
    const fill = filled ? c : '#fff';
    return kind === 'closed'
      ? `<circle cx="${n(cx)}" cy="${n(cy)}" r="4" fill="${fill}" stroke="${c}" stroke-width="1.5"/>`
      : `<path d="M${n(cx)} ${n(cy - 5)}L${n(cx + 5)} ${n(cy)}L${n(cx)} ${n(cy + 5)}L${n(cx - 5)} ${n(cy)}Z" fill="${fill}" stroke="${c}" stroke-width="1.5"/>`;
  };
  for (const kind of ['closed', 'open'] as const) {
    const series = pts.filter((s) => s.kind === kind);
    if (series.length === 0) continue;
    for (const [which, dash] of [
      ['p50', ''],
      ['p99', ' stroke-dasharray="5 4"'],
    ] as const) {
      const path = series.map((s, i) => `${i ? 'L' : 'M'}${n(x(s.throughput))} ${n(y(s.latencyOk[which]))}`).join('');
      out.push(`<path d="${path}" fill="none" stroke="${COLORS[kind]}" stroke-width="1.5"${dash}/>`);
      for (const s of series) out.push(marker(kind, x(s.throughput), y(s.latencyOk[which]), which === 'p50'));
    }
    for (const s of series) {
      const short = kind === 'closed' ? `c=${s.concurrency}` : s.rateMultiple !== undefined ? `${s.rateMultiple}×` : `${n(s.rate ?? 0)}/s`;
      out.push(`<text x="${n(x(s.throughput) + 7)}" y="${n(y(s.latencyOk.p99) - 6)}" fill="${COLORS[kind]}" font-size="11">${esc(short)}</text>`);
    }
  }

  // Legend.
  const lx = M.left + 12;
  let ly = M.top + 16;
  const legend: [string, 'closed' | 'open', boolean, boolean][] = [
    ['closed loop p50', 'closed', true, false],
    ['closed loop p99', 'closed', false, true],
    ['open loop p50 (label: × peak)', 'open', true, false],
    ['open loop p99', 'open', false, true],
  ];
  out.push(`<rect x="${lx - 6}" y="${ly - 12}" width="210" height="${legend.length * 18 + 6}" fill="#fff" fill-opacity="0.9" stroke="${COLORS.grid}"/>`);
  for (const [label, kind, filled, dashed] of legend) {
    if (!pts.some((s) => s.kind === kind)) continue;
    out.push(`<line x1="${lx}" x2="${lx + 28}" y1="${ly - 4}" y2="${ly - 4}" stroke="${COLORS[kind]}" stroke-width="1.5"${dashed ? ' stroke-dasharray="5 4"' : ''}/>`);
    out.push(marker(kind, lx + 14, ly - 4, filled));
    out.push(`<text x="${lx + 36}" y="${ly}">${esc(label)}</text>`);
    ly += 18;
  }
  out.push('</svg>');
  return out.join('\n') + '\n';
}
