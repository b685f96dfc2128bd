/**
 * The bench's results: one JSON document (everything), the same tables as Markdown (for the README)
 * and as plain text (for the terminal). Tables are built once as rows and rendered twice.
 */
import { mkdir, rename, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { PREFERRED_DEFAULT_MODEL } from '@icls/lib/default-model';
import type { BenchResult } from './result-types.ts';
import type { StepResult } from './steps.ts';
import { fmt, signed, textTable } from './stats.ts';

export type { BenchResult } from './result-types.ts';

export interface Table {
  title: string;
  intro?: string;
  rows: string[][];
}

const ms = (v: number | undefined) => fmt(v, v !== undefined && v < 10 ? 2 : 1);
const pct = (v: number | undefined) => (v === undefined ? '–' : `${fmt(v, 0)}%`);
const mb = (v: number | undefined) => fmt(v, 0);

function errorsCell(s: StepResult): string {
  const other = Object.entries(s.errors).filter(([code]) => code !== 'QUEUE_FULL' && code !== 'DEADLINE_EXCEEDED');
  const parts = other.map(([code, n]) => `${code}×${n}`);
  if (s.droppedByClient) parts.push(`client-cap×${s.droppedByClient}`);
  return parts.join(' ') || '0';
}

const yes = (met: boolean) => (met ? 'met' : 'NOT met');

/** Which ratio target a model is held to: the default model's, a ResNet50-sized graph's, or unknown (both shown). */
function targetModel(model: string): 'default' | 'resnet50' | 'unknown' {
  if (model === PREFERRED_DEFAULT_MODEL) return 'default';
  return /resnet50/i.test(model) ? 'resnet50' : 'unknown';
}

function targetsTable(r: BenchResult): Table | undefined {
  const t = r.targets;
  if (!t || (!t.floor && !t.ceiling && !t.overload)) return undefined;
  const rows = [['target (issue 13)', 'measured', 'verdict']];
  if (t.floor) rows.push(['p50 at one client ≤ latency floor + 3 ms', `${ms(t.floor.p50AtOneClientMs)} ms vs floor ${ms(t.floor.floorMs)} ms (${signed(t.floor.marginMs, ms)})`, yes(t.floor.met)]);
  if (t.ceiling) {
    const measured = `${fmt(t.ceiling.peak, 1)} of ${fmt(t.ceiling.ceiling, 1)} images/s = ${pct(100 * t.ceiling.ratio)}`;
    // Each ratio target is for one model; the other's verdict would only mislead.
    const kind = targetModel(r.model);
    const verdict = (met: boolean, applies: boolean) => (applies ? yes(met) : 'n/a (other model)');
    rows.push(
      ['served peak ≥ 95% of the ceiling (ResNet50-sized graph)', measured, verdict(t.ceiling.met95, kind !== 'default')],
      ['served peak ≥ 85% of the ceiling (default model)', measured, verdict(t.ceiling.met85, kind !== 'resnet50')],
    );
  }
  if (t.overload) {
    rows.push([`overload (${t.overload.step}): no 504, none late, accepted p99 ≤ 1.5 × p50`, `${t.overload.rejected} × 503 (p99 ${ms(t.overload.rejectedP99Ms)} ms), accepted p99/p50 ${fmt(t.overload.acceptedP99OverP50, 2)}${t.overload.late ? ', some late or 504' : ''}`, yes(t.overload.met)]);
  }
  return { title: 'Targets', intro: 'Which target applies depends on the model: the 95% one is for ResNet50-sized graphs, the 85% one for the default model with the bench\'s image mix. The overhead target (≤ 2 ms) is measured by --overhead.', rows };
}

function tables(r: BenchResult): Table[] {
  const out: Table[] = [];
  const targets = targetsTable(r);
  if (targets) out.push(targets);
  const c = r.ceiling;
  if (c) {
    out.push({
      title: 'Ceiling (model alone, in-process)',
      intro:
        `Same Classifier and inference pool as the workers (${c.plan.lanes} lanes × ${c.plan.laneThreads} ORT thread(s), solo session ${c.plan.soloThreads}), images one at a time on a lane, then ${c.plan.concurrency} in flight. ` +
        `Ceiling = ${c.cores} cores / core-seconds per image, the lower of the two (here: ${c.ceilingFrom ?? 'one at a time'}). Other work on the machine meanwhile: ${pct(c.sequential.othersBusyPct)} of all cores.`,
      rows: [
        ['measure', 'value'],
        ['images measured one at a time', String(c.sequential.images)],
        ['one at a time, core-ms per image', ms(c.sequential.coreSecondsPerImage * 1000)],
        [`ceiling images/s (cores / core-s per image, ${c.ceilingFrom ?? 'one at a time'})`, fmt(c.imagesPerSecond, 1)],
        ['one at a time, images/s (wall)', fmt(c.sequential.imagesPerSecondWall, 1)],
        ...(c.parallel
          ? [[`${c.parallel.concurrency} in flight in one process, images/s`, fmt(c.parallel.imagesPerSecond, 1)], [`${c.parallel.concurrency} in flight, core-ms per image`, ms(c.parallel.coreSecondsPerImage * 1000)]]
          : []),
        ['latency floor: p50 of preprocess + inference, one image on every core (solo session), ms', ms(c.floorMs)],
        ['single image latency p50 on a lane, ms', ms(c.sequential.latencyMs.p50)],
        ['preprocess p50, ms', ms(c.sequential.preprocessMs.p50)],
        ['inference p50, ms', ms(c.sequential.inferenceMs.p50)],
      ],
    });
    out.push({
      title: 'Ceiling per image (p50, ms)',
      rows: [
        ['image', 'size', 'preprocess', 'inference on a lane', 'inference on the solo session'],
        ...c.perImage.map((p) => [p.name, `${p.width}×${p.height}`, ms(p.preprocessP50Ms), ms(p.inferenceP50Ms), ms(p.soloInferenceP50Ms)]),
      ],
    });
  }
  if (r.healthz) {
    out.push({
      title: 'HTTP floor',
      intro: 'GET /healthz round trips from this client: what any request costs before the service does anything.',
      rows: [
        ['requests', 'p50 ms', 'p90 ms', 'p99 ms'],
        [String(r.healthz.count), ms(r.healthz.p50), ms(r.healthz.p90), ms(r.healthz.p99)],
      ],
    });
  }
  const steps = r.steps;
  if (steps.length) {
    out.push({
      title: 'Load steps',
      intro:
        'Latency of successful requests, from when each request was due (open loop: its scheduled time). served = computed answers per second inside the step window. ' +
        'Answers from the result cache are counted apart (cache hits) and in no other column.',
      rows: [
        ['step', 'offered/s', 'served/s', 'served/ceiling', 'p50 ms', 'p90 ms', 'p99 ms', 'max ms', 'ok', 'cache hits', '503', '504', 'other errors'],
        ...steps.map((s) => [
          s.label,
          fmt(s.offeredRate, 1),
          fmt(s.throughput, 1),
          s.servedOverCeiling === undefined ? '–' : pct(s.servedOverCeiling * 100),
          ms(s.latencyOk.p50),
          ms(s.latencyOk.p90),
          ms(s.latencyOk.p99),
          ms(s.latencyOk.max),
          String(s.ok),
          String(s.cacheHits.count),
          String(s.byStatus['503'] ?? 0),
          String(s.byStatus['504'] ?? 0),
          errorsCell(s),
        ]),
      ],
    });
    out.push({
      title: 'Where the time goes (successful /v1/predict, mean ms)',
      intro:
        'queue: enqueued → a worker took it. overhead: server total − queue − preprocess − inference (upload, storage, Redis round trips, result delivery). ' +
        'client extra: client latency − server total (HTTP before the handler, loopback, response, client).',
      rows: [
        ['step', 'queue', 'preprocess', 'inference', 'overhead', 'server total', 'client extra', 'overhead p50', 'total p50'],
        ...steps.map((s) =>
          s.split
            ? [s.label, ms(s.split.queue.mean), ms(s.split.preprocess.mean), ms(s.split.inference.mean), ms(s.split.overhead.mean), ms(s.split.serverTotal.mean), ms(s.split.clientExtra.mean), ms(s.split.overhead.p50), ms(s.split.serverTotal.p50)]
            : [s.label, '–', '–', '–', '–', '–', '–', '–', '–'],
        ),
      ],
    });
    if (steps.some((s) => s.procs)) {
      out.push({
        title: 'Processes',
        intro: 'CPU in % of one core (200% = two cores). server core-ms/image = (api + workers CPU) / successful images; compare with the ceiling\'s core-ms per image. redis may be shared with other users.',
        rows: [
          ['step', 'api CPU', 'api RSS MB', 'workers CPU', 'workers RSS MB', 'redis CPU', 'client CPU', 'machine busy', 'server core-ms/image'],
          ...steps.map((s) => {
            const p = s.procs;
            return [
              s.label,
              pct(p?.api?.cpuPct),
              mb(p?.api?.rssMaxMB),
              pct(p?.workersTotal?.cpuPct),
              mb(p?.workersTotal?.rssMaxMB),
              pct(p?.redis?.cpuPct),
              pct(p?.client.cpuPct),
              pct(p?.machineBusyPct),
              s.coreSecondsPerImage === undefined ? '–' : ms(s.coreSecondsPerImage * 1000),
            ];
          }),
        ],
      });
    }
    const open = steps.filter((s) => s.kind === 'open');
    if (open.length) {
      out.push({
        title: 'Open loop: overload behaviour',
        intro: `Deadline (REQUEST_TIMEOUT_MS) ${steps[0]!.deadline.deadlineMs} ms. "over deadline": answered later than the deadline after being sent.`,
        rows: [
          ['step', '503', '503 p50 ms', '503 p99 ms', 'Retry-After', '504', 'over deadline', 'client timeouts', 'accepted p50', 'accepted p99', 'p99/p50', 'send lag p99'],
          ...open.map((s) => [
            s.label,
            String(s.rejected.count),
            ms(s.rejected.latency.p50),
            ms(s.rejected.latency.p99),
            s.rejected.count ? s.rejected.retryAfter.join(',') : '–',
            String(s.deadline.status504),
            String(s.deadline.overDeadline),
            String(s.deadline.clientTimeouts),
            ms(s.latencyOk.p50),
            ms(s.latencyOk.p99),
            fmt(s.acceptedTailRatio, 1),
            ms(s.sendLagP99Ms),
          ]),
        ],
      });
    }
  }
  return out;
}

function mdTable(rows: string[][]): string {
  const [head, ...body] = rows;
  if (!head) return '';
  const esc = (c: string) => c.replace(/\|/g, '\\|');
  return [`| ${head.map(esc).join(' | ')} |`, `|${head.map((_, i) => (i === 0 ? ' --- ' : ' ---: ')).join('|')}|`, ...body.map((r) => `| ${r.map(esc).join(' | ')} |`)].join('\n');
}

function headline(r: BenchResult): string[] {
  const lines: string[] = [];
  if (r.ceiling) {
    const { coreSecondsPerImage = r.ceiling.sequential.coreSecondsPerImage, ceilingFrom = 'one at a time' } = r.ceiling;
    lines.push(`ceiling ${fmt(r.ceiling.imagesPerSecond, 1)} images/s (${ms(coreSecondsPerImage * 1000)} core-ms/image on ${r.ceiling.cores} cores, ${ceilingFrom})`);
  }
  if (r.peak) lines.push(`closed-loop peak ${fmt(r.peak.throughput, 1)} images/s at ${r.peak.step}${r.ceiling ? ` (${pct((100 * r.peak.throughput) / r.ceiling.imagesPerSecond)} of the ceiling)` : ''}`);
  const s = r.saturation;
  if (s) {
    lines.push(
      `at ${s.step}: ${s.rejected} rejected (503 p99 ${ms(s.rejectedP99Ms)} ms), ${s.status504} × 504, ` +
        `${s.anyOverDeadline ? `${s.overDeadline} answered after the deadline` : 'none answered after the deadline'}, accepted p99/p50 = ${fmt(s.acceptedP99OverP50, 1)}`,
    );
  }
  return lines;
}

/** The whole report as Markdown; `svgFile` is embedded when given (a path relative to the .md). */
export function renderMarkdown(r: BenchResult, svgFile?: string): string {
  const parts = [
    `# Bench: ${r.model}, ${r.startedAt.slice(0, 16).replace('T', ' ')} UTC${r.quick ? ' (quick sanity run)' : ''}`,
    '',
    machineLine(r.machine),
    `- target: ${r.target.url}${r.target.startedByBench ? ` (started by the bench, ${r.target.mode} mode)` : ' (already running)'}, ${r.target.endpoint}`,
    `- settings: ${Object.entries(r.config)
      .map(([k, v]) => `${k}=${v}`)
      .join(', ')}`,
    `- images (${r.images.length}, sent round robin): ${r.images.map((i) => `${i.name} ${i.width}×${i.height}`).join(', ')}`,
    `- run took ${fmt(r.elapsedS, 0)} s`,
    '',
    ...headline(r).map((l) => `**${l}**  `),
    '',
  ];
  if (svgFile) parts.push(`![latency p50/p99 vs throughput](${svgFile})`, '');
  for (const t of tables(r)) {
    parts.push(`## ${t.title}`, '');
    if (t.intro) parts.push(t.intro, '');
    parts.push(mdTable(t.rows), '');
  }
  if (r.notes.length) parts.push('## Notes', '', ...r.notes.map((n) => `- ${n}`), '');
  return parts.join('\n');
}

/** The tables as plain text for the terminal. */
export function renderText(r: BenchResult): string {
  const parts: string[] = [];
  for (const t of tables(r)) parts.push('', `== ${t.title} ==`, textTable(t.rows));
  parts.push('', ...headline(r));
  if (r.notes.length) parts.push('', 'notes:', ...r.notes.map((n) => `  - ${n}`));
  return parts.join('\n');
}

/** Writes a file atomically (a reader never sees half a report). */
export async function writeAtomic(path: string, content: string): Promise<void> {
  const tmp = `${path}.tmp`;
  await writeFile(tmp, content);
  await rename(tmp, path);
}

/** Writes `<stem>.json`, `<stem>.md` and (when given) `<stem>.svg` into `dir`; returns their paths. */
export async function writeResults(dir: string, stem: string, result: BenchResult, svg?: string): Promise<string[]> {
  await mkdir(dir, { recursive: true });
  const files = [join(dir, `${stem}.json`), join(dir, `${stem}.md`)];
  await writeAtomic(files[0]!, JSON.stringify(result, null, 2) + '\n');
  if (svg !== undefined) {
    files.push(join(dir, `${stem}.svg`));
    await writeAtomic(files[2]!, svg);
  }
  await writeAtomic(files[1]!, renderMarkdown(result, svg !== undefined ? `${stem}.svg` : undefined));
  return files;
}

/** Writes the scaling measurement: `<stem>.json` (everything) and `<stem>.md` (its tables). */
/** The report's machine line: what the figures were measured on. */
function machineLine(m: BenchResult['machine']): string {
  const load = (l: number[]) => l.map((v) => v.toFixed(2)).join(' ');
  return `- machine: ${m.cpuModel}, ${m.cores} cores, ${fmt(m.memoryGB, 1)} GB, Node ${m.node}, Linux ${m.kernel}, load average at start ${load(m.loadavgAtStart)}${m.loadavgAtEnd ? `, at the end ${load(m.loadavgAtEnd)}` : ''}`;
}

/** `--overhead --out <dir>`: the printed report, with the machine it was measured on, as `<stem>.md`. */
export async function writeOverheadResult(dir: string, stem: string, doc: { startedAt: string; model: string; machine: BenchResult['machine'] }, text: string): Promise<string> {
  await mkdir(dir, { recursive: true });
  const md = join(dir, `${stem}.md`);
  await writeAtomic(md, [`# Serving overhead: ${doc.model}, ${doc.startedAt.slice(0, 16).replace('T', ' ')} UTC`, '', machineLine(doc.machine), '', '```text', text.trim(), '```', ''].join('\n'));
  return md;
}

export async function writeScalingResults(dir: string, stem: string, doc: { startedAt: string; model: string; machine: BenchResult['machine'] }, tableList: Table[]): Promise<string[]> {
  await mkdir(dir, { recursive: true });
  const json = join(dir, `${stem}.json`);
  const md = join(dir, `${stem}.md`);
  await writeAtomic(json, JSON.stringify(doc, null, 2) + '\n');
  const parts = [
    `# Scaling: ${doc.model}, ${doc.startedAt.slice(0, 16).replace('T', ' ')} UTC`,
    '',
    machineLine(doc.machine),
    '',
  ];
  for (const t of tableList) {
    parts.push(`## ${t.title}`, '');
    if (t.intro) parts.push(t.intro, '');
    parts.push(mdTable(t.rows), '');
  }
  await writeAtomic(md, parts.join('\n'));
  return [json, md];
}
