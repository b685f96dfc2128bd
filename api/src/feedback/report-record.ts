/**
 * A feedback report as a structured record, and the events of the report log
 * (`<FEEDBACK_DIR>/reports.jsonl`): one JSON object per line, a report or a change of its review state.
 */
import { createHash } from 'node:crypto';
import { STORED_NAME } from '../upload/allowed-file.ts';
import { MODEL_NAME_MAX } from '../routes/request-params.ts';

/** Longest label a user may give (characters, after trimming); longer ones are cut. */
export const LABEL_MAX = 200;

export interface ReportRecord {
  /** Same image, model, label and report line → same id: a report is stored once. */
  id: string;
  /** ISO 8601, UTC. */
  time: string;
  /** The stored upload, `<md5>.<ext>`, when the report names one. */
  image?: string;
  model?: string;
  modelVersion?: string;
  prediction?: string;
  score?: number;
  /** What the user says the image really shows. */
  label?: string;
  /** The line as stored in the original's `feedback` file. */
  report: string;
}

export interface ListedReport extends ReportRecord {
  reviewed: boolean;
}

export type ReportEvent = ({ type: 'report' } & ReportRecord) | { type: 'review'; id: string; reviewed: boolean; time: string };

/** What a client sends: the original's report string, plus, from the page, the image, model and label. */
export interface ReportInput {
  report: string;
  image?: string;
  model?: string;
  label?: string;
}

/** What the service itself knows of the prediction that was reported (it trusts this over the report text). */
export interface KnownResult {
  prediction: string;
  score: number;
  modelVersion: string;
  /** The model that answered, for a report that named none (recorded; the id stays the report's as sent). */
  model?: string;
}

export const REPORT_ID = /^[0-9a-f]{32}$/;

/** The original page's report: `{'filename': '<name>', 'prediction': '<class>', 'score': <score> }`. */
const ORIGINAL_REPORT = /^\{'filename': '([^']*)', 'prediction': '([^']*)', 'score': ([-+0-9.eE]+) ?\}$/;

export function parseOriginalReport(line: string): { image?: string; prediction: string; score?: number } | undefined {
  const m = ORIGINAL_REPORT.exec(line);
  if (!m) return undefined;
  const score = Number(m[3]);
  return { image: STORED_NAME.test(m[1]!) ? m[1] : undefined, prediction: m[2]!, score: Number.isFinite(score) ? score : undefined };
}

/** A label as stored: one line of plain text, spaces collapsed, at most LABEL_MAX characters. */
export function cleanLabel(label: string | undefined): string | undefined {
  const text = (label ?? '').replace(/[\u0000-\u001f\u007f-\u009f\u2028\u2029]/g, ' ').replace(/\s+/g, ' ').trim();
  return text ? [...text].slice(0, LABEL_MAX).join('') : undefined;
}

/** The record for a report line (already escaped to one line), from what the client sent and what the service knows. */
export function toRecord(line: string, input: ReportInput, known: KnownResult | undefined, now: Date): ReportRecord {
  const parsed = parseOriginalReport(line);
  const image = input.image && STORED_NAME.test(input.image) ? input.image : parsed?.image;
  const model = input.model && input.model.length <= MODEL_NAME_MAX ? input.model : undefined;
  const label = cleanLabel(input.label);
  const id = createHash('sha256').update(JSON.stringify([line, image ?? '', model ?? '', label ?? ''])).digest('hex').slice(0, 32);
  return {
    id,
    time: now.toISOString(),
    ...(image ? { image } : {}),
    ...(model ? { model } : known?.model ? { model: known.model } : {}),
    ...(known ? { modelVersion: known.modelVersion } : {}),
    ...(known ? { prediction: known.prediction, score: known.score } : parsed ? { prediction: parsed.prediction, score: parsed.score } : {}),
    ...(label ? { label } : {}),
    report: line,
  };
}

/** One line of the report log, or undefined for a line that is not one of ours (never fatal: the log is append-only). */
export function parseEvent(line: string): ReportEvent | undefined {
  try {
    const event = JSON.parse(line) as ReportEvent;
    if (event && typeof event === 'object' && (event.type === 'report' || event.type === 'review') && typeof event.id === 'string') return event;
  } catch (err) {
    if (!(err instanceof SyntaxError)) throw err;
  }
  return undefined;
}
