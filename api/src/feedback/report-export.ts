/**
 * The exports of the review page: reports as CSV or JSONL, and a dataset archive for retraining
 * (`<label>/<md5>.<ext>`, a tar file that `tar -xf` and every training tool's folder loader read).
 * All three are streamed: memory stays flat whatever the number of reports.
 */
import { createReadStream } from 'node:fs';
import { stat } from 'node:fs/promises';
import type { ListedReport } from './report-record.ts';
import { writeTarEntry, TAR_END } from './tar-writer.ts';

const CSV_COLUMNS = ['time', 'id', 'image', 'model', 'model_version', 'prediction', 'score', 'label', 'reviewed', 'report'] as const;

/**
 * One CSV field. Text that a spreadsheet would run as a formula (a label starting with `=`, `+`, `-`,
 * `@`) gets a leading `'`, as OWASP advises: labels are typed by anyone.
 */
function csvField(value: string | number | boolean | undefined): string {
  if (value === undefined) return '';
  let text = String(value);
  if (typeof value === 'string' && /^[=+\-@\t\r]/.test(text)) text = `'${text}`;
  return /[",\r\n]/.test(text) ? `"${text.replace(/"/g, '""')}"` : text;
}

export async function* csvLines(reports: AsyncIterable<ListedReport>): AsyncGenerator<string> {
  yield CSV_COLUMNS.join(',') + '\r\n';
  for await (const r of reports) {
    const row = [r.time, r.id, r.image, r.model, r.modelVersion, r.prediction, r.score, r.label, r.reviewed, r.report];
    yield row.map(csvField).join(',') + '\r\n';
  }
}

export async function* jsonLines(reports: AsyncIterable<ListedReport>): AsyncGenerator<string> {
  for await (const r of reports) yield JSON.stringify(r) + '\n';
}

/** A label as a folder name: no path separators, control or reserved characters, no leading dot, at most 100 bytes. */
export function labelFolder(label: string): string | undefined {
  let name = label.replace(/[/\\:*?"<>|\u0000-\u001f\u007f]/g, '_').replace(/^\.+/, '_').trim();
  while (Buffer.byteLength(name) > 100) name = [...name].slice(0, -1).join('');
  return name || undefined;
}

/**
 * The labelled reports' images, one entry per label and image: `<label>/<md5>.<ext>`. Reports
 * without a label (nothing to learn from) and images no longer stored are left out.
 */
export async function* datasetTar(reports: AsyncIterable<ListedReport>, pathOf: (image: string) => string): AsyncGenerator<Buffer> {
  const written = new Set<string>();
  for await (const r of reports) {
    const folder = r.label && r.image ? labelFolder(r.label) : undefined;
    if (!folder || !r.image) continue;
    const entry = `${folder}/${r.image}`;
    if (written.has(entry)) continue;
    const path = pathOf(r.image);
    const info = await stat(path).catch(() => undefined);
    if (!info?.isFile()) continue;
    written.add(entry);
    yield* writeTarEntry(folder, r.image, info.size, info.mtimeMs, createReadStream(path, { start: 0, end: Math.max(0, info.size - 1) }));
  }
  yield TAR_END;
}
