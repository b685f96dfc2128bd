/**
 * `pull`: fetches a catalog model and its labels, verifies both, and installs the folder atomically.
 * Everything is staged in a hidden folder inside modelsDir (same file system, so the final move is a
 * rename) that is removed whatever happens: a failed pull leaves modelsDir as it was.
 */
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { makeDirs } from '@icls/lib/make-dirs';
import { redactUrl } from '@icls/lib/redact-url';
import { assertReplaceable, installModel } from '../repository/model-repository.ts';
import { CATALOG, findCatalogEntry, resolveFileUrl, type CatalogEntry, type RemoteFile } from './catalog.ts';
import { downloadFile, type DownloadOptions, type DownloadProgress, type DownloadRetry } from './download.ts';

/** Progress of one of the two files a pull downloads. */
export interface PullProgress extends DownloadProgress {
  model: string;
  file: 'labels' | 'model';
}

export interface PullOptions {
  /**
   * A mirror of the zoo's tree that replaces the catalog's host (for tests, air-gapped sites, caches).
   * Defaults to the env variable MODELS_MIRROR_URL.
   */
  baseUrl?: string;
  onProgress?: (progress: PullProgress) => void;
  fetchImpl?: typeof fetch;
  /** Defaults to the built-in catalog; tests pass entries of their own. */
  catalog?: readonly CatalogEntry[];
  /** Cancels the pull (e.g. on Ctrl-C); the staging folder is removed. */
  signal?: AbortSignal;
  /** Retry tuning passed to every download. */
  download?: Pick<DownloadOptions, 'maxAttempts' | 'retryDelayMs' | 'stallTimeoutMs'>;
  /** Told before each wait between two attempts at a file. */
  onRetry?: (retry: DownloadRetry & { file: PullProgress['file'] }) => void;
}

/** The labels file does not have one line per output class; installing it would mislabel every answer. */
export class LabelsCountError extends Error {
  override name = 'LabelsCountError';
}

/**
 * Downloads, verifies and installs catalog model `name` into `modelsDir/<name>/`, replacing an
 * existing folder of that name. Returns the installed folder.
 * @throws UnknownCatalogEntryError, the download errors (HttpStatusError, NetworkError,
 *   ChecksumMismatchError, SizeMismatchError, DownloadCancelledError), LabelsCountError.
 */
export async function pullModel(name: string, modelsDir: string, opts: PullOptions = {}): Promise<string> {
  const entry = findCatalogEntry(opts.catalog ?? CATALOG, name);
  const mirror = opts.baseUrl ?? (process.env.MODELS_MIRROR_URL || undefined);
  // Before a download of up to hundreds of MB that could not be installed anyway.
  await assertReplaceable(join(modelsDir, name));
  await makeDirs(modelsDir);
  // Dot-prefixed so listModels and the workers never mistake it for a model.
  const staging = await mkdtemp(join(modelsDir, `.pull-${name}-`));
  try {
    // Labels first: they are small, so a wrong mirror or a 404 shows up before a long model download.
    const labelsPath = join(staging, 'labels.download');
    await fetchVerified(entry, 'labels', entry.labels, labelsPath, mirror, opts);
    const labels = await readLabelLines(labelsPath, entry);

    const modelPath = join(staging, entry.config.file);
    await fetchVerified(entry, 'model', entry.model, modelPath, mirror, opts);

    return await installModel(modelsDir, {
      config: withProvenance(entry, mirror),
      labels,
      onnx: { path: modelPath },
    }, { signal: opts.signal });
  } finally {
    await rm(staging, { recursive: true, force: true });
  }
}

async function fetchVerified(
  entry: CatalogEntry,
  which: PullProgress['file'],
  file: RemoteFile,
  target: string,
  mirror: string | undefined,
  opts: PullOptions,
): Promise<void> {
  await downloadFile({
    url: resolveFileUrl(file, mirror),
    target,
    expectedSize: file.sizeBytes,
    expectedSha256: file.sha256,
    fetchImpl: opts.fetchImpl,
    signal: opts.signal,
    ...opts.download,
    onProgress: opts.onProgress && ((p) => opts.onProgress!({ ...p, model: entry.name, file: which })),
    onRetry: opts.onRetry && ((r) => opts.onRetry!({ ...r, file: which })),
  });
}

/** One label per non-empty line, checked against the model's class count. */
async function readLabelLines(path: string, entry: CatalogEntry): Promise<string[]> {
  const lines = (await readFile(path, 'utf8')).split(/\r?\n/).filter((line) => line.trim() !== '');
  if (lines.length !== entry.classes) {
    throw new LabelsCountError(
      `labels for ${entry.name} have ${lines.length} lines but the model has ${entry.classes} classes (${entry.labels.url})`,
    );
  }
  return lines;
}

/** The catalog's config with provenance saying where the bytes came from and what they hash to. */
function withProvenance(entry: CatalogEntry, mirror: string | undefined): CatalogEntry['config'] {
  const base = entry.config.provenance;
  const notes = [base?.notes, mirror ? `Downloaded through the mirror ${redactUrl(mirror)}.` : undefined].filter(Boolean).join(' ');
  return {
    ...entry.config,
    provenance: {
      source: base?.source ?? entry.model.url,
      sha256: entry.model.sha256,
      license: base?.license ?? entry.license,
      ...(notes ? { notes } : {}),
    },
  };
}
