/**
 * A job as it sits in its model's stream: the fields `job` (the JobData as JSON, without its bytes),
 * `replyTo` (the api's reply channel), `id` (to find it without parsing) and, when the image travels
 * with the job, `image` (its raw bytes: no base64, no JSON around a megabyte). Workers read entries
 * as Buffers (ioredis' callBuffer), so the image arrives byte for byte where a UTF-8 string would
 * mangle it; the other fields are text.
 */
import type { JobData } from '../job-contract.ts';
import { ID_FIELD, IMAGE_FIELD, JOB_FIELD, REPLY_TO_FIELD } from './redis-keys.ts';

export interface StreamEntry {
  id: string;
  /** Field → value; empty when the entry was deleted meanwhile (XCLAIM answers such entries too). */
  fields: Map<string, Buffer>;
}

/** The stream fields of a job, in XADD order (field, value, …); the image last, as bytes. */
export function jobFields(job: JobData, replyTo: string): (string | Buffer)[] {
  const { imageData, ...rest } = job;
  const fields: (string | Buffer)[] = [JOB_FIELD, JSON.stringify(rest), REPLY_TO_FIELD, replyTo, ID_FIELD, job.id];
  if (imageData) fields.push(IMAGE_FIELD, imageData);
  return fields;
}

type RawEntry = [Buffer, Buffer[] | null];

function entryOf([id, flat]: RawEntry): StreamEntry {
  const fields = new Map<string, Buffer>();
  for (let i = 0; flat && i + 1 < flat.length; i += 2) fields.set(flat[i]!.toString(), flat[i + 1]!);
  return { id: id.toString(), fields };
}

/** An XREADGROUP reply read with callBuffer: per stream key, its entries. */
export function parseReadReply(raw: unknown): [key: string, entries: StreamEntry[]][] {
  return ((raw as [Buffer, RawEntry[]][] | null) ?? []).map(([key, entries]) => [key.toString(), entries.map(entryOf)]);
}

/** An XCLAIM reply read with callBuffer. */
export function parseClaimReply(raw: unknown): StreamEntry[] {
  return ((raw as RawEntry[] | null) ?? []).filter((e) => Array.isArray(e)).map(entryOf);
}

/** A text field of the entry. */
export const textField = (entry: StreamEntry, name: string): string | undefined => entry.fields.get(name)?.toString();

/** The job an entry holds, with its image bytes when they travel with it; undefined when unreadable. */
export function jobOf(entry: StreamEntry): JobData | undefined {
  let job: JobData;
  try {
    job = JSON.parse(textField(entry, JOB_FIELD) ?? '') as JobData;
  } catch {
    return undefined; // the caller logs and drops the entry
  }
  if (typeof job?.id !== 'string') return undefined;
  const image = entry.fields.get(IMAGE_FIELD);
  return image ? { ...job, imageData: image } : job;
}
