/**
 * The exports of the review page: reports as CSV or JSONL, and a dataset archive for retraining
 * (`<label>/<md5>.<ext>`, a tar file that `tar -xf` and every training tool's folder loader read).
 * The reports are streamed: memory stays flat whatever their number (the archive keeps one entry per
 * labelled image while it sorts out their labels).
 */
import { createReadStream } from 'node:fs';
import { stat } from 'node:fs/promises';
import { whenMissing } from '@icls/lib/fs-errors';
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
 * The labelled reports' images, each once: `<label>/<md5>.<ext>`. An image reported with several labels
 * is filed under its newest report's (a later report corrects an earlier one, and an image in two class
 * folders is a contradiction training tools take as given). Labels that differ only in case, width or
 * spacing (`Cat`, `cat`, `ＣＡＴ`) are one class, its folder named by the spelling most of its images
 * have (the newest on a tie). Reports without a label (nothing to learn from) and images no longer
 * stored are left out. Holds one entry per stored image reported with a label: report names are not
 * checked against the uploads, and made-up ones must not grow it.
 */
export async function* datasetTar(reports: AsyncIterable<ListedReport>, pathOf: (image: string) => string): AsyncGenerator<Buffer> {
  const labelOf = new Map<string, string>();
  for await (const r of reports) {
    const spelling = r.label?.normalize('NFKC').replace(/\s+/g, ' ').trim();
    if (!spelling || !r.image) continue;
    if (!labelOf.has(r.image) && !(await isFile(pathOf(r.image)))) continue;
    // Oldest first: the last label seen is the newest. Deleted first, so the archive's order is the labels' order.
    labelOf.delete(r.image);
    labelOf.set(r.image, spelling);
  }
  const folders = folderPerClass(labelOf.values());
  for (const [image, spelling] of labelOf) {
    const folder = folders.get(spelling.toLowerCase());
    if (!folder) continue;
    const path = pathOf(image);
    const info = await stat(path).catch(whenMissing(undefined));
    if (!info?.isFile()) continue; // swept while the archive was being written
    yield* writeTarEntry(folder, image, info.size, info.mtimeMs, createReadStream(path, { start: 0, end: Math.max(0, info.size - 1) }));
  }
  yield TAR_END;
}

const isFile = (path: string): Promise<boolean> => stat(path).then((info) => info.isFile(), whenMissing(false));

/** Per class (a label lower-cased), the folder: the spelling used most, the newest of equals (`spellings` come oldest first). */
function folderPerClass(spellings: Iterable<string>): Map<string, string | undefined> {
  const counts = new Map<string, Map<string, number>>();
  for (const spelling of spellings) {
    const cls = spelling.toLowerCase();
    const seen = counts.get(cls) ?? new Map<string, number>();
    const n = (seen.get(spelling) ?? 0) + 1;
    seen.delete(spelling); // re-inserted last: of equal counts, the newest is found last
    seen.set(spelling, n);
    counts.set(cls, seen);
  }
  const folders = new Map<string, string | undefined>();
  for (const [cls, seen] of counts) {
    let best: [string, number] | undefined;
    for (const entry of seen) if (!best || entry[1] >= best[1]) best = entry;
    folders.set(cls, best && labelFolder(best[0]));
  }
  return folders;
}
