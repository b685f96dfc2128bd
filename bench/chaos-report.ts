/**
 * Judges a chaos run against issue 7's "done when": what every request got, how late, what the
 * Redis outage cost, and whether any worker died of something other than the test's SIGKILLs.
 */
import type { ChaosSample } from './chaos-load.ts';
import type { FaultLog } from './chaos-faults.ts';
import { distribution, fmt, textTable, type Distribution } from './stats.ts';

/** A refusal while Redis is down must come this fast (ms). */
const FAST_REFUSAL_MS = 100;
/** 503s are allowed from the kill until this long after Redis is back (ms). */
const RECOVERY_ALLOWANCE_MS = 500;
/** An answer later than the deadline plus this is late (ms). */
const LATE_MARGIN_MS = 1000;
/** Failed requests kept in the JSON: enough to see a pattern, bounded however badly a run goes. */
const MAX_SURPRISES = 100;

export interface ChaosVerdict {
  counts: Record<string, number>;
  unanswered: number;
  late: number;
  timeouts504: number;
  goodNot200OutsideOutage: number;
  refusals503OutsideOutage: number;
  outage?: {
    downMs: number;
    refusals: number;
    refusalMs: Distribution;
    /** From Redis back up to the last 503 sent after it, and to the first 200 sent after it. */
    last503AfterUpMs: number | null;
    first200AfterUpMs: number | null;
    inFlightAtKill: number;
    inFlightAnswered: number;
    /** In flight at the kill but refused at once with 503: its job had not reached Redis yet (the client is told to retry). */
    inFlightRefused: number;
  };
  kills: number;
  deathsNotByTest: { pid: number; code: number | null; signal: string | null }[];
  okMs: Distribution;
  durationS: number;
  throughput: number;
  checks: { what: string; met: boolean; detail: string }[];
  /** Requests that failed a check (at most MAX_SURPRISES), in the order they were sent. */
  surprises: ChaosSample[];
}

export function judge(samples: ChaosSample[], faults: FaultLog, timeoutMs: number): ChaosVerdict {
  const counts: Record<string, number> = {};
  for (const s of samples) {
    const key = s.status === 0 ? `no answer (${s.error ?? '?'})` : `${s.status}${s.code ? ` ${s.code}` : ''}`;
    counts[key] = (counts[key] ?? 0) + 1;
  }
  const answered = samples.filter((s) => s.status !== 0);
  const late = answered.filter((s) => s.ms > timeoutMs + LATE_MARGIN_MS).length;
  const timeouts504 = samples.filter((s) => s.status === 504).length;
  const r = faults.redis;
  // A request whose time on the wire overlaps the outage (a request sent just before the kill may
  // meet it while its upload is still arriving, and be refused then).
  const inOutage = (s: ChaosSample) => !!r && s.sentAt <= r.upAt + RECOVERY_ALLOWANCE_MS && s.sentAt + s.ms >= r.downAt;
  const goodWrong = samples.filter((s) => s.kind === 'good' && s.status !== 200 && !(inOutage(s) && s.status === 503));
  const goodNot200OutsideOutage = goodWrong.length;
  const refusals503 = samples.filter((s) => s.status === 503);
  const refusals503OutsideOutage = refusals503.filter((s) => !inOutage(s)).length;
  let outage: ChaosVerdict['outage'];
  if (r) {
    const during = refusals503.filter(inOutage);
    const afterUp = samples.filter((s) => s.sentAt >= r.upAt);
    const last503 = afterUp.filter((s) => s.status === 503).at(-1);
    const first200 = afterUp.find((s) => s.status === 200);
    const inFlight = samples.filter((s) => s.sentAt < r.downAt && s.sentAt + s.ms > r.downAt);
    outage = {
      downMs: r.upAt - r.downAt,
      refusals: during.length,
      refusalMs: distribution(during.map((s) => s.ms)),
      last503AfterUpMs: last503 ? last503.sentAt - r.upAt : null,
      first200AfterUpMs: first200 ? first200.sentAt - r.upAt : null,
      inFlightAtKill: inFlight.length,
      inFlightAnswered: inFlight.filter((s) => (s.kind === 'good' ? s.status === 200 : s.status === 400 || s.status === 415)).length,
      inFlightRefused: inFlight.filter((s) => s.status === 503).length,
    };
  }
  const killed = new Set(faults.kills.map((k) => k.pid));
  const deathsNotByTest = faults.deaths.filter((d) => !killed.has(d.pid)).map(({ pid, code, signal }) => ({ pid, code, signal }));
  const first = Math.min(...samples.map((s) => s.sentAt));
  const last = Math.max(...samples.map((s) => s.sentAt + s.ms));
  const durationS = (last - first) / 1000;
  const ok = samples.filter((s) => s.status === 200);
  const corruptWrongSamples = samples.filter((s) => s.kind === 'corrupt' && ![400, 415].includes(s.status) && !(inOutage(s) && s.status === 503));
  const corruptWrong = corruptWrongSamples.length;
  const checks = [
    { what: '0 unanswered', met: samples.length - answered.length === 0, detail: String(samples.length - answered.length) },
    { what: `0 answered later than the deadline + ${LATE_MARGIN_MS / 1000} s`, met: late === 0, detail: String(late) },
    { what: '0 × 504', met: timeouts504 === 0, detail: String(timeouts504) },
    { what: 'every good image 200, except 503s while Redis is down', met: goodNot200OutsideOutage === 0, detail: `${goodNot200OutsideOutage} good images got something else` },
    { what: 'every corrupt image 400/415 (or 503 while Redis is down)', met: corruptWrong === 0, detail: `${corruptWrong} got something else` },
    {
      what: `503s while Redis is down answered within ${FAST_REFUSAL_MS} ms`,
      met: !outage || !(outage.refusalMs.max > FAST_REFUSAL_MS),
      detail: outage ? `max ${fmt(outage.refusalMs.max, 0)} ms over ${outage.refusals}` : 'no Redis restart',
    },
    { what: `503s only from the Redis kill to ${RECOVERY_ALLOWANCE_MS} ms after it is back`, met: refusals503OutsideOutage === 0, detail: `${refusals503OutsideOutage} outside` },
    { what: '0 worker deaths not caused by the test', met: deathsNotByTest.length === 0, detail: String(deathsNotByTest.length) },
    {
      what: '0 jobs lost across the Redis restart',
      met: !outage || outage.inFlightAnswered + outage.inFlightRefused === outage.inFlightAtKill,
      detail: outage
        ? `${outage.inFlightAtKill} in flight: ${outage.inFlightAnswered} answered, ${outage.inFlightRefused} refused (503) before reaching the queue`
        : 'no Redis restart',
    },
  ];
  return {
    counts, unanswered: samples.length - answered.length, late, timeouts504, goodNot200OutsideOutage, refusals503OutsideOutage, outage,
    kills: faults.kills.length, deathsNotByTest, okMs: distribution(ok.map((s) => s.ms)), durationS, throughput: ok.length / durationS, checks,
    // The requests behind a failed check, with when they were sent, to set beside the faults' times.
    surprises: [...new Set([...goodWrong, ...corruptWrongSamples, ...refusals503.filter((s) => !inOutage(s))])].sort((a, b) => a.i - b.i).slice(0, MAX_SURPRISES),
  };
}

export function renderVerdict(v: ChaosVerdict): string {
  const parts = ['== what the requests got ==', textTable([['status / code', 'requests'], ...Object.entries(v.counts).sort().map(([k, n]) => [k, String(n)])])];
  const rows = [
    ['unanswered', String(v.unanswered)],
    ['answered later than deadline + 1 s', String(v.late)],
    ['504', String(v.timeouts504)],
    ['good images not 200 (503s during the outage excepted)', String(v.goodNot200OutsideOutage)],
    ['503 outside the outage + 0.5 s', String(v.refusals503OutsideOutage)],
    ['worker SIGKILLs by the test', String(v.kills)],
    ['worker deaths not caused by the test', String(v.deathsNotByTest.length)],
    ['200 latency p50 / p99 / max (ms)', `${fmt(v.okMs.p50, 0)} / ${fmt(v.okMs.p99, 0)} / ${fmt(v.okMs.max, 0)}`],
    ['duration (s), 200s per second', `${fmt(v.durationS, 0)}, ${fmt(v.throughput, 1)}`],
  ];
  if (v.outage) {
    const o = v.outage;
    rows.push(
      ['Redis down (ms)', fmt(o.downMs, 0)],
      ['503s during the outage, their latency p50 / max (ms)', `${o.refusals}, ${fmt(o.refusalMs.p50, 0)} / ${fmt(o.refusalMs.max, 0)}`],
      ['after Redis is back: last 503 sent at / first 200 sent at (ms)', `${o.last503AfterUpMs ?? 'none'} / ${o.first200AfterUpMs ?? 'none'}`],
      ['requests in flight at the Redis kill: answered, refused (503) before reaching the queue', `${o.inFlightAtKill}: ${o.inFlightAnswered}, ${o.inFlightRefused}`],
    );
  }
  parts.push('', '== faults ==', textTable([['', 'value'], ...rows]));
  parts.push('', '== done when (issue 7) ==', textTable([['check', 'met', 'measured'], ...v.checks.map((c) => [c.what, c.met ? 'yes' : 'NO', c.detail])]));
  return parts.join('\n');
}
